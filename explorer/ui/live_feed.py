"""Following appends made by other processes while the app is open.

A QTimer asks `explorer.live.ChangeWatch` a few times a second (PRAGMA data_version: no table is
read) and moves `context.head` when the store grew; every view that shows the head (events
table, timeline, read models, graph) updates on `head_changed`. The as-of cursor stays where
the user put it, unless "follow head" is on.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from explorer.live import ChangeWatch
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext

log = logging.getLogger(__name__)

INTERVAL_MS = 200
FOLLOW_HEAD_KEY = "live/follow_head"


def _settings() -> object | None:
    """The app's Settings; None when they cannot be read."""
    from explorer.ui import settings as app_settings

    try:
        return app_settings.Settings()
    except OSError:
        return None


class LiveFeed(QObject):
    """Moves the context's head when another process appended.

    Attributes:
        context: the app context it updates.
        follow_head: when True, the as-of cursor moves to the head whenever the store grows.
        interval_ms: how often it looks.

    Signals:
        grew(int, int): the head moved from the first to the second position.
        follow_head_changed(bool): the "follow head" toggle changed.
    """

    grew = Signal(int, int)
    follow_head_changed = Signal(bool)

    def __init__(self, *, context: AppContext, interval_ms: int = INTERVAL_MS, follow_head: bool | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else context)
        self.context = context
        self.interval_ms = interval_ms
        self._settings = _settings()
        if follow_head is None:
            follow_head = bool(self._settings.get(FOLLOW_HEAD_KEY)) if self._settings is not None else False  # type: ignore[attr-defined]
        self._follow_head = follow_head
        self._watch: ChangeWatch | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        context.store_changed.connect(self._on_store_changed)
        self._on_store_changed(context.store)

    # -- one per context ----------------------------------------------------------------------

    @classmethod
    def for_context(cls, context: AppContext) -> LiveFeed:
        """The context's live feed, made on first use (views share one timer)."""
        feed = context.findChild(LiveFeed, "live-feed")
        if feed is None:
            feed = cls(context=context)
            feed.setObjectName("live-feed")
        return feed

    # -- follow head ------------------------------------------------------------------------------

    @property
    def follow_head(self) -> bool:
        return self._follow_head

    def set_follow_head(self, on: bool) -> None:
        if on == self._follow_head:
            return
        self._follow_head = on
        if self._settings is not None:
            self._settings.set(FOLLOW_HEAD_KEY, on)  # type: ignore[attr-defined]
        if on:
            self.context.set_position(self.context.head)
        self.follow_head_changed.emit(on)

    # -- watching ----------------------------------------------------------------------------------

    def _on_store_changed(self, store: SQLiteEventStore | None) -> None:
        self._timer.stop()
        self._watch = None
        if store is None or getattr(store, "immutable", False):
            return  # an immutable store has no other writer by definition
        try:
            self._watch = ChangeWatch(store=store)
        except Exception:  # noqa: BLE001 - a store that cannot be watched is still browsable
            log.exception("cannot watch %s for appends", store.path)
            return
        self._timer.start()

    def check(self) -> int | None:
        """Look once; return the new head when it moved (the timer calls this)."""
        watch = self._watch
        if watch is None or watch.store is not self.context.store:
            return None
        growth = watch.poll()
        if growth is None:
            # Someone else (the main window's own poll) may have moved the head already.
            return None
        context = self.context
        context.set_head(growth.new_head)
        if self._follow_head:
            context.set_position(growth.new_head)
        self.grew.emit(growth.old_head, growth.new_head)
        return growth.new_head
