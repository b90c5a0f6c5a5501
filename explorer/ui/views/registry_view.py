"""The device registry as of the cursor: one indexed query per cursor move, in the background.

A pending command's device is marked (its previewed values, in italics, with "pending").
Selecting a row selects the device everywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from explorer.projections.registry import RegistryRow, registry_at
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.projection_service import service_for
from explorer.ui.views.latest_reader import Connections, LatestReader

_Index = QModelIndex | QPersistentModelIndex
StreamRole = Qt.ItemDataRole.UserRole + 1
PendingRole = Qt.ItemDataRole.UserRole + 2
COLUMNS = (("name", "Name"), ("kind", "Kind"), ("owner", "Owner"), ("status", "Status"),
           ("connections", "Connections"), ("calls_in", "Calls in"), ("calls_out", "Calls out"),
           ("last_call_at", "Last call"), ("last_seen", "Last seen"), ("stream_id", "Stream"))


class RegistryModel(QAbstractTableModel):
    """Registry rows as of a position, plus the pending command's device (marked).

    Attributes:
        rows: the registry rows shown.
        pending: stream ids whose row is a pending preview.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[RegistryRow] = []
        self.pending: set[str] = set()

    def set_rows(self, rows: list[RegistryRow], pending: PendingPreview | None) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.pending = set()
        if pending is not None and pending.status not in ("confirmed", "rejected") and pending.state_after:
            after = pending.state_after
            index = {r.stream_id: i for i, r in enumerate(self.rows)}
            base = self.rows[index[pending.stream_id]] if pending.stream_id in index else RegistryRow(
                pending.stream_id, str(after.get("device_id") or ""), "", "", "", "", 0, 0, 0, "", "", "", "", 0, None)
            preview = dataclasses.replace(
                base, name=str(after.get("name", base.name)), kind=str(after.get("kind", base.kind)),
                owner=str(after.get("owner", base.owner)), status=str(after.get("status", base.status)),
                connections=len(after.get("peers", [])) if "peers" in after else base.connections,
                calls_in=int(after.get("calls_in", base.calls_in)), calls_out=int(after.get("calls_out", base.calls_out)))
            if pending.stream_id in index:
                self.rows[index[pending.stream_id]] = preview
            else:
                self.rows.append(preview)
            self.pending.add(pending.stream_id)
        self.endResetModel()

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
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.EditRole)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(200)  # measure a few hundred rows, not every device
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter devices…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.info = QLabel(self)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.info)
        self.position = -1
        self._rows: list[RegistryRow] = []

        context.store_changed.connect(lambda _s: self.request())
        context.position_changed.connect(lambda _p: self.request())
        context.pending_changed.connect(lambda p: self.model.set_rows(self._rows, p))
        service_for(context).models_advanced.connect(lambda _c: self.request())
        self.request()

    def request(self) -> None:
        store = self.context.store
        if store is None:
            self._rows = []
            self.model.set_rows([], None)
            return
        position = self.context.position

        def job(conn: Connections, _cancelled: Any) -> tuple[int, list[RegistryRow]]:
            return position, registry_at(conn.readdb, position) if conn.readdb is not None else []

        self.reader.submit(store, "registry", job, self._show)

    def _show(self, result: tuple[int, list[RegistryRow]]) -> None:
        self.position, self._rows = result
        self.model.set_rows(self._rows, self.context.pending)
        active = sum(1 for r in self._rows if r.status == "active")
        self.info.setText(f"as of #{self.position:,}: {len(self._rows):,} devices, {active:,} active")
        self.rows_shown.emit(self.position)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.context.select_stream(current.data(StreamRole))


def create(context: AppContext) -> RegistryView:
    """The view factory the main window calls (VIEWS)."""
    return RegistryView(context=context)
