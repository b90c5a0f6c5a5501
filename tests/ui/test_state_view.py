"""The state-as-of-cursor view: the tree equals TimeTravel.state_at, highlights, compare, history,
pending previews, plain text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from explorer.timetravel import TimeTravel, diff
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.views.state_view import MarkRole, StateTreeModel, StateView, leaf_values
from tests.helpers.ui import dark_palette
from tests.helpers.asof import asof_context, HTML_NAME, add_html_rename, reference_state, save_artifact  # noqa: F401 - asof_context is a fixture


@pytest.fixture
def context(asof_context: AppContext) -> AppContext:
    return asof_context


@pytest.fixture
def view(qtbot, context: AppContext) -> StateView:
    widget = StateView(context=context)
    qtbot.addWidget(widget)
    widget.resize(560, 480)
    widget.show()
    yield widget
    widget.reader.wait()


def shown_at(qtbot, view: StateView, stream_id: str, position: int) -> None:
    qtbot.waitUntil(lambda: view.result is not None and view.result.stream_id == stream_id
                    and view.result.position == position, timeout=5000)


def stream_positions(context: AppContext, stream_id: str) -> list[int]:
    return [e.position for e in context.store.read_stream(stream_id)]


def test_tree_is_what_state_at_says_for_every_kind_of_cursor(qtbot, context, view, qtmodeltester) -> None:
    sid = context.test_stream_id
    positions = stream_positions(context, sid)
    context.select_stream(sid)
    # before the stream's first event, on its events, between them, and at the head
    for position in (max(positions[0] - 1, 1), positions[0], positions[3], positions[3] + 1,
                     positions[len(positions) // 2], context.head):
        context.set_position(position)
        shown_at(qtbot, view, sid, position)
        expected = reference_state(context.store, sid, position)
        assert view.result.state == expected
        assert view.model.as_state() == leaf_values(expected)
        # rows are reused between cursor moves: marks must be exactly this event's changes
        version = context.store.stream_version_at(sid, position)
        last = [p for p in positions if p <= position]
        before = reference_state(context.store, sid, last[-1] - 1) if last else expected
        assert view.model.marked() == {c.path: c.kind for c in diff(before, expected)}
        assert view.result.version == version
    qtmodeltester.check(view.model)


def test_changed_fields_are_highlighted_with_old_and_new(qtbot, context, view) -> None:
    sid = context.test_stream_id
    events = list(context.store.read_stream(sid))
    connect = next(e for e in events if e.type == "DeviceConnected")
    context.select_stream(sid)
    context.set_position(connect.position)
    shown_at(qtbot, view, sid, connect.position)
    before = reference_state(context.store, sid, connect.position - 1)
    after = reference_state(context.store, sid, connect.position)
    expected = {c.path: c.kind for c in diff(before, after)}
    assert expected and view.model.marked() == expected
    row = view.model.index_of("peers")
    change_text = view.model.index(row.row(), 2, row.parent()).data()
    assert "→" in change_text and str(len(after["peers"])) in view.model.index(row.row(), 1, row.parent()).data()
    assert "at the cursor" in view.header.text()
    # a cursor between two of the stream's events highlights what the latest of them changed
    nxt = events[events.index(connect) + 1]
    if nxt.position > connect.position + 1:
        context.set_position(connect.position + 1)
        shown_at(qtbot, view, sid, connect.position + 1)
        assert view.model.marked() == expected
        assert f"at position {connect.position:,}" in view.header.text()


def test_compare_shows_the_diff_between_the_region_ends(qtbot, context, view, qtmodeltester) -> None:
    sid = context.test_stream_id
    positions = stream_positions(context, sid)
    context.select_stream(sid)
    a, b = positions[2], positions[-3]
    context.set_region((a, b))
    dialog = view.open_compare()
    with qtbot.waitSignal(dialog.compared, timeout=5000) as blocker:
        pass
    expected = diff(reference_state(context.store, sid, a), reference_state(context.store, sid, b))
    assert blocker.args[0] == expected and expected
    assert dialog.model.rowCount() == len(expected)
    qtmodeltester.check(dialog.model)
    # choosing other points recomputes
    with qtbot.waitSignal(dialog.compared, timeout=5000) as blocker:
        dialog.first.setValue(b)
    assert blocker.args[0] == []
    assert "no difference" in dialog.summary.text()


def test_field_history_lists_the_events_and_clicking_one_moves_the_cursor(qtbot, context, view,
                                                                         qtmodeltester) -> None:
    sid = context.test_stream_id
    context.select_stream(sid)
    shown_at(qtbot, view, sid, context.head)
    dialog = view.open_history("calls_in")
    with qtbot.waitSignal(dialog.loaded, timeout=5000) as blocker:
        pass
    clone = context.store.clone()
    expected = TimeTravel(clone, None).history(sid, "calls_in")
    clone.close()
    assert blocker.args[0] == expected and len(expected) > 2
    assert dialog.model.rowCount() == len(expected)
    qtmodeltester.check(dialog.model)
    target = expected[1]
    index = dialog.model.index(1, 0)
    dialog.table.scrollTo(index)
    with qtbot.waitSignal(context.event_selected) as picked:
        qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton,
                         pos=dialog.table.visualRect(index).center())
    assert picked.args == [target.position] and context.position == target.position
    shown_at(qtbot, view, sid, target.position)
    assert view.result.state["calls_in"] == target.new
    assert view.model.marked().get("calls_in") == "changed"


def test_markup_in_event_data_shows_literally(qtbot, context, view) -> None:
    sid = context.test_stream_id
    position = add_html_rename(context.store, sid)
    context.set_head(position)
    context.select_stream(sid)
    context.set_position(position)
    shown_at(qtbot, view, sid, position)
    row = view.model.index_of("name")
    assert view.model.index(row.row(), 1).data() == HTML_NAME
    assert HTML_NAME in view.model.index(row.row(), 2).data()
    for label in view.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText
    view.tree.expandAll()
    save_artifact(view, "state_view_html_name.png")


def test_pending_preview_is_marked_then_rolled_back(qtbot, context, view) -> None:
    sid = context.test_stream_id
    context.select_stream(sid)
    shown_at(qtbot, view, sid, context.head)
    real = view.result.state
    after = dict(real, name="renamed-by-preview")
    pending = PendingPreview(command_id="c1", stream_id=sid, events=(("DeviceRenamed", {"name": "renamed-by-preview"}),),
                             state_before=real, state_after=after)
    with qtbot.waitSignal(view.state_shown):
        context.set_pending(pending)
    row = view.model.index_of("name")
    assert view.model.index(row.row(), 1).data() == "renamed-by-preview"
    assert view.model.marked() == {"name": "pending"}
    assert row.data(Qt.ItemDataRole.FontRole).italic()
    assert view.model.index(row.row(), 2).data().startswith("pending:")
    assert view.pending_label.isVisible() and "DeviceRenamed" in view.pending_label.text()
    save_artifact(view, "state_view_pending.png")

    with qtbot.waitSignal(view.state_shown):
        context.set_pending(dataclasses.replace(pending, status="rejected", message="name taken"))
    assert view.model.as_state() == leaf_values(real)
    assert "pending" not in view.model.marked().values()
    assert "name taken" in view.pending_label.text()

    with qtbot.waitSignal(view.state_shown):
        context.set_pending(dataclasses.replace(pending, status="submitted"))
    assert view.model.marked() == {"name": "pending"}
    with qtbot.waitSignal(view.state_shown):
        context.set_pending(None)
    assert view.model.as_state() == leaf_values(real) and not view.pending_label.isVisible()


def test_pending_preview_of_another_stream_is_ignored(qtbot, context, view) -> None:
    sid = context.test_stream_id
    context.select_stream(sid)
    shown_at(qtbot, view, sid, context.head)
    context.set_pending(PendingPreview(command_id="c2", stream_id="device-other", events=(),
                                       state_before={}, state_after={"name": "x"}))
    assert "pending" not in view.model.marked().values()
    assert not view.pending_label.isVisible()


def test_rapid_cursor_moves_end_on_the_latest_state(qtbot, context, view) -> None:
    sid = context.test_stream_id
    context.select_stream(sid)
    shown = []
    view.state_shown.connect(lambda result: shown.append(result.position))
    for position in range(100, 1900, 15):
        context.set_position(position)
    shown_at(qtbot, view, sid, context.position)
    view.reader.wait()
    qtbot.waitUntil(lambda: shown and shown[-1] == context.position)
    # coalesced: far fewer trees were built than cursor moves, and positions never go back
    assert len(shown) < len(range(100, 1900, 15))
    assert shown == sorted(shown)
    assert view.result.state == reference_state(context.store, sid, context.position)


def test_no_stream_selected_says_so(qtbot, context, view) -> None:
    assert "Select a stream" in view.header.text()
    assert view.model.rowCount() == 0


def test_model_marks_removed_fields(qtmodeltester) -> None:
    model = StateTreeModel()
    before = {"a": 1, "b": {"c": 2}, "gone": "x"}
    after = {"a": 2, "b": {"c": 2, "d": [1, 2]}}
    model.show_state(after, stream_type="Unknown", changes=diff(before, after))
    assert model.marked() == {"a": "changed", "b.d": "added", "gone": "removed"}
    qtmodeltester.check(model)


def test_dark_palette_screenshot(qtbot, context, view) -> None:
    sid = context.test_stream_id
    with dark_palette():
        context.select_stream(sid)
        connect = next(e for e in context.store.read_stream(sid) if e.type == "DeviceConnected")
        context.set_position(connect.position)
        shown_at(qtbot, view, sid, connect.position)
        view.tree.expandAll()
        assert save_artifact(view, "state_view_dark.png").exists()


def test_expanded_fields_stay_expanded_across_moves_and_rebuilds(qtbot, context, view) -> None:
    sid = context.test_stream_id
    positions = stream_positions(context, sid)
    context.select_stream(sid)
    context.set_position(positions[-5])
    shown_at(qtbot, view, sid, positions[-5])
    view.tree.expand(view.model.index_of("last_call"))
    context.set_position(positions[-2])  # same shape: rows are updated in place
    shown_at(qtbot, view, sid, positions[-2])
    assert view.tree.isExpanded(view.model.index_of("last_call"))
    real = view.result.state
    with qtbot.waitSignal(view.state_shown):  # another shape: the tree is rebuilt
        context.set_pending(PendingPreview(command_id="c3", stream_id=sid, events=(("X", {}),),
                                           state_before=real, state_after=dict(real, extra={"a": 1})))
    assert view.model.marked() == {"extra": "pending"}
    assert view.tree.isExpanded(view.model.index_of("last_call"))


def test_a_stream_selected_before_its_first_event_is_empty_not_an_error(qtbot, context, view, caplog) -> None:
    """The command panel selects a device it is registering before the store has its event."""
    failed: list[str] = []
    view.failed.connect(failed.append)
    with caplog.at_level("INFO"):
        context.select_stream("device-not-yet-registered")
        qtbot.waitUntil(lambda: view.result is not None and view.result.stream_id == "device-not-yet-registered",
                        timeout=5000)
    assert view.result.version == 0 and view.result.state == {}
    assert "(no event of this stream yet)" in view.header.text() and failed == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
