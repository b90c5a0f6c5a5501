"""The timeline: events per time bucket with the draggable as-of cursor, a range, markers and play.

The cursor is an `InfiniteLine`; while it is dragged each move maps the time under it to a
position with one indexed lookup (`position_at_time`) and moves the global cursor, at most once
per `DRAG_INTERVAL_MS` (the views that do real work behind the cursor coalesce on their side).
Histograms are recomputed in the background for the visible range after each zoom or pan.
Below the histogram, a lane marks the selected stream's events and the bookmarks; projection
checkpoints and the head are vertical lines.
"""

from __future__ import annotations

import bisect
import logging
from datetime import datetime
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QStyle, QToolButton, QVBoxLayout, QWidget

from explorer.store.records import format_time
from explorer.ui.context import AppContext
from explorer.ui.views.latest_reader import Connections, LatestReader
from explorer.ui.views.time_axis import UtcDateAxis, empty_range, fit_range, from_seconds

log = logging.getLogger(__name__)

DRAG_INTERVAL_MS = 30
"""While dragging, the global cursor moves at most this often (about 33 times a second)."""
REBUCKET_DELAY_MS = 150
"""A zoom or pan settles this long before the histogram is recomputed for the new range."""
PLAY_TICK_MS = 40
SPEEDS = (1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000)
"""Replay speeds offered, in events per second."""
PAGE_STEP = 100
AXIS_WIDTH = 72  # the histogram's and the lane's left axes share a width so their x lines up


def to_seconds(value: datetime) -> float:
    return value.timestamp()


class CountAxis(pg.AxisItem):
    """The histogram's left axis: whole counts from 0, never SI-scaled ("events (x0.001)")."""

    def __init__(self) -> None:
        super().__init__(orientation="left")
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802
        levels: list[tuple[float, list[float]]] = []
        seen: set[float] = set()
        for spacing, values in super().tickValues(minVal, maxVal, size):
            whole = [float(round(v)) for v in values if v > -1e-9 and abs(v - round(v)) < 1e-9]
            levels.append((max(spacing, 1.0), [v for v in whole if v not in seen]))
            seen.update(whole)
        return levels


def count_range(counts: Any) -> tuple[float, float]:
    """The histogram's y range: from 0 to a little above the tallest bar (1 when there is none)."""
    tallest = float(np.max(counts)) if len(counts) else 0.0
    return 0.0, max(tallest, 1.0) * 1.08


