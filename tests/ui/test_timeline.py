"""The timeline: dragging the cursor, keys, actions, markers, range, histogram and play all move the
global as-of cursor, and the state view follows to exactly what TimeTravel.state_at says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QMainWindow, QSplitter

from explorer.store import NewEvent
from explorer.store.base_types import ANY
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.views import ACTIONS, VIEWS
from explorer.ui.views import timeline as timeline_module
from explorer.ui.views.state_view import StateView, leaf_values
from explorer.ui.views.timeline import TimelineView
from tests.helpers.ui import dark_palette
from tests.helpers.asof import asof_context, reference_state, save_artifact  # noqa: F401 - asof_context is a fixture


@pytest.fixture
def context(asof_context: AppContext) -> AppContext:
    return asof_context


@pytest.fixture
def views(qtbot, context: AppContext) -> Iterator[tuple[TimelineView, StateView, QSplitter]]:
    splitter = QSplitter(Qt.Orientation.Vertical)
    state = StateView(context=context)
    timeline = TimelineView(context=context)
    splitter.addWidget(state)
    splitter.addWidget(timeline)
    qtbot.addWidget(splitter)
    splitter.resize(1000, 700)
    splitter.show()
    qtbot.waitExposed(splitter)
    yield timeline, state, splitter
    timeline.set_playing(False)
    timeline.reader.wait()
    state.reader.wait()


def state_matches(qtbot, context: AppContext, state: StateView) -> None:
    """Wait until the tree shows the cursor's state, then compare it with TimeTravel.state_at."""
    sid, position = context.stream_id, context.position
    qtbot.waitUntil(lambda: state.result is not None and state.result.position == context.position
                    and state.result.stream_id == sid, timeout=5000)
    expected = reference_state(context.store, sid, position)
    assert state.result.state == expected
    assert state.model.as_state() == leaf_values(expected)


def test_registered_in_the_view_registry() -> None:
    keys = {v.key: v for v in VIEWS}
    assert keys["timeline"].area == "bottom" and keys["state"].area == "right"
    shortcuts = {a.shortcut for a in ACTIONS}
    assert {"Alt+Left", "Alt+Right", "Ctrl+Home", "Ctrl+End"} <= shortcuts
    assert "Left" not in shortcuts and "Right" not in shortcuts  # arrows stay with tables


def test_dragging_the_cursor_moves_the_as_of_cursor_and_the_state(qtbot, context, views) -> None:
    timeline, state, _ = views
    sid = context.test_stream_id
    context.select_stream(sid)
    target = [e for e in context.store.read_stream(sid)][10]
    x = target.recorded_at.timestamp()
    # a programmatic setValue is what a drag does to the line; the release finishes it
    timeline.cursor_line.setValue(x)
    timeline.cursor_line.sigPositionChangeFinished.emit(timeline.cursor_line)
    assert context.position == context.store.position_at_time(target.recorded_at)
    assert context.position >= target.position
    state_matches(qtbot, context, state)

    # a real drag: many moves while `moving`, throttled, then the release applies the last one
    events = list(context.store.read_all(1, 1500))
    timeline.cursor_line.moving = True
    for event in events[100:1500:50]:
        timeline.cursor_line.setValue(event.recorded_at.timestamp())
    last = events[1450]
    timeline.cursor_line.moving = False
    timeline.cursor_line.sigPositionChangeFinished.emit(timeline.cursor_line)
    assert context.position == context.store.position_at_time(last.recorded_at)
    # the line snaps onto the event the cursor now stands on
    assert timeline.cursor_line.value() == pytest.approx(
        context.store.recorded_at_of(context.position).timestamp())
    state_matches(qtbot, context, state)


