"""Refresh a cursor-driven view only while it can be seen.

The read-model views (graph, registry, analytics) sit in tabs and docks; most of the time most of
them are hidden. A hidden view that re-queried and redrew on every cursor move would spend the GUI
thread (and, through its background reads, the GIL) on pictures nobody sees. `RefreshWhenShown`
runs the view's refresh at once when the view is visible and otherwise only remembers that the
view is out of date; the next time the view is shown (a tab made current, a dock raised or
opened) it refreshes once, to the cursor as it is then.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from explorer.ui.context import AppContext
from explorer.ui.projection_service import service_for


class RefreshWhenShown(QObject):
    """Gate a view's refresh on its visibility.

    Attributes:
        stale: a refresh was asked for while the view was hidden; it runs when the view is shown.
        skipped: how many refreshes were not run because the view was hidden (for tests and logs).
    """

    def __init__(self, *, widget: QWidget, refresh: Callable[[], None], context: AppContext | None = None) -> None:
        super().__init__(widget)
        self._widget = widget
        self._refresh = refresh
        self.stale = False
        self.skipped = 0
        widget.installEventFilter(self)
        if context is not None:  # a read-model view: out of date when the cursor moves or the models advance
            context.position_changed.connect(self.request)
            service_for(context).models_advanced.connect(self.request)

    def visible(self) -> bool:
        """Whether the view can be seen now (False once it is destroyed)."""
        return isValid(self._widget) and self._widget.isVisible()

    def request(self, *_args: object) -> None:
        """Refresh now if the view is visible (a hidden tab or dock is not), else when it is shown.

        Takes and ignores a signal's arguments, so signals can be connected to it directly."""
        if not isValid(self._widget):
            return  # a signal of a longer-lived object (the context) reached a view being destroyed
        if self._widget.isVisible():
            self.stale = False
            self._refresh()
        else:
            self.stale = True
            self.skipped += 1

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        # A Show event arrives when the widget has become visible (tab made current, dock raised).
        if watched is self._widget and event.type() == QEvent.Type.Show and self.stale:
            self.stale = False
            self._refresh()
        return False
