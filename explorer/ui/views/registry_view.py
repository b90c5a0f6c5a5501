"""The device registry as of the cursor: one indexed query per cursor move, in the background.

Only while the table is visible: a hidden registry (another tab current) does nothing on cursor
moves and refreshes once when shown. Results update the rows in place (no model reset, no column
resizing per move), so following the cursor costs the GUI thread little.

A pending command's device is marked (its previewed values, in italics, with "pending").
Selecting a row selects the device everywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from explorer.projections.registry import RegistryRow, registry_at
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.views.latest_reader import Connections, LatestReader
from explorer.ui.views.when_shown import RefreshWhenShown

_Index = QModelIndex | QPersistentModelIndex
StreamRole = Qt.ItemDataRole.UserRole + 1
PendingRole = Qt.ItemDataRole.UserRole + 2
SIZE_SAMPLE = 100  # rows measured (besides the visible ones) when the columns are sized
COLUMNS = (("name", "Name"), ("kind", "Kind"), ("owner", "Owner"), ("status", "Status"),
           ("connections", "Connections"), ("calls_in", "Calls in"), ("calls_out", "Calls out"),
           ("last_call_at", "Last call"), ("last_seen", "Last seen"), ("stream_id", "Stream"))


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in `flags`."""
    runs: list[tuple[int, int]] = []
    for i, flag in enumerate(flags):
        if flag:
            if runs and runs[-1][1] == i - 1:
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((i, i))
    return runs


