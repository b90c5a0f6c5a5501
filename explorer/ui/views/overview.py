"""The store overview (centre, shown when no stream is selected).

Counts by stream type and event type, the time span, and a histogram of events over time;
computed by a worker (the GROUP BYs scan an index) whenever the store opens or grows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from explorer.ui.views.time_axis import UtcDateAxis, empty_range

log = logging.getLogger(__name__)

MAX_BUCKETS = 160
# Bucket widths people read at a glance; a width that is not a divisor of a day would alias
# with the daily rhythm of most data and draw a comb instead of days.
NICE_WIDTHS_S = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400)


def nice_buckets(first: datetime, last: datetime, max_buckets: int = MAX_BUCKETS) -> tuple[datetime, int, int]:
    """(aligned start, bucket width in seconds, bucket count) covering first..last."""
    span = max(1.0, (last - first).total_seconds())
    width = next((w for w in NICE_WIDTHS_S if span / w <= max_buckets), NICE_WIDTHS_S[-1])
    epoch = first.timestamp()
    start = datetime.fromtimestamp(epoch - epoch % width, first.tzinfo)
    count = int((last.timestamp() - start.timestamp()) // width) + 1
    return start, width, count


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
    bucket_start: datetime | None = None
    bucket_width_s: int = 0


def summarize(store: SQLiteEventStore) -> StoreSummary:
    head = store.head()
    span = store.time_span()
    histogram: list[int] = []
    start, width = None, 0
    if span:
        start, width, count = nice_buckets(*span)
        end = start + timedelta(seconds=width * count) - timedelta(microseconds=1)
        histogram = store.histogram(start, end, count)
    return StoreSummary(store.name, str(store.path), store.read_only, head.position, head.chain_hash,
                        store.counts_by_stream_type(), store.counts_by_event_type(), span, histogram,
                        start, width)


def _describe_width(seconds: int) -> str:
    for unit, size in (("30 days", 30 * 86400), ("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds} s"


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
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
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
        self.plot = pg.PlotWidget(axisItems={"bottom": UtcDateAxis()})
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
        if summary.bucket_start is None or not summary.histogram:  # no events yet: the hour around now
            self.plot.setTitle("No events yet (recorded, UTC)", color=self.palette().color(QPalette.ColorRole.Text))
            self.plot.setXRange(*empty_range(), padding=0)
        else:
            start, width = summary.bucket_start.timestamp(), float(summary.bucket_width_s)
            end = start + width * len(summary.histogram)
            xs = [start + width * (i + 0.5) for i in range(len(summary.histogram))]
            unit = _describe_width(summary.bucket_width_s)
            self.plot.setTitle(f"Events per {unit} (recorded, UTC)",
                               color=self.palette().color(QPalette.ColorRole.Text))
            color = self.palette().color(QPalette.ColorRole.Highlight)
            self.bars = pg.BarGraphItem(x=xs, height=summary.histogram, width=width * 0.9, brush=color, pen=None)
            self.plot.addItem(self.bars)
            self.plot.setXRange(start, end, padding=0.02)