def test_keys_step_and_jump(qtbot, context, views) -> None:
    timeline, state, _ = views
    sid = context.test_stream_id
    context.select_stream(sid)
    context.set_position(500)
    timeline.setFocus()
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    assert context.position == 501
    state_matches(qtbot, context, state)
    qtbot.keyClick(timeline, Qt.Key.Key_Left)
    qtbot.keyClick(timeline, Qt.Key.Key_Left)
    assert context.position == 499
    state_matches(qtbot, context, state)
    qtbot.keyClick(timeline, Qt.Key.Key_PageDown)
    assert context.position == 599
    qtbot.keyClick(timeline, Qt.Key.Key_Home)
    assert context.position == 1
    state_matches(qtbot, context, state)
    qtbot.keyClick(timeline, Qt.Key.Key_End)
    assert context.position == context.head
    state_matches(qtbot, context, state)
    # keys pressed on the plot itself reach the timeline too
    qtbot.keyClick(timeline.graphics, Qt.Key.Key_Left)
    assert context.position == context.head - 1
    # Shift+arrows walk the selected stream's own events
    with qtbot.waitSignal(timeline.markers_shown, timeout=5000):
        timeline.request_markers()
    positions = timeline.stream_positions
    context.set_position(positions[4] + 1 if positions[5] > positions[4] + 1 else positions[4])
    qtbot.keyClick(timeline, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert context.position == positions[5]
    qtbot.keyClick(timeline, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert context.position == positions[4]
    state_matches(qtbot, context, state)


def test_actions_move_the_cursor_and_toggle_play(qtbot, context) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    timeline = TimelineView(context=context)
    window.setCentralWidget(timeline)
    context.set_position(10)
    timeline_module.step_forward(window, context)
    assert context.position == 11
    timeline_module.step_back(window, context)
    timeline_module.step_back(window, context)
    assert context.position == 9
    timeline_module.last_event(window, context)
    assert context.position == context.head
    timeline_module.first_event(window, context)
    assert context.position == 1
    timeline_module.step_back(window, context)
    assert context.position == 1  # clamped at the first event
    with qtbot.waitSignal(timeline.playing_changed) as started:
        timeline_module.toggle_play(window, context)
    assert started.args == [True]
    timeline_module.toggle_play(window, context)
    assert not timeline.is_playing
    timeline.reader.wait()


def test_clicking_a_stream_marker_moves_the_cursor(qtbot, context, views) -> None:
    timeline, state, _ = views
    sid = context.test_stream_id
    with qtbot.waitSignal(timeline.markers_shown, timeout=5000) as shown:
        context.select_stream(sid)
    expected = [e.position for e in context.store.read_stream(sid)]
    assert shown.args == [len(expected)] and timeline.stream_positions == expected
    point = timeline.stream_points.points()[7]
    with qtbot.waitSignal(context.event_selected) as picked:
        timeline.stream_points.sigClicked.emit(timeline.stream_points, [point], None)
    assert picked.args == [expected[7]] and context.position == expected[7]
    state_matches(qtbot, context, state)
    # deselecting clears the markers
    with qtbot.waitSignal(timeline.markers_shown) as cleared:
        context.select_stream(None)
    assert cleared.args == [0] and len(timeline.stream_points.points()) == 0


def test_histogram_counts_every_event_and_rebuckets_on_zoom(qtbot, context, views) -> None:
    timeline, _, _ = views
    with qtbot.waitSignal(timeline.histogram_shown, timeout=5000) as full:
        timeline.zoom_to_fit()
    assert sum(full.args[0][2]) == context.head
    first = context.store.recorded_at_of(400).timestamp()
    last = context.store.recorded_at_of(900).timestamp()
    with qtbot.waitSignal(timeline.histogram_shown, timeout=5000,
                          check_params_cb=lambda result: abs(result[0] - first) < 1.0) as zoomed:
        timeline.plot.setXRange(first, last, padding=0)
    lo, hi, counts = zoomed.args[0]
    assert lo == pytest.approx(first, abs=1.0) and hi == pytest.approx(last, abs=1.0)
    inside = sum(1 for e in context.store.read_all(1) if lo <= e.recorded_at.timestamp() <= hi)
    assert sum(counts) == inside


def test_range_selection_sets_the_region_and_follows_it(qtbot, context, views) -> None:
    timeline, _, _ = views
    with qtbot.waitSignal(context.region_changed) as changed:
        timeline.range_button.click()
    first, last = changed.args[0]
    lo, hi = timeline.region_item.getRegion()
    times = {e.position: e.recorded_at.timestamp() for e in context.store.read_all(1)}
    assert all(lo <= times[p] <= hi for p in (first, last))
    assert first == 1 or times[first - 1] < lo
    assert last == context.head or times[last + 1] > hi
    # a region set elsewhere (e.g. a table selection) moves the item
    context.set_region((300, 700))
    lo, hi = timeline.region_item.getRegion()
    assert lo == pytest.approx(times[300]) and hi == pytest.approx(times[700])
    assert "range 300–700" in timeline.info.text()
    with qtbot.waitSignal(context.region_changed) as cleared:
        timeline.range_button.click()
    assert cleared.args == [None] and not timeline.region_item.isVisible()


def test_checkpoint_bookmark_and_head_markers(qtbot, context, views) -> None:
    timeline, _, splitter = views
    context.set_checkpoints({"registry": 1200, "search": 800, "graph": 1200, "analytics": context.head})
    assert [line.value() for line in timeline._checkpoint_lines] == [
        pytest.approx(context.store.recorded_at_of(p).timestamp()) for p in (800, 1200)]
    assert "graph, registry #1,200" in timeline._checkpoint_lines[1].label.toPlainText()
    assert "1 read model caught up" in timeline.head_line.label.toPlainText()
    context.set_bookmarks([(100, "first look"), (1500, "<b>odd</b>")])
    assert sorted(p.data() for p in timeline.bookmark_points.points()) == [100, 1500]
    assert timeline._bookmark_tip(0, 0, 1500) == "Bookmark #1,500: <b>odd</b>"
    # the store grows: the head marker follows
    result = context.store.append(context.test_stream_id, "Device",
                                  [NewEvent("DeviceRenamed", {"name": "later"})], ANY)
    context.set_head(result.last_position)
    assert timeline.head_line.value() == pytest.approx(
        context.store.recorded_at_of(result.last_position).timestamp())
    with qtbot.waitSignal(timeline.markers_shown, timeout=5000):
        context.select_stream(context.test_stream_id)
    context.set_region((600, 1300))
    context.set_position(1000)
    state_matches(qtbot, context, views[1])
    save_artifact(splitter, "timeline_and_state.png")


def test_play_replays_at_the_chosen_speed_and_stops_at_the_head(qtbot, context, views) -> None:
    timeline, state, _ = views
    context.select_stream(context.test_stream_id)
    timeline.speed.setCurrentIndex(timeline.speed.findData(1000))
    context.set_position(context.head - 120)
    with qtbot.waitSignal(timeline.playing_changed, timeout=5000,
                          check_params_cb=lambda playing: not playing) as stopped:
        timeline.play_button.click()
        assert timeline.is_playing and timeline.play_button.text().endswith("Pause")
    assert stopped.args == [False] and context.position == context.head
    state_matches(qtbot, context, state)
    # play at the head starts over from the first event; a key stops it
    timeline.play_button.click()
    assert timeline.is_playing and context.position < 10
    qtbot.keyClick(timeline, Qt.Key.Key_Right)
    assert not timeline.is_playing


def test_follows_a_dark_palette(qtbot, context, views) -> None:
    from PySide6.QtGui import QColor

    timeline, state, splitter = views
    with dark_palette():
        qtbot.waitUntil(lambda: timeline.graphics.backgroundBrush().color() == QColor("#17181a"))
        with qtbot.waitSignal(timeline.markers_shown, timeout=5000):
            context.select_stream(context.test_stream_id)
        context.set_bookmarks([(300, "a")])
        context.set_checkpoints({"registry": 900})
        context.set_region((400, 1200))
        context.set_position(1000)
        state_matches(qtbot, context, state)
        state.tree.expandAll()
        assert save_artifact(splitter, "timeline_and_state_dark.png").exists()


def test_a_store_opened_empty_gets_its_timeline_when_events_arrive(qtbot, tmp_path: Path) -> None:
    from explorer.store.sqlite import SQLiteEventStore

    store = SQLiteEventStore.create(tmp_path / "empty.evstore")
    context = AppContext()
    context.set_store(store)
    timeline = TimelineView(context=context)
    qtbot.addWidget(timeline)
    assert timeline._span is None
    store.append("device-1", "Device", [NewEvent("DeviceRenamed", {"name": "a"}) for _ in range(4)], ANY)
    context.set_head(store.head().position)
    assert timeline._span is not None and timeline._span[1] >= timeline._span[0]
    qtbot.waitUntil(lambda: sum(timeline.histogram.getData()[1] if timeline.histogram.getData()[1] is not None
                                else []) == 4, timeout=5000)
    timeline.reader.wait()
    context.set_store(None)


TIME_OF_DAY = r"\d\d:\d\d(:\d\d(\.\d\d\d)?)?"


def axis_labels(plot) -> list[str]:
    """The bottom axis's tick labels for the plot's visible range (as last drawn)."""
    axis = plot.getAxis("bottom")
    plot.scene().views()[0].grab()  # draw: the axis measures its labels with the painter's font
    (x0, x1), _ = plot.getViewBox().viewRange()
    return [label for spacing, values in axis.tickValues(x0, x1, axis.size().width())
            for label in axis.tickStrings(values, 1.0, spacing)]


def timeline_of(qtbot, store) -> TimelineView:
    context = AppContext()
    context.set_store(store)
    timeline = TimelineView(context=context)
    qtbot.addWidget(timeline)
    timeline.resize(900, 240)
    timeline.show()
    qtbot.waitExposed(timeline)
    return timeline


def test_the_axis_of_an_empty_store_is_the_hour_around_now_with_its_date(qtbot, tmp_path: Path) -> None:
    """Not "00.100 … 00.900" (a second of 1970)."""
    import re
    import time

    from explorer.store.sqlite import SQLiteEventStore

    timeline = timeline_of(qtbot, SQLiteEventStore.create(tmp_path / "empty.evstore"))
    (x0, x1), _ = timeline.plot.getViewBox().viewRange()
    assert x0 < time.time() < x1 and 3000 < x1 - x0 < 4000
    labels = axis_labels(timeline.plot)
    assert labels and all(re.fullmatch(TIME_OF_DAY, label) for label in labels), labels
    middle = timeline_module.from_seconds((x0 + x1) / 2)
    assert timeline.dates.text() == f"{middle:%Y-%m-%d} (UTC)"  # beside the toolbar, not under the axis
    timeline.context.set_store(None)


def test_events_within_one_second_are_shown_in_a_minute_with_their_date(qtbot, tmp_path: Path) -> None:
    """Not "38.700 … 39.599" without a date; zoomed in, the ticks still name the time of day."""
    import re
    from datetime import UTC, datetime, timedelta

    from explorer.store.sqlite import SQLiteEventStore

    times = iter(datetime(2026, 3, 9, 10, 15, 38, 700_000, tzinfo=UTC) + timedelta(milliseconds=30 * k)
                 for k in range(100))
    store = SQLiteEventStore.create(tmp_path / "burst.evstore", clock=lambda: next(times))
    store.append("order-1", "Order", [NewEvent("OrderPlaced", {"n": k}) for k in range(30)], ANY)
    timeline = timeline_of(qtbot, store)
    lo, hi = timeline._span
    (x0, x1), _ = timeline.plot.getViewBox().viewRange()
    assert hi - lo < 1 and x0 < lo and hi < x1 and x1 - x0 >= 60
    labels = axis_labels(timeline.plot)
    assert labels and all(re.fullmatch(TIME_OF_DAY, label) for label in labels), labels
    assert timeline.dates.text() == "2026-03-09 (UTC)"
    timeline.plot.setXRange(lo, lo + 2, padding=0)
    labels = axis_labels(timeline.plot)
    assert "10:15:39.000" in labels and all(re.fullmatch(TIME_OF_DAY, label) for label in labels), labels
    save_artifact(timeline, "timeline_one_second.png")
    timeline.reader.wait()
    timeline.context.set_store(None)


def store_at(path: Path, *moments: datetime) -> SQLiteEventStore:
    """A store with one event recorded at each of `moments` (UTC datetimes, ascending)."""
    now = [moments[0]]
    store = SQLiteEventStore.create(path, clock=lambda: now[0])
    for k, moment in enumerate(moments):
        now[0] = moment
        store.append("order-1", "Order", [NewEvent("OrderPlaced", {"n": k})], ANY)
    return store


def test_an_empty_span_counts_from_zero_with_a_plain_label(qtbot, tmp_path: Path) -> None:
    """QA F5: zoomed into a span without events the count axis ran from -500 to 500, "events (x0.0…"."""
    store = store_at(tmp_path / "gap.evstore", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
    timeline = timeline_of(qtbot, store)
    middle = datetime(2026, 10, 20, tzinfo=UTC).timestamp()
    with qtbot.waitSignal(timeline.histogram_shown, timeout=5000,
                          check_params_cb=lambda result: result[1] - result[0] < 100):
        timeline.plot.setXRange(middle, middle + 90, padding=0)
    timeline.graphics.grab()  # draw: the axis picks its ticks and scale when painted
    _, (y0, y1) = timeline.plot.getViewBox().viewRange()
    assert y0 == 0 and 1 <= y1 < 2
    left = timeline.plot.getAxis("left")
    import re

    assert re.sub(r"<[^>]*>", "", left.labelString()).replace("&nbsp;", " ").strip() == "events"  # not "(x0.001)"
    ticks = [value for _spacing, values in left.tickValues(y0, y1, left.size().height()) for value in values]
    assert ticks and all(value >= 0 and value == int(value) for value in ticks), ticks  # whole counts only
    save_artifact(timeline, "timeline-empty-span.png")
    timeline.context.set_store(None)


def test_one_event_is_a_visible_bar(qtbot, tmp_path: Path) -> None:
    """QA F6: a one-event store showed a flat stub at 0; its bucket was 1/20 s of a minute's view."""
    store = store_at(tmp_path / "single.evstore", datetime(2026, 3, 9, 10, 15, 38, tzinfo=UTC))
    timeline = timeline_of(qtbot, store)
    with qtbot.waitSignal(timeline.histogram_shown, timeout=5000) as shown:
        timeline.request_histogram()
    lo, hi, counts = shown.args[0]
    assert sum(counts) == 1
    view = timeline.plot.getViewBox()
    bucket_s = (hi - lo) / len(counts)
    pixels = view.mapViewToScene(QPointF(bucket_s, 0)).x() - view.mapViewToScene(QPointF(0, 0)).x()
    assert pixels >= 3, f"the bar is {pixels:.2f} px wide"
    _, (y0, y1) = view.viewRange()
    assert y0 == 0 and 1 <= y1 < 2  # the bar reaches most of the way up
    save_artifact(timeline, "timeline-one-event.png")
    timeline.context.set_store(None)


def test_month_and_day_ticks_do_not_run_together(qtbot, tmp_path: Path) -> None:
    """QA F6: Oct 1 to Nov 27 at 934 px read "NovNov 03": the month's tick beside a day's."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    moments = [start + timedelta(hours=6 * k) for k in range(120)] + [datetime(2026, 11, 27, 13, 46, tzinfo=UTC)]
    timeline = timeline_of(qtbot, store_at(tmp_path / "d.evstore", *moments))
    narrowest = timeline.minimumSizeHint().width()
    for width in range(narrowest, narrowest + 600, 20):
        timeline.resize(width, 240)
        qtbot.waitUntil(lambda w=width: timeline.width() == w)
        labels_do_not_overlap(timeline.plot)
    timeline.context.set_store(None)


def labels_do_not_overlap(plot) -> None:
    axis = plot.getAxis("bottom")
    plot.scene().views()[0].grab()
    (x0, x1), _ = plot.getViewBox().viewRange()
    width = axis.size().width()
    placed = sorted((width * (value - x0) / (x1 - x0), label)
                    for spacing, values in axis.tickValues(x0, x1, width)
                    for value, label in zip(values, axis.tickStrings(values, 1.0, spacing), strict=True)
                    if x0 <= value <= x1)
    metrics = axis.fontMetrics
    for (xa, a), (xb, b) in zip(placed, placed[1:]):
        room = (metrics.horizontalAdvance(a) + metrics.horizontalAdvance(b)) / 2
        assert xb - xa > room, f"{a!r} at {xa:.0f} px and {b!r} at {xb:.0f} px overlap ({placed})"
