"""Call analytics as of the cursor: the ranked "suspicious devices" list and, for the selected
device, its calls per hour (in and out), unknown numbers and night-time share.

Only while the view is visible: hidden, it does no query on cursor moves and refreshes once when
shown; the ranking table is updated in place when its order holds, never re-measured per move."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from explorer.projections.analytics import DeviceActivity, HourBucket, activity_at, hourly
from explorer.projections.registry import names_at
from explorer.ui.context import AppContext
from explorer.ui.views.latest_reader import Connections, LatestReader
from explorer.ui.views.when_shown import RefreshWhenShown

_Index = QModelIndex | QPersistentModelIndex
StreamRole = Qt.ItemDataRole.UserRole + 1
NO_DEVICE_HINT = "Select a device in the table (or in Streams) to see its calls per hour as of the cursor."
SIZE_SAMPLE = 100  # rows measured (besides the visible ones) when the columns are sized


class SuspiciousModel(QAbstractTableModel):
    """Devices ranked by suspicious score (highest first).

    Attributes:
        rows: DeviceActivity, ranked.
        names: stream id -> device name.
    """

    HEADERS = ("#", "Device", "Score", "Calls", "Night", "Unknown", "Burst", "Why")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[DeviceActivity] = []
        self.names: dict[str, str] = {}

    def set_rows(self, rows: list[DeviceActivity], names: dict[str, str]) -> None:
        """Show `rows`: in place when the ranking's order is unchanged (no reset: the selection
        and scroll position stay), else one reset; columns are never re-measured here."""
        if [a.stream_id for a in rows] == [a.stream_id for a in self.rows]:
            changed = [i for i, (a, b) in enumerate(zip(self.rows, rows))
                       if a != b or self.names.get(a.stream_id) != names.get(a.stream_id)]
            self.rows, self.names = list(rows), dict(names)
            if changed:
                self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], len(self.HEADERS) - 1))
            return
        self.beginResetModel()
        self.rows, self.names = list(rows), dict(names)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal \
                and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        a = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (str(index.row() + 1), self.names.get(a.stream_id) or a.stream_id, f"{a.score:.2f}",
                    f"{a.calls:,}", f"{a.night_share:.0%}", f"{a.unknown_share:.0%}", str(a.burst),
                    "; ".join(a.reasons))[col] if 0 <= col < len(self.HEADERS) else None
        if role == StreamRole:
            return a.stream_id
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"night {a.night_score:.2f} + unknown {a.unknown_score:.2f} + burst {a.burst_score:.2f}"
                    f"\n{a.stream_id}")
        if role == Qt.ItemDataRole.BackgroundRole and a.score >= 1.0:
            return pg.mkColor(255, 205, 210)
        return None


class AnalyticsView(QWidget):
    """The suspicious ranking and the selected device's charts, as of the cursor.

    Signals:
        ranking_shown(int): the position whose ranking is shown.
        device_shown(object): (stream id, position) of the charts shown.
    """

    ranking_shown = Signal(int)
    device_shown = Signal(object)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.reader = LatestReader(name="analytics", parent=self)
        self.model = SuspiciousModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        # Columns are sized once per store from a sample of rows (in _show_ranking), not per
        # cursor move: ResizeToContents would measure rows again on every update.
        self.table.horizontalHeader().setResizeContentsPrecision(SIZE_SAMPLE)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self._sized = False
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.calls_plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.calls_plot.setBackground("w")
        self.calls_plot.setLabel("left", "calls per hour")
        self.calls_plot.addLegend(offset=(10, 5))
        self.in_bars = pg.BarGraphItem(x=[], height=[], width=3000, brush=pg.mkBrush(66, 133, 244, 200), name="in")
        self.out_bars = pg.BarGraphItem(x=[], y0=[], height=[], width=3000, brush=pg.mkBrush(251, 140, 0, 200),
                                        name="out")
        self.night_marks = pg.ScatterPlotItem(symbol="t", size=8, brush=pg.mkBrush(69, 39, 160), name="night calls")
        for item in (self.in_bars, self.out_bars, self.night_marks):
            self.calls_plot.addItem(item)
        charts = QWidget(self)
        charts_layout = QVBoxLayout(charts)
        charts_layout.setContentsMargins(0, 0, 0, 0)
        charts_layout.addWidget(self.title)
        charts_layout.addWidget(self.calls_plot, 1)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.table)
        splitter.addWidget(charts)
        splitter.setSizes([220, 260])
        self.info = QLabel(self)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.info)
        layout.addWidget(splitter, 1)
        self.position = -1
        self.buckets: list[HourBucket] = []
        self.device_result: tuple[str, int] | None = None  # (stream id, position) of the charts shown

        # Queries run only while the view can be seen; a hidden one refreshes once when shown.
        self.refresher = RefreshWhenShown(widget=self, refresh=self.request, context=context)
        context.store_changed.connect(self._store_changed)
        context.stream_selected.connect(self._stream_selected)
        self.refresher.request()

    def _stream_selected(self, _sid: str | None) -> None:
        if self.refresher.visible():
            self.request_device()
        else:
            self.refresher.request()  # hidden: ranking and charts are read when shown

    def _store_changed(self, _store: Any) -> None:
        self.reader.forget("ranking")
        self.reader.forget("device")
        self.position, self._sized, self.device_result = -1, False, None
        self.model.set_rows([], {})
        self.info.setText("")
        self.refresher.request()

    def request(self) -> None:
        """Query the ranking (and the selected device's charts) as of the cursor, in the background."""
        store = self.context.store
        if store is None:
            return
        position = self.context.position

        def job(conn: Connections, _cancelled: Any) -> tuple[int, list[DeviceActivity], dict[str, str]]:
            if conn.readdb is None:
                return position, [], {}
            return position, activity_at(conn.readdb, position), names_at(conn.readdb, position)

        self.reader.submit(store, "ranking", job, self._show_ranking)
        self.request_device()

    def _show_ranking(self, result: tuple[int, list[DeviceActivity], dict[str, str]]) -> None:
        self.position, rows, names = result
        self.model.set_rows(rows, names)
        if not self._sized and rows:
            self.table.resizeColumnsToContents()  # once per store, from SIZE_SAMPLE rows
            self._sized = True
        flagged = sum(1 for a in rows if a.score >= 1.0)
        self.info.setText(f"as of #{self.position:,}: {len(rows):,} devices with activity, {flagged} flagged "
                          "(score ≥ 1: night calls, unknown numbers, connection bursts)")
        self.ranking_shown.emit(self.position)

    def request_device(self) -> None:
        store, sid = self.context.store, self.context.stream_id
        if store is None or not sid:
            self._clear_device()
            return
        position = self.context.position

        def job(conn: Connections, _cancelled: Any) -> tuple[str, int, list[HourBucket]]:
            return sid, position, hourly(conn.readdb, sid, position) if conn.readdb is not None else []

        self.reader.submit(store, "device", job, self._show_device)

    def _show_device(self, result: tuple[str, int, list[HourBucket]]) -> None:
        sid, position, buckets = result
        self.buckets = buckets
        x = np.asarray([b.hour.timestamp() + 1800 for b in buckets], dtype=np.float64)
        ins = np.asarray([b.calls_in for b in buckets], dtype=np.float64)
        outs = np.asarray([b.calls_out for b in buckets], dtype=np.float64)
        self.in_bars.setOpts(x=x, height=ins, width=3000)
        self.out_bars.setOpts(x=x, y0=ins, height=outs, width=3000)
        nights = [(xi, i + o) for xi, i, o, b in zip(x, ins, outs, buckets) if b.night]
        self.night_marks.setData([n[0] for n in nights], [n[1] + 0.3 for n in nights])
        if len(x):
            self.calls_plot.setXRange(x.min() - 3600, x.max() + 3600, padding=0.02)
            self.calls_plot.setYRange(0, float((ins + outs).max()) + 1)
        total_in, total_out = int(ins.sum()), int(outs.sum())
        calls = total_in + total_out
        night = sum(b.night for b in buckets)
        unknown = sum(b.unknown for b in buckets)
        name = self.model.names.get(sid) or sid
        self.title.setText(
            f"{name}: {calls:,} calls ({total_in:,} in, {total_out:,} out), "
            f"night {night / calls if calls else 0:.0%}, unknown numbers {unknown / calls if calls else 0:.0%}"
            f" — as of #{position:,}")
        self.device_result = (sid, position)
        self.device_shown.emit((sid, position))

    def _clear_device(self) -> None:
        self.reader.forget("device")
        self.buckets, self.device_result = [], None
        self.in_bars.setOpts(x=[], height=[], width=3000)
        self.out_bars.setOpts(x=[], y0=[], height=[], width=3000)
        self.night_marks.setData([], [])
        self.title.setText(NO_DEVICE_HINT)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.context.select_stream(current.data(StreamRole))


def create(context: AppContext) -> AnalyticsView:
    """The view factory the main window calls (VIEWS)."""
    return AnalyticsView(context=context)
