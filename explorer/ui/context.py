"""The app's shared state: the open store, the global as-of cursor and the selection.

Every view takes an AppContext and listens to its signals; none talks to another view directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from explorer.store.sqlite import SQLiteEventStore


@dataclass(frozen=True, slots=True)
class PendingPreview:
    """A command's optimistic preview, for every view to mark as pending.

    Attributes:
        command_id: the command's id (one pending item per command).
        stream_id: the stream the command is for.
        events: (type, data) pairs the command would record / recorded.
        state_before / state_after: the stream's state without and with those events.
        status: "preview", "submitted", "recorded", "confirmed", "rejected" or "conflicted".
        added_edges / removed_edges: (device stream id, peer stream id) pairs for the graph.
        message: a rule violation, rejection reason or conflict explanation, or "".
        position: the recorded position of the last event, once recorded (else 0).
    """

    command_id: str
    stream_id: str
    events: tuple[tuple[str, dict[str, Any]], ...]
    state_before: dict[str, Any]
    state_after: dict[str, Any]
    status: str = "preview"
    added_edges: tuple[tuple[str, str], ...] = ()
    removed_edges: tuple[tuple[str, str], ...] = ()
    message: str = ""
    position: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class AppContext(QObject):
    """The one global as-of cursor (a position) and what is selected.

    Attributes:
        store: the open store (this connection is for the GUI thread's cheap calls only;
            workers use `store.clone()`), or None before a store is open.
        position: the as-of cursor; 0 means before the first event.
        head: the store's last position as last seen.
        stream_id: the selected stream, or None.
        region: (first, last) positions of a region selection, or None.

    Signals:
        store_changed(object): a store was opened (the store) or closed (None).
        position_changed(int): the as-of cursor moved.
        head_changed(int): the store grew (another writer appended).
        stream_selected(object): the selected stream id (str) or None.
        region_changed(object): (first, last) or None.
        event_selected(int): a position the user picked (a row, a marker, a search hit).
        pending_changed(object): the current PendingPreview, or None when nothing is pending.
        checkpoints_changed(object): {projection name: checkpoint position}, for the timeline.
        bookmarks_changed(object): [(position, note)], saved investigations for the timeline.
    """

    store_changed = Signal(object)
    position_changed = Signal(int)
    head_changed = Signal(int)
    stream_selected = Signal(object)
    region_changed = Signal(object)
    event_selected = Signal(int)
    pending_changed = Signal(object)
    checkpoints_changed = Signal(object)
    bookmarks_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store: SQLiteEventStore | None = None
        self.position = 0
        self.head = 0
        self.stream_id: str | None = None
        self.region: tuple[int, int] | None = None
        self.pending: PendingPreview | None = None
        self.checkpoints: dict[str, int] = {}
        self.bookmarks: list[tuple[int, str]] = []

    def set_checkpoints(self, checkpoints: dict[str, int]) -> None:
        if checkpoints != self.checkpoints:
            self.checkpoints = dict(checkpoints)
            self.checkpoints_changed.emit(self.checkpoints)

    def set_bookmarks(self, bookmarks: list[tuple[int, str]]) -> None:
        self.bookmarks = list(bookmarks)
        self.bookmarks_changed.emit(self.bookmarks)

    def set_pending(self, pending: PendingPreview | None) -> None:
        self.pending = pending
        self.pending_changed.emit(pending)

    def set_store(self, store: SQLiteEventStore | None) -> None:
        if self.store is not None and self.store is not store:
            self.store.close()
        self.store = store
        self.stream_id = None
        self.region = None
        self.head = store.head().position if store is not None else 0
        self.position = self.head
        self.store_changed.emit(store)
        self.position_changed.emit(self.position)

    def set_position(self, position: int) -> None:
        position = max(0, min(int(position), self.head))
        if position != self.position:
            self.position = position
            self.position_changed.emit(position)

    def set_head(self, head: int) -> None:
        if head != self.head:
            self.head = head
            self.head_changed.emit(head)

    def select_stream(self, stream_id: str | None) -> None:
        if stream_id != self.stream_id:
            self.stream_id = stream_id
            self.stream_selected.emit(stream_id)

    def set_region(self, region: tuple[int, int] | None) -> None:
        if region != self.region:
            self.region = region
            self.region_changed.emit(region)
