"""The timeline and state view inside the real main window: a table row click, a marker click and
the global actions all end with the state tree showing what TimeTravel.state_at says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from explorer.ui.main_window import MainWindow
from explorer.ui.views.events import EventsView
from explorer.ui.views.state_view import StateView, leaf_values
from explorer.ui.views.timeline import TimelineView
from tests.helpers.asof import make_store, reference_state, save_artifact


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    store, stream_id = make_store(tmp_path / "demo.evstore")
    win = MainWindow(restore=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.context.set_store(store)
    win.test_stream_id = stream_id  # type: ignore[attr-defined]
    yield win
    for view in (win.findChild(StateView), win.findChild(TimelineView)):
        if view is not None:
            view.reader.wait()


def state_matches(qtbot, win: MainWindow) -> None:
    context, state = win.context, win.findChild(StateView)
    qtbot.waitUntil(lambda: state.result is not None and state.result.position == context.position
                    and state.result.stream_id == context.stream_id, timeout=5000)
    expected = reference_state(context.store, context.stream_id, context.position)
    assert state.result.state == expected
    assert state.model.as_state() == leaf_values(expected)


def test_the_window_builds_both_views(window) -> None:
    assert "timeline" in window.views and "state" in window.views
    assert "timeline" not in window.failed_views and "state" not in window.failed_views


def test_clicking_a_table_row_updates_the_state_tree(qtbot, window) -> None:
    context = window.context
    context.select_stream(window.test_stream_id)
    events = window.findChild(EventsView)
    qtbot.waitUntil(lambda: events.model.rowCount() > 10, timeout=5000)
    row = 5
    index = events.model.index(row, 0)
    events.table.scrollTo(index)
    qtbot.waitUntil(lambda: index.data() not in (None, ""), timeout=5000)
    expected_position = events.model.position_at(row)
    qtbot.mouseClick(events.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=events.table.visualRect(index).center())
    assert context.position == expected_position
    state_matches(qtbot, window)


def test_global_actions_step_the_cursor_and_the_state_follows(qtbot, window) -> None:
    context = window.context
    context.select_stream(window.test_stream_id)
    actions = {a.shortcut().toString(): a for a in window.findChildren(QAction) if not a.shortcut().isEmpty()}
    context.set_position(700)
    actions["Alt+Right"].trigger()
    assert context.position == 701
    state_matches(qtbot, window)
    actions["Alt+Left"].trigger()
    actions["Alt+Left"].trigger()
    assert context.position == 699
    actions["Ctrl+Home"].trigger()
    assert context.position == 1
    actions["Ctrl+End"].trigger()
    assert context.position == context.head
    state_matches(qtbot, window)
    timeline = window.findChild(TimelineView)
    with qtbot.waitSignal(timeline.playing_changed) as started:
        actions["Alt+P"].trigger()
    assert started.args == [True]
    actions["Alt+P"].trigger()
    assert not timeline.is_playing


def test_window_screenshot_with_a_stream_and_a_range(qtbot, window) -> None:
    context = window.context
    timeline = window.findChild(TimelineView)
    with qtbot.waitSignal(timeline.markers_shown, timeout=5000):
        context.select_stream(window.test_stream_id)
    context.set_region((500, 1400))
    position = timeline.stream_positions[len(timeline.stream_positions) // 2]
    context.set_position(position)
    state_matches(qtbot, window)
    window.findChild(StateView).tree.expandAll()
    assert save_artifact(window, "main_window_time_travel.png").exists()
