"""The store overview (centre, shown when no stream is selected).

Counts by stream type and event type, the time span, and a histogram of events over time;
computed by a worker (the GROUP BYs scan an index) whenever the store opens or grows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.models.reader import StoreReader

log = logging.getLogger(__name__)

BUCKETS = 120


@dataclass(frozen=True, slots=True)
class StoreSummary:
    """What the overview shows.

    Attributes:
        name / path / read_only / head / head_hash: the store.
        stream_types: stream type -> (streams, events).
        event_types: event type -> events.
        span: first and last recorded time, or None for an empty store.
        histogram: events per bucket over the span.
    """

    name: str
    path: str
    read_only: bool
    head: int
    head_hash: str
    stream_types: dict[str, tuple[int, int]]
    event_types: dict[str, int]
    span: tuple[datetime, datetime] | None
    histogram: list[int]


def summarize(store: SQLiteEventStore, buckets: int = BUCKETS) -> StoreSummary:
    head = store.head()
    span = store.time_span()
    histogram = store.histogram(span[0], span[1], buckets) if span else []
    return StoreSummary(store.name, str(store.path), store.read_only, head.position, head.chain_hash,
                        store.counts_by_stream_type(), store.counts_by_event_type(), span, histogram)


def _item(text: str, *, number: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)  # plain text: a QTableWidgetItem never renders HTML
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(headers)):
        table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


class OverviewView(QWidget):
    """The whole store at a glance.

    Attributes:
        context: the shared AppContext.
        summary: the last StoreSummary shown, or None.
        headline: store name, head and time span (plain text).
        stream_table / event_table: the counts.
        plot: the events-over-time histogram.
    """

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.summary: StoreSummary | None = None
        self.reader = StoreReader(self)

        self.headline = QLabel("No store open")
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline.setWordWrap(True)
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)

        self.stream_table = _table(["Stream type", "Streams", "Events"])
        self.event_table = _table(["Event type", "Events"])

        palette = self.palette()
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setBackground(palette.color(QPalette.ColorRole.Base))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.setLabel("left", "events")
        self.plot.setTitle("Events over time (recorded, UTC)", color=palette.color(QPalette.ColorRole.Text))
        self.plot.setToolTip("Events recorded per time bucket; drag to pan, wheel to zoom")
        self.plot.setMinimumHeight(180)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(palette.color(QPalette.ColorRole.Text))
        self.bars: pg.BarGraphItem | None = None

        grid = QGridLayout()
        grid.addWidget(self.stream_table, 0, 0)
        grid.addWidget(self.event_table, 0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.headline)
        layout.addWidget(self.plot, 3)
        layout.addLayout(grid, 2)

        # Appends can come quickly: refresh at most every couple of seconds.
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(2000)
        self._refresh.timeout.connect(self.reload)
        context.store_changed.connect(self._on_store_changed)
        context.head_changed.connect(lambda _head: self._refresh.start())
        if context.store is not None:
            self._on_store_changed(context.store)

    def _on_store_changed(self, store: SQLiteEventStore | None) -> None:
        self.reader.set_store(store)
        if store is None:
            self.show_summary(None)
        else:
            self.headline.setText(f"{store.name} — reading…")
            self.reload()

    def reload(self) -> None:
        if self.reader.has_store:
            self.reader.run(summarize, name="overview", on_result=self.show_summary)

    def show_summary(self, summary: StoreSummary | None) -> None:
        self.summary = summary
        self.stream_table.setRowCount(0)
        self.event_table.setRowCount(0)
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        if summary is None:
            self.headline.setText("No store open")
            return
        mode = " (read-only)" if summary.read_only else ""
        streams = sum(n for n, _ in summary.stream_types.values())
        lines = [f"{summary.name}{mode}: {summary.head:,} events in {streams:,} streams"]
        if summary.span is not None:
            first, last = summary.span
            lines.append(f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC "
                         f"({(last - first).days} days)")
        lines.append(f"head digest {summary.head_hash[:16]}…")
        self.headline.setText("\n".join(lines))
        self.headline.setToolTip(summary.path)
        for stream_type, (n, events) in summary.stream_types.items():
            row = self.stream_table.rowCount()
            self.stream_table.insertRow(row)
            self.stream_table.setItem(row, 0, _item(stream_type))
            self.stream_table.setItem(row, 1, _item(f"{n:,}", number=True))
            self.stream_table.setItem(row, 2, _item(f"{events:,}", number=True))
        for event_type, n in sorted(summary.event_types.items(), key=lambda kv: -kv[1]):
            row = self.event_table.rowCount()
            self.event_table.insertRow(row)
            self.event_table.setItem(row, 0, _item(event_type))
            self.event_table.setItem(row, 1, _item(f"{n:,}", number=True))
        if summary.span is not None and summary.histogram:
            start, end = (t.timestamp() for t in summary.span)
            width = max(1.0, (end - start) / len(summary.histogram))
            xs = [start + width * (i + 0.5) for i in range(len(summary.histogram))]
            color = self.palette().color(QPalette.ColorRole.Highlight)
            self.bars = pg.BarGraphItem(x=xs, height=summary.histogram, width=width * 0.9, brush=color, pen=None)
            self.plot.addItem(self.bars)
            self.plot.setXRange(start, end + width, padding=0.02)
