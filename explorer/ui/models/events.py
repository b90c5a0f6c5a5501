"""The events table model: holds only positions, fetches rows in pages, keeps a small page cache.

Unfiltered, the positions are `range(1, head + 1)` (the native store is gap-free), so a
1,000,000-event store costs nothing to "load"; filtered, they are an `array('q')` (8 bytes per
row) computed by a worker. Rows are read a page at a time by the model's own StoreReader and
kept in an LRU cache of pages, so memory stays flat however far the user scrolls.
"""

from __future__ import annotations

import bisect
import logging
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from explorer.domain.plugins import pack_for
from explorer.store.records import EventFilter, RecordedEvent
from explorer.store.sqlite import SQLiteEventStore, to_us
from explorer.ui import workers
from explorer.ui.models.reader import StoreReader

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
POSITION_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Position", "Recorded (UTC)", "Occurred", "Stream", "Type", "Actor", "Summary")
LOADING = "…"


@dataclass(frozen=True, slots=True)
class EventQuery:
    """What the table shows; all None/empty means every event.

    Attributes:
        stream_id: only this stream's events.
        event_types / stream_types: only these types.
        since / until: recorded time range (inclusive).
        text: a case-insensitive substring of the type, stream id, data or metadata.
    """

    stream_id: str | None = None
    event_types: tuple[str, ...] = ()
    stream_types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""

    def store_filter(self) -> EventFilter | None:
        f = EventFilter(
            stream_types=self.stream_types or None,
            event_types=self.event_types or None,
            stream_ids=(self.stream_id,) if self.stream_id else None,
            since=self.since,
            until=self.until,
        )
        return None if f.is_empty() else f

    @property
    def is_everything(self) -> bool:
        return self.store_filter() is None and not self.text


@dataclass(frozen=True, slots=True)
class EventRow:
    """One table row, formatted once when its page is read.

    Attributes:
        event: the RecordedEvent.
        cells: the display text of each column.
    """

    event: RecordedEvent
    cells: tuple[str, ...]


def format_row(event: RecordedEvent) -> EventRow:
    try:
        summary = pack_for(event.stream_type).sentence(event.type, event.data, event.stream_id)
    except Exception:  # noqa: BLE001 - a bad payload must not break the table
        summary = event.problem or event.type
    # One line: embedded newlines would make a row taller than its neighbours.
    summary = " ".join(str(summary).split())
    actor = event.metadata.get("actor", "")
    return EventRow(event, (
        str(event.position),
        # isoformat: strftime costs ~90 µs per call here, a tenth of a page read for 200 rows.
        event.recorded_at.isoformat(sep=" ", timespec="seconds")[:19],
        (event.occurred_at or "").replace("T", " ")[:19],
        event.stream_id,
        event.type,
        actor if isinstance(actor, str) else str(actor),
        summary,
    ))