class TimelineView(QWidget):
    """Events over time, the as-of cursor, a region, the selected stream's events and markers.

    Attributes:
        context: the app's shared state.
        plot: the histogram PlotItem (date axis, cursor, region, head and checkpoint lines).
        lane: the marker lane PlotItem (stream events at y=1, bookmarks at y=0), x-linked.
        cursor_line: the draggable as-of cursor (InfiniteLine).
        region_item: the range selection (LinearRegionItem), visible while a range is set.
        stream_points / bookmark_points: the lane's ScatterPlotItems.
        stream_positions: the selected stream's positions (ascending).
        reader: the latest-wins background reader.

    Signals:
        histogram_shown(object): (start seconds, end seconds, counts) after a (re)bucketing.
        markers_shown(int): the number of the selected stream's events marked.
        playing_changed(bool): replay started or stopped.
    """

    histogram_shown = Signal(object)
    markers_shown = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.reader = LatestReader(name="timeline", parent=self)
        self.stream_positions: list[int] = []
        self._stream_times: list[float] = []
        self._span: tuple[float, float] | None = None
        self._syncing = False  # True while we move items ourselves (their signals are not the user's)
        self._drag_x: float | None = None
        self._checkpoint_lines: list[pg.InfiniteLine] = []
        self._checkpoints: dict[str, int] = {}
        self._play_credit = 0.0
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("")

        self._build_toolbar()
        self._build_plots()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(self.toolbar)
        layout.addWidget(self.graphics, 1)

        self._drag_timer = QTimer(self, singleShot=True, interval=DRAG_INTERVAL_MS)
        self._drag_timer.timeout.connect(self._apply_drag)
        self._rebucket_timer = QTimer(self, singleShot=True, interval=REBUCKET_DELAY_MS)
        self._rebucket_timer.timeout.connect(self.request_histogram)
        self._play_timer = QTimer(self, interval=PLAY_TICK_MS)
        self._play_timer.timeout.connect(self._play_tick)

        context.store_changed.connect(self._store_changed)
        context.position_changed.connect(self._position_changed)
        context.head_changed.connect(self._head_changed)
        context.stream_selected.connect(lambda _sid: self.request_markers())
        context.region_changed.connect(self._region_changed)
        context.checkpoints_changed.connect(self._show_checkpoints)
        context.bookmarks_changed.connect(self._show_bookmarks)
        self._apply_palette()
        self._store_changed(context.store)

    # -- building --------------------------------------------------------------------------------

    def _tool(self, icon: QStyle.StandardPixmap | None, text: str, tip: str, slot: Any,
              checkable: bool = False) -> QToolButton:
        button = QToolButton()
        if icon is not None:
            button.setIcon(self.style().standardIcon(icon))
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        (button.toggled if checkable else button.clicked).connect(slot)
        self.toolbar.addWidget(button)
        return button

    def _build_toolbar(self) -> None:
        self.toolbar = QHBoxLayout()
        self.toolbar.setSpacing(2)
        # Text glyphs rather than the style's media icons: those are drawn dark on any palette.
        self.first_button = self._tool(None, "|◀", "First event (Home; Ctrl+Home anywhere)",
                                       lambda: go_first(self.context))
        self.back_button = self._tool(None, "◀", "One event back (Left; Alt+Left anywhere)",
                                      lambda: step(self.context, -1))
        self.play_button = self._tool(None, "▶ Play",
                                      "Replay history from the cursor at the chosen speed (Space; Alt+P anywhere)",
                                      self.set_playing, checkable=True)
        self.forward_button = self._tool(None, "▶",
                                         "One event forward (Right; Alt+Right anywhere)",
                                         lambda: step(self.context, +1))
        self.last_button = self._tool(None, "▶|", "Last event: the head (End; Ctrl+End anywhere)",
                                      lambda: go_last(self.context))
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:,} events/s", speed)
        self.speed.setCurrentIndex(SPEEDS.index(10))
        self.speed.setToolTip("Replay speed, in events per second")
        self.toolbar.addWidget(self.speed)
        self.range_button = self._tool(None, "Range", "Select a range of time (sets the range other views and "
                                       "Compare use); drag its edges", self.set_range_visible, checkable=True)
        self.fit_button = self._tool(None, "Fit", "Zoom out to the whole store (mouse wheel zooms, "
                                     "dragging the background pans)", self.zoom_to_fit)
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setToolTip("The as-of cursor: every view shows the store as of this event")
        self.toolbar.addSpacing(8)
        self.toolbar.addWidget(self.info, 1)
        # The date axis's caption: here, it costs the histogram no height.
        self.dates = QLabel()
        self.dates.setTextFormat(Qt.TextFormat.PlainText)
        self.dates.setToolTip("The dates of the time shown (UTC)")
        self.dates.setContentsMargins(16, 0, 4, 0)  # apart from the cursor's text when the window is narrow
        self.toolbar.addWidget(self.dates)

    def _build_plots(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(170)
        self.graphics.installEventFilter(self)
        axis = UtcDateAxis(shows_caption=False)
        axis.caption_changed.connect(self.dates.setText)
        self.dates.setText(axis.caption)
        self.plot = self.graphics.addPlot(row=0, col=0, axisItems={"bottom": axis, "left": CountAxis()})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.plot.getAxis("left").setLabel("events")
        self.plot.getViewBox().setMouseEnabled(x=True, y=False)
        # Set from the counts shown (`count_range`): auto-range centres an all-zero histogram on 0.
        self.plot.getViewBox().disableAutoRange(axis="y")
        self.plot.setYRange(*count_range([]), padding=0)
        self.histogram = pg.PlotDataItem(stepMode="center", fillLevel=0)
        self.plot.addItem(self.histogram)

        self.lane = self.graphics.addPlot(row=1, col=0)
        self.lane.setMenuEnabled(False)
        self.lane.hideButtons()
        self.lane.setMaximumHeight(50)
        self.lane.setXLink(self.plot)
        self.lane.hideAxis("bottom")
        left = self.lane.getAxis("left")
        left.setWidth(AXIS_WIDTH)
        left.setTicks([[(1, "stream"), (0, "bookmarks")]])
        self.lane.setYRange(-0.6, 1.6, padding=0)
        self.lane.getViewBox().setMouseEnabled(x=True, y=False)
        self.graphics.ci.layout.setRowStretchFactor(0, 5)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)

        self.stream_points = pg.ScatterPlotItem(symbol="d", size=10, hoverable=True, tip=self._stream_tip)
        self.stream_points.sigClicked.connect(self._marker_clicked)
        self.lane.addItem(self.stream_points)
        self.bookmark_points = pg.ScatterPlotItem(symbol="t1", size=12, hoverable=True, tip=self._bookmark_tip)
        self.bookmark_points.sigClicked.connect(self._marker_clicked)
        self.lane.addItem(self.bookmark_points)
        # The cursor crosses these on every move; cached pixmaps spare redrawing thousands of
        # markers and histogram steps for each thin strip the moving line uncovers.
        cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
        for item in (self.stream_points, self.bookmark_points, self.histogram.curve):
            item.setCacheMode(cache)
        self._bookmark_notes: dict[int, str] = {}

        self.head_line = pg.InfiniteLine(angle=90, movable=False, label="head",
                                         labelOpts={"position": 0.95, "anchors": [(1, 0), (1, 0)]})
        self.plot.addItem(self.head_line, ignoreBounds=True)
        self.region_item = pg.LinearRegionItem(movable=True)
        self.region_item.setZValue(-5)
        self.region_item.setToolTip("The selected range: drag it or its edges")
        self.region_item.setVisible(False)
        self.region_item.sigRegionChangeFinished.connect(self._region_dragged)
        self.plot.addItem(self.region_item, ignoreBounds=True)
        self.cursor_line = pg.InfiniteLine(angle=90, movable=True, label="",
                                           labelOpts={"position": 0.88, "anchors": [(0, 0), (0, 0)]})
        self.cursor_line.setZValue(20)
        self.cursor_line.setToolTip("The as-of cursor: drag it to travel in time")
        self.cursor_line.sigPositionChanged.connect(self._cursor_dragged)
        self.cursor_line.sigPositionChangeFinished.connect(self._cursor_released)
        self.plot.addItem(self.cursor_line, ignoreBounds=True)
        self.lane_cursor = pg.InfiniteLine(angle=90, movable=False)
        self.lane.addItem(self.lane_cursor, ignoreBounds=True)
        self.plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._rebucket_timer.start())

    # -- palette ---------------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        accent = palette.color(QPalette.ColorRole.Highlight)
        dark = base.lightness() < 128
        self.graphics.setBackground(base)
        for plot in (self.plot, self.lane):
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
        bars = QColor(accent)
        bars.setAlpha(110)
        self.histogram.setPen(pg.mkPen(accent, width=1))
        self.histogram.setBrush(pg.mkBrush(bars))
        cursor = QColor("#ff6e40") if dark else QColor("#d84315")
        self.cursor_line.setPen(pg.mkPen(cursor, width=2))
        self.cursor_line.setHoverPen(pg.mkPen(cursor, width=4))
        self.cursor_line.label.setColor(cursor)
        self.lane_cursor.setPen(pg.mkPen(cursor, width=1))
        head = QColor(text)
        head.setAlpha(160)
        self.head_line.setPen(pg.mkPen(head, width=1))
        self.head_line.label.setColor(head)
        region = QColor(accent)
        region.setAlpha(45)
        self.region_item.setBrush(pg.mkBrush(region))
        stream = QColor("#ffca28") if dark else QColor("#6a1b9a")
        self.stream_points.setBrush(pg.mkBrush(stream))
        self.stream_points.setPen(pg.mkPen(text, width=0.5))
        mark = QColor("#66bb6a") if dark else QColor("#2e7d32")
        self.bookmark_points.setBrush(pg.mkBrush(mark))
        self.bookmark_points.setPen(pg.mkPen(mark))
        self._checkpoint_color = QColor("#4fc3f7") if dark else QColor("#01579b")
        for line in self._checkpoint_lines:
            line.setPen(pg.mkPen(self._checkpoint_color, width=1, style=Qt.PenStyle.DashLine))
            line.label.setColor(self._checkpoint_color)

    # -- time <-> position -----------------------------------------------------------------------

    def time_of(self, position: int) -> float | None:
        """The recorded time (seconds) of `position`; one indexed lookup on the GUI connection."""
        store = self.context.store
        if store is None or position <= 0:
            return self._span[0] if self._span else None
        when = store.recorded_at_of(position)
        return to_seconds(when) if when is not None else None

    def position_at(self, seconds: float) -> int:
        """The last position recorded at or before `seconds` (0 before the first event)."""
        store = self.context.store
        if store is None:
            return 0
        return min(store.position_at_time(from_seconds(seconds)), self.context.head)

    # -- store, head -----------------------------------------------------------------------------

    def _store_changed(self, store: Any) -> None:
        self.set_playing(False)
        self.stream_positions, self._stream_times = [], []
        self.stream_points.clear()
        self._span = None
        self.histogram.setData([], [])
        self.plot.setYRange(*count_range([]), padding=0)
        if store is not None:
            span = store.time_span()  # two indexed lookups
            if span is not None:
                self._span = (to_seconds(span[0]), to_seconds(span[1]))
        self._set_limits()
        self.zoom_to_fit()
        self._head_changed(self.context.head)
        self._position_changed(self.context.position)
        self._region_changed(self.context.region)
        self._show_checkpoints(self.context.checkpoints)
        self._show_bookmarks(self.context.bookmarks)
        self.request_markers()

    def _set_limits(self) -> None:
        lo, hi = empty_range() if self._span is None else fit_range(*self._span)
        pad = max((hi - lo) * 0.02, 1.0)
        self.plot.getViewBox().setLimits(xMin=lo - pad, xMax=hi + pad, minXRange=1.0)

    def zoom_to_fit(self) -> None:
        """Show the whole store (at least a minute around events that lie closer together; the
        hour around now for a store without events)."""
        lo, hi = empty_range() if self._span is None else fit_range(*self._span)
        self.plot.setXRange(lo, hi, padding=0.01)
        self.request_histogram()

    def _head_changed(self, head: int) -> None:
        store = self.context.store
        when = self.time_of(head) if head > 0 else None
        if store is not None and when is not None and self._span is None:  # a store opened empty got events
            span = store.time_span()
            if span is not None:
                self._span = (to_seconds(span[0]), to_seconds(span[1]))
                self._set_limits()
                self.zoom_to_fit()
                self._rebucket_timer.start()
        elif store is not None and when is not None and self._span is not None and when > self._span[1]:
            self._span = (self._span[0], when)
            self._set_limits()
            self._rebucket_timer.start()
        self.head_line.setVisible(when is not None)
        if when is not None:
            self.head_line.setValue(when)
        self._label_head()
        self._update_info()

    # -- the histogram ---------------------------------------------------------------------------

    def request_histogram(self) -> None:
        """Recompute events per bucket for the visible range, in the background."""
        store = self.context.store
        if store is None or self._span is None:
            return
        # The whole visible range, so buckets are a few pixels wide whatever the events' span
        # (a one-event store's 1 s span in a minute's view made a bar a tenth of a pixel wide).
        (lo, hi), _ = self.plot.getViewBox().viewRange()
        width = max(self.plot.getViewBox().width(), 200.0)
        buckets = int(min(400, max(20, width / 4)))

        def job(conn: Connections, _cancelled: Any) -> tuple[float, float, list[int]]:
            start, end = from_seconds(lo), from_seconds(hi)
            return lo, hi, conn.store.histogram(start, end, buckets)

        self.reader.submit(store, "histogram", job, self._show_histogram)

    def _show_histogram(self, result: tuple[float, float, list[int]]) -> None:
        lo, hi, counts = result
        # The store's buckets are ceil((hi - lo + 1 µs) / n) wide; draw the same edges.
        lo_us, hi_us = round(lo * 1e6), round(hi * 1e6)
        width_us = max(1, -(-(hi_us - lo_us + 1) // max(1, len(counts))))
        edges = (lo_us + np.arange(len(counts) + 1, dtype=np.float64) * width_us) / 1e6
        self.histogram.setData(edges, np.asarray(counts, dtype=np.float64))
        self.plot.setYRange(*count_range(counts), padding=0)
        self.histogram_shown.emit(result)

    # -- the cursor ------------------------------------------------------------------------------

    def _position_changed(self, position: int) -> None:
        if self._drag_x is None or not self.cursor_line.moving:
            when = self.time_of(position)
            if when is not None:
                self._syncing = True
                try:
                    self.cursor_line.setValue(when)
                finally:
                    self._syncing = False
                self._follow(when)
        self.lane_cursor.setValue(self.cursor_line.value())
        self.cursor_line.label.setFormat(f"#{position:,}")
        self._update_info()

    def _follow(self, when: float) -> None:
        """Keep the cursor in view while playing or stepping (not while the user pans)."""
        (x0, x1), _ = self.plot.getViewBox().viewRange()
        if not (x0 <= when <= x1) and x1 > x0:
            half = (x1 - x0) / 2
            self.plot.setXRange(when - half, when + half, padding=0)

    def _update_info(self) -> None:
        position, head = self.context.position, self.context.head
        if self.context.store is None:
            self.info.setText("No store open")
            return
        when = self.time_of(position) if position > 0 else None
        text = f"Position {position:,} of {head:,}"
        if when is not None:
            text += f" · {format_time(from_seconds(when))[:19].replace('T', ' ')} UTC"
        if self.context.region is not None:
            first, last = self.context.region
            text += f" · range {first:,}–{last:,}"
        self.info.setText(text)

    def _cursor_dragged(self, line: pg.InfiniteLine) -> None:
        if self._syncing:
            return
        self.set_playing(False)
        self._drag_x = float(line.value())
        self.lane_cursor.setValue(self._drag_x)
        if not self._drag_timer.isActive():
            # The first move applies at once; the rest of the drag at most every DRAG_INTERVAL_MS.
            self._apply_drag()
            self._drag_timer.start()

    def _apply_drag(self) -> None:
        if self._drag_x is None:
            return
        x = self._drag_x
        self.context.set_position(self.position_at(x))
        if not self.cursor_line.moving:
            self._drag_x = None

    def _cursor_released(self, _line: Any = None) -> None:
        if self._syncing:
            return
        self._drag_timer.stop()
        if self._drag_x is None:
            self._drag_x = float(self.cursor_line.value())
        x = self._drag_x
        self._drag_x = None
        self.context.set_position(self.position_at(x))
        self._position_changed(self.context.position)  # snap the line onto the event's time

    # -- stream and bookmark markers -------------------------------------------------------------

    def request_markers(self) -> None:
        """Load the selected stream's (position, time) pairs in the background."""
        store, stream_id = self.context.store, self.context.stream_id
        if store is None or stream_id is None:
            self.reader.forget("markers")
            self.stream_positions, self._stream_times = [], []
            self.stream_points.clear()
            self.markers_shown.emit(0)
            return

        def job(conn: Connections, cancelled: Any) -> tuple[str, list[int], list[float]]:
            positions: list[int] = []
            times: list[float] = []
            for event in conn.store.read_stream(stream_id):
                positions.append(event.position)
                times.append(to_seconds(event.recorded_at))
                if len(positions) % 2000 == 0 and cancelled():
                    break
            return stream_id, positions, times

        self.reader.submit(store, "markers", job, self._show_markers)

    def _show_markers(self, result: tuple[str, list[int], list[float]]) -> None:
        stream_id, positions, times = result
        if stream_id != self.context.stream_id:
            return
        self.stream_positions, self._stream_times = positions, times
        self.stream_points.setData(x=times, y=[1.0] * len(times), data=positions)
        self.markers_shown.emit(len(positions))

    def _stream_tip(self, x: float, y: float, data: Any) -> str:
        return f"#{int(data):,} · {format_time(from_seconds(x))[:19].replace('T', ' ')} UTC — click to move the cursor"

    def _bookmark_tip(self, x: float, y: float, data: Any) -> str:
        return f"Bookmark #{int(data):,}: {self._bookmark_notes.get(int(data), '')}"

    def _marker_clicked(self, _item: Any, points: Any, *_args: Any) -> None:
        if len(points):
            position = int(points[0].data())
            self.context.set_position(position)
            self.context.event_selected.emit(position)

    def _show_bookmarks(self, bookmarks: list[tuple[int, str]]) -> None:
        marks = [(p, note) for p, note in bookmarks if 0 < p]
        self._bookmark_notes = {p: note for p, note in marks}
        xs, ps = [], []
        for position, _note in marks:
            when = self.time_of(position)
            if when is not None:
                xs.append(when)
                ps.append(position)
        self.bookmark_points.setData(x=xs, y=[0.0] * len(xs), data=ps)

    def _show_checkpoints(self, checkpoints: dict[str, int]) -> None:
        """One dashed line per checkpoint position (read models at the same place share it);
        the read models that have caught up with the head are named on the head line instead."""
        self._checkpoints = dict(checkpoints)
        for line in self._checkpoint_lines:
            self.plot.removeItem(line)
        self._checkpoint_lines = []
        by_position: dict[int, list[str]] = {}
        for name, position in checkpoints.items():
            by_position.setdefault(position, []).append(name)
        head = self.context.head
        for position, names in sorted(by_position.items()):
            names.sort()
            when = self.time_of(position) if 0 < position < head else None
            if when is None:
                continue
            shown = ", ".join(names) if len(names) <= 2 else f"{names[0]} +{len(names) - 1}"
            line = pg.InfiniteLine(pos=when, angle=90, movable=False, label=f"{shown} #{position:,}",
                                   pen=pg.mkPen(self._checkpoint_color, width=1, style=Qt.PenStyle.DashLine),
                                   labelOpts={"position": 0.15 + 0.14 * (len(self._checkpoint_lines) % 5),
                                              "color": self._checkpoint_color, "anchors": [(1, 0), (1, 0)]})
            line.setToolTip(f"Read model checkpoint at position {position:,} ({head - position:,} events behind "
                            f"the head): {', '.join(names)}")
            self.plot.addItem(line, ignoreBounds=True)
            self._checkpoint_lines.append(line)
        self._label_head()

    def _label_head(self) -> None:
        head = self.context.head
        live = sorted(name for name, position in self._checkpoints.items() if position >= head > 0)
        text = f"head #{head:,}"
        if live:
            text += f" · {len(live)} read model{'s' if len(live) > 1 else ''} caught up"
        self.head_line.label.setFormat(text)
        self.head_line.setToolTip(f"The store's last event, #{head:,}" +
                                  (f"; caught up: {', '.join(live)}" if live else ""))

    # -- the range -------------------------------------------------------------------------------

    def set_range_visible(self, visible: bool) -> None:
        """Show the range selection (over the middle of the view) or clear it."""
        if self.range_button.isChecked() != visible:
            self.range_button.setChecked(visible)  # re-enters through toggled
            return
        if not visible:
            self.region_item.setVisible(False)
            self.context.set_region(None)
            return
        if self.context.region is None:
            (x0, x1), _ = self.plot.getViewBox().viewRange()
            third = (x1 - x0) / 3
            self._syncing = True
            try:
                self.region_item.setRegion((x0 + third, x1 - third))
            finally:
                self._syncing = False
            self.region_item.setVisible(True)
            self._region_dragged()
        else:
            self.region_item.setVisible(True)

    def _region_dragged(self, *_args: Any) -> None:
        if self._syncing or not self.region_item.isVisible():
            return
        lo, hi = self.region_item.getRegion()
        first = self.position_at(lo - 1e-6) + 1
        last = self.position_at(hi)
        self.context.set_region((first, last) if last >= first else None)

    def _region_changed(self, region: tuple[int, int] | None) -> None:
        if region is None:
            self.region_item.setVisible(False)
            if self.range_button.isChecked():
                self.range_button.blockSignals(True)
                self.range_button.setChecked(False)
                self.range_button.blockSignals(False)
        else:
            lo, hi = self.time_of(region[0]), self.time_of(region[1])
            if lo is not None and hi is not None:
                current = self.region_item.getRegion()
                # Leave the item where the user put it if it already covers these events.
                if self.position_at(current[1]) != region[1] or self.position_at(current[0] - 1e-6) + 1 != region[0]:
                    self._syncing = True
                    try:
                        self.region_item.setRegion((lo, hi))
                    finally:
                        self._syncing = False
                self.region_item.setVisible(True)
                self.range_button.blockSignals(True)
                self.range_button.setChecked(True)
                self.range_button.blockSignals(False)
        self._update_info()

    # -- keys and play ---------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.KeyPress and self.handle_key(event):  # type: ignore[arg-type]
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if not self.handle_key(event):
            super().keyPressEvent(event)

    def handle_key(self, event: QKeyEvent) -> bool:
        """Left/Right: one event; Shift+Left/Right: the stream's previous/next event;
        PageUp/PageDown: 100 events; Home/End: first/last; Space: play/pause."""
        key, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            forward = key == Qt.Key.Key_Right
            if shift:
                self.step_in_stream(+1 if forward else -1)
            else:
                step(self.context, +1 if forward else -1)
        elif key == Qt.Key.Key_PageUp:
            step(self.context, -PAGE_STEP)
        elif key == Qt.Key.Key_PageDown:
            step(self.context, +PAGE_STEP)
        elif key == Qt.Key.Key_Home:
            go_first(self.context)
        elif key == Qt.Key.Key_End:
            go_last(self.context)
        elif key == Qt.Key.Key_Space:
            self.set_playing(not self.is_playing)
        else:
            return False
        if key != Qt.Key.Key_Space:
            self.set_playing(False)
        return True

    def step_in_stream(self, direction: int) -> None:
        """Move the cursor to the selected stream's previous (-1) or next (+1) event."""
        positions, position = self.stream_positions, self.context.position
        if not positions:
            return
        if direction > 0:
            i = bisect.bisect_right(positions, position)
            if i < len(positions):
                self.context.set_position(positions[i])
        else:
            i = bisect.bisect_left(positions, position) - 1
            if i >= 0:
                self.context.set_position(positions[i])

    @property
    def is_playing(self) -> bool:
        return self._play_timer.isActive()

    def set_playing(self, playing: bool) -> None:
        """Start or stop replaying history from the cursor at the chosen speed."""
        playing = bool(playing) and self.context.store is not None and self.context.head > 0
        if playing and not self.is_playing:
            if self.context.position >= self.context.head:
                go_first(self.context)  # replay from the start, like a player at its end
            self._play_credit = 0.0
            self._play_timer.start()
        elif not playing and self.is_playing:
            self._play_timer.stop()
        else:
            return
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(False)
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
        self.playing_changed.emit(playing)

    def _play_tick(self) -> None:
        speed = float(self.speed.currentData() or 10)
        self._play_credit += speed * PLAY_TICK_MS / 1000.0
        steps = int(self._play_credit)
        if steps <= 0:
            return
        self._play_credit -= steps
        target = min(self.context.position + steps, self.context.head)
        self.context.set_position(target)
        if target >= self.context.head:
            self.set_playing(False)


# -- cursor moves shared with the main window's actions ------------------------------------------


def step(context: AppContext, delta: int) -> None:
    """Move the as-of cursor `delta` events (clamped to 1..head)."""
    if context.head > 0:
        context.set_position(max(1, min(context.position + delta, context.head)))


def go_first(context: AppContext) -> None:
    if context.head > 0:
        context.set_position(1)


def go_last(context: AppContext) -> None:
    context.set_position(context.head)


def _timeline_of(window: Any) -> TimelineView | None:
    return window.findChild(TimelineView) if window is not None else None


def step_back(window: Any, context: AppContext) -> None:
    """ACTIONS handler: one event back (Alt+Left, so arrows stay with tables)."""
    step(context, -1)


def step_forward(window: Any, context: AppContext) -> None:
    """ACTIONS handler: one event forward (Alt+Right)."""
    step(context, +1)


def first_event(window: Any, context: AppContext) -> None:
    """ACTIONS handler: the first event (Ctrl+Home)."""
    go_first(context)


def last_event(window: Any, context: AppContext) -> None:
    """ACTIONS handler: the head (Ctrl+End)."""
    go_last(context)


def toggle_play(window: Any, context: AppContext) -> None:
    """ACTIONS handler: play or pause the replay (Alt+P)."""
    timeline = _timeline_of(window)
    if timeline is not None:
        timeline.set_playing(not timeline.is_playing)


def create(context: AppContext) -> TimelineView:
    """The view factory the main window calls (VIEWS)."""
    return TimelineView(context=context)
