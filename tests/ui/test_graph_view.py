"""The graph view: edges drawn equal the graph query as the cursor moves; stable layout; clicks
select; the component highlight; pending edges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.demo import DemoSummary
from explorer.projections import runner_for
from explorer.projections.graph import connected_to, graph_at
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.projection_service import service_for
from explorer.ui.views.graph_view import GraphView
from tests.helpers.asof import save_artifact
from tests.helpers.stores import make_demo
from tests.helpers.visibility import counting_submits, in_hidden_tab


@pytest.fixture
def context(tmp_path: Path) -> Iterator[AppContext]:
    path = tmp_path / "demo.evstore"
    summary = make_demo(path, devices=40, events=2500, seed=8)
    store = SQLiteEventStore.open(path)
    runner_for(store.clone()).catch_up()  # read models ready, as after a first run
    ctx = AppContext()
    ctx.summary = summary  # type: ignore[attr-defined]
    ctx.set_store(store)
    yield ctx
    service_for(ctx).wait()
    ctx.set_store(None)


@pytest.fixture
def view(qtbot, context: AppContext) -> Iterator[GraphView]:
    widget = GraphView(context=context)
    qtbot.addWidget(widget)
    widget.resize(800, 600)
    widget.show()
    qtbot.waitUntil(lambda: widget.graph is not None and widget.graph.position == context.head, timeout=20000)
    yield widget
    widget.reader.wait()


def drawn_edges(view: GraphView) -> int:
    x, _y = view.edges_item.getData()
    return 0 if x is None else len(x) // 2


def drawn_segments(item) -> set[tuple[float, float, float, float]]:
    """The line segments an item draws, as (x0, y0, x1, y1)."""
    x, y = item.getData()
    if x is None or len(x) == 0:
        return set()
    return {(float(x[i]), float(y[i]), float(x[i + 1]), float(y[i + 1])) for i in range(0, len(x), 2)}


def segments_of(view: GraphView, edges) -> set[tuple[float, float, float, float]]:
    """The segments `edges` must be drawn as: from the layout position of one device to the other's."""
    return {(*view.layout_positions[a], *view.layout_positions[b]) for a, b in edges}