def matching_positions(store: SQLiteEventStore, query: EventQuery, from_position: int, to_position: int,
                       cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> array:
    """The positions in [from_position, to_position] that `query` matches (runs in a worker)."""
    f = query.store_filter()
    if not query.text:
        return array("q", store.positions(from_position, to_position, filters=f))
    # A text filter reads the stored JSON as text (no decoding) and matches in Python.
    needle = query.text.casefold()
    event_types = set(query.event_types)
    stream_types = set(query.stream_types)
    since = to_us(query.since) if query.since else None
    until = to_us(query.until) if query.until else None
    out = array("q")
    total = max(1, to_position - from_position + 1)
    stream_ids = (query.stream_id,) if query.stream_id else None
    for i, (pos, sid, stype, _v, etype, rec, _eid, data, meta, _h) in enumerate(
            store.read_raw(from_position, to_position, stream_ids)):
        if i % 5000 == 0:
            if cancelled():
                return out
            progress(pos - from_position, total)
        if event_types and etype not in event_types:
            continue
        if stream_types and stype not in stream_types:
            continue
        if (since is not None and rec < since) or (until is not None and rec > until):
            continue
        if needle in etype.casefold() or needle in sid.casefold() or needle in data.casefold() \
                or needle in meta.casefold():
            out.append(pos)
    return out


class EventTableModel(QAbstractTableModel):
    """A virtual table of events: positions in memory, rows fetched lazily in pages.

    Attributes:
        query: the EventQuery shown.
        head: the last store position the positions cover.
        page_size: rows per page read.
        max_pages: pages kept in the cache (least recently used dropped first).
        reader: the StoreReader the pages are read with.

    Signals:
        reloaded: the positions of a new query (or store) are in place.
        rows_appended(int): that many new events at the end (the store grew).
        page_loaded(int): the page with that index arrived.
        busy_changed(bool): a filter is being computed (True) or done (False).
        progressed(int, int): done, total of a long filter computation.
    """

    reloaded = Signal()
    rows_appended = Signal(int)
    page_loaded = Signal(int)
    busy_changed = Signal(bool)
    progressed = Signal(int, int)

    def __init__(self, *, page_size: int = 200, max_pages: int = 40, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.query = EventQuery()
        self.head = 0
        self.page_size = page_size
        self.max_pages = max_pages
        self.reader = StoreReader(self)
        self.cursor = 0
        self._positions: Sequence[int] = range(0)
        self._pages: OrderedDict[int, list[EventRow]] = OrderedDict()
        self._requested: set[int] = set()
        self._generation = 0
        self._filtering: workers.Worker | None = None

    # -- what is shown ----------------------------------------------------------------------

    def set_store(self, store: SQLiteEventStore | None, head: int = 0) -> None:
        self.reader.set_store(store)
        self.head = head
        self.query = EventQuery()
        self.reload()

    def set_query(self, query: EventQuery) -> None:
        if query != self.query:
            self.query = query
            self.reload()

    def update_query(self, **changes: Any) -> None:
        self.set_query(replace(self.query, **changes))

    def reload(self) -> None:
        """Recompute the positions for the query (instantly when unfiltered, else in a worker)."""
        self._generation += 1
        self.cancel_filter()
        if self.query.is_everything or not self.reader.has_store:
            self._install(self._generation, range(1, self.head + 1) if self.reader.has_store else range(0))
            return
        generation, query, head = self._generation, self.query, self.head
        self.busy_changed.emit(True)

        def compute(store: SQLiteEventStore, cancelled: Callable[[], bool],
                    progress: Callable[[int, int], None]) -> array:
            return matching_positions(store, query, 1, head, cancelled, progress)

        worker = self.reader.run(compute, name="filter events", with_progress=True,
                                 on_result=lambda found: self._install(generation, found),
                                 on_error=lambda exc: self._filter_failed(generation, exc))
        worker.signals.progressed.connect(self.progressed)
        self._filtering = worker

    def _filter_failed(self, generation: int, exc: BaseException) -> None:
        log.error("filtering events failed: %r", exc)
        if generation == self._generation:
            self._end_busy()

    def _end_busy(self) -> None:
        if self._filtering is not None:
            self._filtering = None
            self.busy_changed.emit(False)

    def cancel_filter(self) -> None:
        if self._filtering is not None:
            self._filtering.cancel()
            self._end_busy()

    @property
    def is_busy(self) -> bool:
        return self._filtering is not None

    def _install(self, generation: int, positions: Sequence[int]) -> None:
        if generation != self._generation:
            return
        # The current query's result ends "busy" (not the worker's `finished`, which may arrive
        # after a newer query started).
        self._end_busy()
        self.beginResetModel()
        self._positions = positions
        self._pages.clear()
        self._requested.clear()
        self.endResetModel()
        self.reloaded.emit()

    def extend_to(self, head: int) -> None:
        """The store grew to `head`: append the new matching events at the end."""
        if head <= self.head:
            return
        old_head, self.head = self.head, head
        if not self.reader.has_store:
            return
        if self.query.is_everything and isinstance(self._positions, range):
            self._append(self._generation, range(old_head + 1, head + 1))
            return
        generation, query = self._generation, self.query

        def compute(store: SQLiteEventStore, cancelled: Callable[[], bool],
                    progress: Callable[[int, int], None]) -> array:
            return matching_positions(store, query, old_head + 1, head, cancelled, progress)

        self.reader.run(compute, name="new events", with_progress=True,
                        on_result=lambda found: self._append(generation, found))

    def _append(self, generation: int, new: Sequence[int]) -> None:
        if generation != self._generation or not new:
            return
        first = len(self._positions)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        if isinstance(self._positions, range) and isinstance(new, range) and new.start == self._positions.stop:
            self._positions = range(self._positions.start, new.stop)
        else:
            merged = array("q", self._positions)
            merged.extend(new)
            self._positions = merged
        # The last page may have been partial; read it again when it is next shown.
        last_page = (first - 1) // self.page_size if first else 0
        self._pages.pop(last_page, None)
        self.endInsertRows()
        self.rows_appended.emit(len(new))

    def set_cursor(self, position: int) -> None:
        """Events after the as-of cursor are drawn dimmed: they have not happened yet."""
        if position == self.cursor:
            return
        low, high = sorted((self.cursor, position))
        self.cursor = position
        first, last = self.row_range(low + 1, high)
        if first <= last:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1),
                                  [Qt.ItemDataRole.ForegroundRole])

    # -- lookups --------------------------------------------------------------------------------

    def position_at(self, row: int) -> int:
        return int(self._positions[row])

    def row_of(self, position: int) -> int | None:
        """The row showing `position`, or None when the query does not show it."""
        positions = self._positions
        if isinstance(positions, range):
            return position - positions.start if positions.start <= position < positions.stop else None
        row = bisect.bisect_left(positions, position)
        return row if row < len(positions) and positions[row] == position else None

    def row_range(self, low: int, high: int) -> tuple[int, int]:
        """First and last row whose position is within [low, high] (first > last when none)."""
        positions = self._positions
        return bisect.bisect_left(positions, low), bisect.bisect_right(positions, high) - 1

    def event_at(self, row: int) -> RecordedEvent | None:
        """The event of `row` if its page is cached (None otherwise; the page is then requested)."""
        entry = self._row(row)
        return entry.event if entry is not None else None

    def cached_pages(self) -> int:
        return len(self._pages)

    def _row(self, row: int) -> EventRow | None:
        page_index, offset = divmod(row, self.page_size)
        page = self._pages.get(page_index)
        if page is None:
            self.request_page(page_index)
            return None
        self._pages.move_to_end(page_index)
        return page[offset] if offset < len(page) else None

    def request_page(self, page_index: int) -> None:
        if page_index in self._requested or page_index in self._pages:
            return
        start = page_index * self.page_size
        wanted = list(self._positions[start:start + self.page_size])
        if not wanted:
            return
        self._requested.add(page_index)
        generation = self._generation

        def read(store: SQLiteEventStore) -> list[EventRow]:
            return [format_row(e) for e in store.events_at(wanted)]

        self.reader.run(read, name=f"events page {page_index}",
                        on_result=lambda rows: self._page_arrived(generation, page_index, rows),
                        on_error=lambda exc: self._page_failed(generation, page_index, exc))

    def _page_failed(self, generation: int, page_index: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._requested.discard(page_index)
        log.warning("reading events page %d failed: %r", page_index, exc)

    def _page_arrived(self, generation: int, page_index: int, rows: list[EventRow]) -> None:
        if generation != self._generation:
            return
        self._requested.discard(page_index)
        self._pages[page_index] = rows
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        first = page_index * self.page_size
        last = min(first + len(rows), len(self._positions)) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
        self.page_loaded.emit(page_index)

    # -- the model -------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self._positions)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt override
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._positions):
            return None
        row, column = index.row(), index.column()
        if role == POSITION_ROLE:
            return int(self._positions[row])
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column == 0:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if self._positions[row] > self.cursor:
                return QApplication.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if column == 0:
            return str(self._positions[row])
        entry = self._row(row)
        if entry is None:
            return LOADING if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 1:
                return entry.event.recorded_at.isoformat()
            return entry.cells[column] or None
        return entry.cells[column]