class RegistryModel(QAbstractTableModel):
    """Registry rows as of a position, plus the pending command's device (marked), filtered and sorted.

    A cursor move changes a few devices: `set_rows` updates the rows in place (dataChanged for
    the rows that differ, inserts and removals for devices that appeared or went) instead of
    resetting the model, so the table keeps its selection and scroll position and repaints only
    what changed. A large jump (many devices in or out) resets the model, which is then cheaper.
    Sorting and filtering are done here in Python on the row list (a QSortFilterProxyModel would
    call `data` from C++ for every comparison: ~0.5 s per update at 2,000 devices).

    Attributes:
        rows: the registry rows shown (filtered, sorted).
        all_rows: every row as of the position, in query order (by name), pending preview applied.
        pending: stream ids whose row is a pending preview.
    """

    MAX_RUNS = 32  # more separate insert/remove runs than this in one update: reset instead

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[RegistryRow] = []
        self.all_rows: list[RegistryRow] = []
        self.pending: set[str] = set()
        self.filter_text = ""
        self.sort_column = 0
        self.sort_order = Qt.SortOrder.AscendingOrder

    def set_rows(self, rows: list[RegistryRow], pending: PendingPreview | None) -> None:
        all_rows = list(rows)
        marked: set[str] = set()
        if pending is not None and pending.status not in ("confirmed", "rejected") and pending.state_after:
            after = pending.state_after
            index = {r.stream_id: i for i, r in enumerate(all_rows)}
            base = all_rows[index[pending.stream_id]] if pending.stream_id in index else RegistryRow(
                pending.stream_id, str(after.get("device_id") or ""), "", "", "", "", 0, 0, 0, "", "", "", "", 0, None)
            preview = dataclasses.replace(
                base, name=str(after.get("name", base.name)), kind=str(after.get("kind", base.kind)),
                owner=str(after.get("owner", base.owner)), status=str(after.get("status", base.status)),
                connections=len(after.get("peers", [])) if "peers" in after else base.connections,
                calls_in=int(after.get("calls_in", base.calls_in)), calls_out=int(after.get("calls_out", base.calls_out)))
            if pending.stream_id in index:
                all_rows[index[pending.stream_id]] = preview
            else:
                all_rows.append(preview)
            marked.add(pending.stream_id)
        self.all_rows = all_rows
        # A change of marking changes fonts and colours of rows whose values may be equal: repaint them.
        changed = marked ^ self.pending
        self.pending = marked
        self._apply(self._arranged(), also_changed=changed)

    def set_filter(self, text: str) -> None:
        """Show only rows with `text` (case-insensitive) in one of their columns."""
        self.filter_text = text.casefold()
        self._apply(self._arranged())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        old_keys = [r.stream_id for r in self.rows]
        self.rows = self._arranged()
        where = {r.stream_id: i for i, r in enumerate(self.rows)}
        before = self.persistentIndexList()
        after = [self.index(where[old_keys[i.row()]], i.column()) if 0 <= i.row() < len(old_keys)
                 and old_keys[i.row()] in where else QModelIndex() for i in before]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _arranged(self) -> list[RegistryRow]:
        rows = self.all_rows
        if self.filter_text:
            needle = self.filter_text
            rows = [r for r in rows if any(needle in str(getattr(r, f)).casefold() for f, _ in COLUMNS)]
        if not 0 <= self.sort_column < len(COLUMNS):
            return list(rows)
        descending = self.sort_order == Qt.SortOrder.DescendingOrder
        if self.sort_column == 0 and not descending:
            return list(rows)  # the query's order (by name)
        field = COLUMNS[self.sort_column][0]

        def key(row: RegistryRow) -> tuple[int, Any]:
            value = getattr(row, field)
            return (0, value) if isinstance(value, int) else (1, str(value).casefold())

        return sorted(rows, key=key, reverse=descending)  # stable: ties keep the query order

    def _apply(self, new: list[RegistryRow], also_changed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        """Make `rows` equal `new` with the fewest model signals (or a reset for a big change)."""
        old = self.rows
        old_keys = [r.stream_id for r in old]
        new_keys = [r.stream_id for r in new]
        if old_keys != new_keys:
            old_set, new_set = set(old_keys), set(new_keys)
            kept_old = [k for k in old_keys if k in new_set]
            kept_new = [k for k in new_keys if k in old_set]
            removed = _runs([k not in new_set for k in old_keys])
            inserted = _runs([k not in old_set for k in new_keys])
            if kept_old != kept_new or len(removed) + len(inserted) > self.MAX_RUNS or len(new_set) != len(new_keys):
                self.beginResetModel()
                self.rows = list(new)
                self.endResetModel()
                return
            for first, last in reversed(removed):
                self.beginRemoveRows(QModelIndex(), first, last)
                del self.rows[first:last + 1]
                self.endRemoveRows()
            for first, last in inserted:
                self.beginInsertRows(QModelIndex(), first, last)
                self.rows[first:first] = new[first:last + 1]
                self.endInsertRows()
        changed = [i for i, (a, b) in enumerate(zip(self.rows, new)) if a != b or b.stream_id in also_changed]
        self.rows = list(new)
        if changed:
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], len(COLUMNS) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section][1]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows) or not 0 <= index.column() < len(COLUMNS):
            return None
        row = self.rows[index.row()]
        field = COLUMNS[index.column()][0]
        pending = row.stream_id in self.pending
        if role == Qt.ItemDataRole.DisplayRole:
            value = getattr(row, field)
            if field == "status" and pending:
                return f"{value} (pending)"
            if field in ("last_call_at", "last_seen") and value:
                return str(value)[:19].replace("T", " ")  # to the second; the full value is the tooltip
            return f"{value:,}" if isinstance(value, int) else str(value)
        if role == Qt.ItemDataRole.EditRole:  # sorting: numbers as numbers
            return getattr(row, field)
        if role == StreamRole:
            return row.stream_id
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(getattr(row, field))
        if role == PendingRole:
            return pending
        if role == Qt.ItemDataRole.FontRole and pending:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and pending:
            return QColor(255, 243, 205)
        if role == Qt.ItemDataRole.ForegroundRole and row.status == "decommissioned":
            return QColor(130, 130, 130)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(getattr(row, field), int):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RegistryView(QWidget):
    """The registry table as of the cursor, with a filter box.

    Signals:
        rows_shown(int): the position whose registry is now shown.
    """

    rows_shown = Signal(int)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.reader = LatestReader(name="registry", parent=self)
        self.model = RegistryModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        # Columns are sized once per store from a sample of rows (in _show), then left to
        # the user: ResizeToContents would measure rows again on every cursor move.
        header.setResizeContentsPrecision(SIZE_SAMPLE)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self._sized = False
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter devices…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.model.set_filter)
        self.info = QLabel(self)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.info)
        self.position = -1
        self._rows: list[RegistryRow] = []

        # Queries run only while the table can be seen; a hidden one refreshes once when shown.
        self.refresher = RefreshWhenShown(widget=self, refresh=self.request, context=context)
        context.store_changed.connect(self._store_changed)
        context.pending_changed.connect(self._pending_changed)
        self.refresher.request()

    def _pending_changed(self, pending: PendingPreview | None) -> None:
        self.model.set_rows(self._rows, pending)

    def _store_changed(self, _store: Any) -> None:
        self.reader.forget("registry")
        self._rows, self.position, self._sized = [], -1, False
        self.model.set_rows([], None)
        self.info.setText("")
        self.refresher.request()

    def request(self) -> None:
        """Query the registry as of the cursor in the background (the newest request wins)."""
        store = self.context.store
        if store is None:
            return
        position = self.context.position

        def job(conn: Connections, _cancelled: Any) -> tuple[int, list[RegistryRow]]:
            return position, registry_at(conn.readdb, position) if conn.readdb is not None else []

        self.reader.submit(store, "registry", job, self._show)

    def _show(self, result: tuple[int, list[RegistryRow]]) -> None:
        self.position, self._rows = result
        self.model.set_rows(self._rows, self.context.pending)
        if not self._sized and self._rows:
            self.table.resizeColumnsToContents()  # once per store, from SIZE_SAMPLE rows
            self._sized = True
        active = sum(1 for r in self._rows if r.status == "active")
        self.info.setText(f"as of #{self.position:,}: {len(self._rows):,} devices, {active:,} active")
        self.rows_shown.emit(self.position)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.context.select_stream(current.data(StreamRole))


def create(context: AppContext) -> RegistryView:
    """The view factory the main window calls (VIEWS)."""
    return RegistryView(context=context)