def test_drawn_lines_are_the_graph_as_of_the_cursor(qtbot, context: AppContext, view: GraphView) -> None:
    """The edge rows the view keeps between redraws never leave a stale or missing line."""
    readdb = runner_for(context.store).readdb
    view.component_box.setChecked(True)
    context.select_stream(context.summary.burst_device)  # type: ignore[attr-defined]
    previous = view.graph
    for position in (context.head // 3, context.head // 3 + 25, 200, context.head, context.head - 60, 1):
        with qtbot.waitSignal(view.graph_shown, timeout=10000):
            context.set_position(position)
        expected = graph_at(readdb, position)
        assert drawn_segments(view.edges_item) == segments_of(view, expected.edges)
        assert drawn_edges(view) == len(expected.edges)
        added = set(expected.edges) - set(previous.edges)
        removed = set(previous.edges) - set(expected.edges)
        assert drawn_segments(view.added_item) == segments_of(view, added)
        assert drawn_segments(view.removed_item) == segments_of(view, removed)
        sid = context.stream_id
        component = connected_to(expected, sid)
        assert drawn_segments(view.component_item) == segments_of(
            view, [(a, b) for a, b in expected.edges if a in component or a == sid])
        linked = {n for e in expected.edges for n in e}
        assert set(view.node_items["isolated"].data["data"]) == set(expected.nodes) - linked - component - {sid}
        assert set(view.node_items["component"].data["data"]) == (component & set(expected.nodes)) - {sid}
        previous = expected


def test_edges_follow_the_cursor(qtbot, context: AppContext, view: GraphView) -> None:
    readdb = runner_for(context.store).readdb
    layout_before = dict(view.layout_positions)

    previous = view.graph
    for position in (context.head // 2, context.head // 2 + 40, 300, context.head):
        with qtbot.waitSignal(view.graph_shown, timeout=10000):
            context.set_position(position)
        expected = graph_at(readdb, position)
        assert view.graph == expected
        assert drawn_edges(view) == len(expected.edges)
        assert view.node_count() == len(expected.nodes)
        if previous is not None:
            assert view.added == set(expected.edges) - set(previous.edges)
            assert view.removed == set(previous.edges) - set(expected.edges)
            x, _ = view.added_item.getData()
            assert (0 if x is None else len(x) // 2) == len(view.added)
        previous = expected
    assert view.layout_positions == layout_before  # nodes never moved


def test_click_selects_and_component_highlight(qtbot, context: AppContext, view: GraphView) -> None:
    burst = context.summary.burst_device  # type: ignore[attr-defined]
    point = next(p for item in view.node_items.values() for p in item.points() if p.data() == burst)
    with qtbot.waitSignal(context.stream_selected, timeout=2000):
        view._clicked(view.nodes_item, [point])
    assert context.stream_id == burst
    view.component_box.setChecked(True)
    assert view.highlight == connected_to(view.graph, burst) and view.highlight
    assert view.info.text().startswith(f"as of #{context.head:,}")
    view.plot.getViewBox().autoRange()
    save_artifact(view, "graph_view.png")


def test_pending_edges_are_drawn_dashed(qtbot, context: AppContext, view: GraphView) -> None:
    a, b = view.graph.nodes[:2]
    context.set_pending(PendingPreview("c1", a, (("DeviceConnected", {"peer_id": b}),), {}, {},
                                       added_edges=((a, b),)))
    x, _ = view.pending_item.getData()
    assert len(x) == 2
    context.set_pending(None)
    x, _ = view.pending_item.getData()
    assert x is None or len(x) == 0


def test_hidden_graph_does_no_work_and_catches_up_when_shown(qtbot, context: AppContext) -> None:
    view = GraphView(context=context)
    queries = counting_submits(view)
    tabs = in_hidden_tab(qtbot, view)
    for position in (context.head // 2, 300, context.head // 3):
        context.set_position(position)
    assert queries == [] and view.graph is None  # not even the layout while never shown
    at = context.head // 3
    with qtbot.waitSignal(view.graph_shown, timeout=20000, check_params_cb=lambda g: g.position == at):
        tabs.setCurrentWidget(view)
    assert queries == ["layout", "graph"]
    expected = graph_at(runner_for(context.store).readdb, at)
    assert view.graph == expected and drawn_edges(view) == len(expected.edges)
    # Hidden again: cursor moves cost nothing; shown again: one query, to the cursor.
    tabs.setCurrentIndex(0)
    for position in (context.head, 500, context.head // 2):
        context.set_position(position)
    assert queries == ["layout", "graph"]
    with qtbot.waitSignal(view.graph_shown, timeout=20000, check_params_cb=lambda g: g.position == context.head // 2):
        tabs.setCurrentWidget(view)
    assert queries == ["layout", "graph", "graph"]
    assert view.graph == graph_at(runner_for(context.store).readdb, context.head // 2)
    view.reader.wait()


def test_answers_faster_than_draws_draw_only_the_newest(qtbot, context: AppContext, view: GraphView) -> None:
    readdb = runner_for(context.store).readdb
    graphs = [graph_at(readdb, p) for p in (100, 200, 300, 400)]
    shown: list[int] = []
    view.graph_shown.connect(lambda g: shown.append(g.position))
    view._draw_cost_ms = 100.0  # as after an expensive draw: the next one waits 300 ms
    view._last_draw.start()
    for g in graphs:
        view._graph_ready(g)
    assert shown == []
    qtbot.waitUntil(lambda: shown == [400], timeout=5000)
    assert view.graph == graphs[-1] and drawn_edges(view) == len(graphs[-1].edges)
