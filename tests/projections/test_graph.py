"""Graph read model and queries: a fold oracle (on the demo store and on generated histories the
decider would refuse), hand-checked fixtures, and networkx on random graphs."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.domain.iot import device as dev
from explorer.projections.graph import (
    DeviceGraph,
    GraphAt,
    all_edges,
    all_nodes,
    components,
    connected_to,
    graph_at,
    path,
)
from explorer.projections.layout import force_layout
from explorer.projections.runner import LIVE, ProjectionRunner
from explorer.store.readdb import ReadDatabase
from explorer.store.records import RecordedEvent
from tests.helpers.folds import graph_fold
from tests.projections.conftest import histories, history_store


@pytest.fixture(scope="module")
def events(built: ProjectionRunner) -> list:
    return list(built.store.read_all())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0, max_value=1))
def test_graph_as_of_any_position_equals_a_fold(built: ProjectionRunner, events: list, fraction: float) -> None:
    position = round(fraction * len(events))
    nodes, edges = graph_fold(events, position)
    g = graph_at(built.readdb, position)
    assert set(g.nodes) == nodes
    assert sorted(g.edges) == sorted(edges)  # no duplicates either


def test_layout_knows_every_node_ever_seen_and_is_deterministic(built: ProjectionRunner) -> None:
    nodes, edges = all_nodes(built.readdb), all_edges(built.readdb)
    first = force_layout(nodes, edges, iterations=10)
    assert set(first) == set(nodes)
    assert force_layout(list(reversed(nodes)), edges, iterations=10) == first
    assert all(-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0 for x, y in first.values())


def _graph(nodes: str, edges: list[str]) -> GraphAt:
    return GraphAt(0, tuple(nodes), tuple((e[0], e[1]) for e in edges))


def test_hand_checked_fixture() -> None:
    # a-b-c-d is a chain, e-f a pair, g alone; b->a and a->b both recorded (two directed edges)
    g = _graph("abcdefg", ["ab", "ba", "bc", "cd", "ef"])
    assert connected_to(g, "a") == {"b", "c", "d"}
    assert connected_to(g, "d") == {"a", "b", "c"}
    assert connected_to(g, "g") == set()
    assert connected_to(g, "zz") == set()
    assert path(g, "a", "d") == ["a", "b", "c", "d"]
    assert path(g, "d", "a") == ["d", "c", "b", "a"]
    assert path(g, "a", "a") == ["a"]
    assert path(g, "a", "e") is None
    assert path(g, "a", "zz") is None
    assert components(g) == [["a", "b", "c", "d"], ["e", "f"], ["g"]]


def test_shortest_path_prefers_the_short_way() -> None:
    g = _graph("abcde", ["ab", "bc", "cd", "de", "ae"])
    assert path(g, "a", "d") == ["a", "e", "d"]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40), m=st.integers(0, 60))
def test_queries_agree_with_networkx_on_random_graphs(seed: int, n: int, m: int) -> None:
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(n)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(m)]
    edges = [(a, b) for a, b in edges if a != b]
    g = GraphAt(0, tuple(nodes), tuple(edges))
    ref = nx.Graph()
    ref.add_nodes_from(nodes)
    ref.add_edges_from(edges)
    assert sorted(map(sorted, components(g))) == sorted(sorted(c) for c in nx.connected_components(ref))
    a, b = rng.choice(nodes), rng.choice(nodes)
    assert connected_to(g, a) == nx.node_connected_component(ref, a) - {a}
    found = path(g, a, b)
    if nx.has_path(ref, a, b):
        assert found is not None and found[0] == a and found[-1] == b
        assert len(found) - 1 == nx.shortest_path_length(ref, a, b)
        assert all(ref.has_edge(x, y) for x, y in zip(found, found[1:]))
    else:
        assert found is None


def test_graph_as_of_stays_right_while_the_model_grows(built: ProjectionRunner, events: list, tmp_path) -> None:
    """graph_at's in-memory edge mirror follows new and closed edges batch by batch."""
    from explorer.projections.graph import DeviceGraph
    from explorer.store.readdb import ReadDatabase

    runner = ProjectionRunner(store=built.store, readdb=ReadDatabase(tmp_path / "grow.sqlite"),
                              projections=[DeviceGraph], batch_size=250)
    rng = random.Random(3)
    checked = 0
    while True:
        calls = iter(range(2))
        runner.catch_up(cancelled=lambda: next(calls, 1) >= 1)  # one batch, then stop
        checkpoint = runner.readdb.db.execute(
            "SELECT checkpoint FROM projection_generations WHERE name = 'graph' AND role = 'live'").fetchone()
        if checkpoint is None:
            continue
        at = checkpoint[0]
        for position in (at, rng.randint(0, at)):
            nodes, edges = graph_fold(events, position)
            g = graph_at(runner.readdb, position)
            assert set(g.nodes) == nodes and sorted(g.edges) == sorted(edges)
            checked += 1
        if at >= len(events):
            break
    assert checked > 20


# -- histories the decider refuses, as stores written by other tools can hold them ------------------

def decider_fold(events: list[RecordedEvent], position: int) -> tuple[set[str], set[tuple[str, str]]]:
    """The graph the Device aggregate's own fold (dev.evolve) gives as of `position`: the devices
    whose status is "active" and each device's peers."""
    states: dict[str, dict] = {}
    for event in events[:position]:
        states[event.stream_id] = dev.evolve(states.get(event.stream_id) or dev.initial_state(), event.type,
                                             event.data)
    nodes = {sid for sid, state in states.items() if state["status"] == "active"}
    edges = {(sid, dev.device_stream(peer)) for sid, state in states.items() for peer in state["peers"]}
    return nodes, edges


@settings(max_examples=60, deadline=None)
@given(history=histories, batch_size=st.sampled_from([1, 2, 3, 7, 1000]), restart=st.booleans())
def test_graph_of_any_history_equals_the_fold_at_every_position(history: list[tuple[str, int, int]],
                                                                   batch_size: int, restart: bool) -> None:
    """Re-registration, decommission before registration, events after a decommission, connections
    to unknown and to decommissioned devices, in any order and cut into any batches (with a new
    runner, i.e. caches reloaded from the tables, after every batch when `restart`)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = history_store(Path(tmp) / "h.evstore", history)
        readdb = ReadDatabase(Path(tmp) / "r.sqlite")
        try:
            runner = ProjectionRunner(store=store, readdb=readdb, projections=[DeviceGraph], batch_size=batch_size)
            while True:
                runner.catch_up(cancelled=iter([False, True]).__next__ if restart else None)
                if all(s.state == LIVE for s in runner.status()):
                    break
                runner = ProjectionRunner(store=store, readdb=readdb, projections=[DeviceGraph],
                                          batch_size=batch_size)
            events = list(store.read_all())
            for position in range(len(events) + 1):
                nodes, edges = graph_fold(events, position)
                assert (nodes, edges) == decider_fold(events, position)  # the oracle is the domain's fold
                g = graph_at(readdb, position)
                assert set(g.nodes) == nodes and len(g.nodes) == len(nodes)
                assert sorted(g.edges) == sorted(edges)
            assert graph_at(readdb).nodes == graph_at(readdb, len(events)).nodes  # as of the checkpoint
        finally:
            readdb.close()
            store.close()


def test_a_version_3_model_keeps_answering_while_version_4_builds_beside(built: ProjectionRunner, events: list,
                                                                         tmp_path: Path) -> None:
    """A read database made by the previous code (one interval per device in `nodes`, no presence
    table) answers graph_at until the rebuild its old version triggers swaps the new one in."""
    readdb = ReadDatabase(tmp_path / "r.sqlite")
    runner = ProjectionRunner(store=built.store, readdb=readdb, projections=[DeviceGraph], batch_size=500)
    runner.catch_up()
    generation = readdb.db.execute("SELECT generation FROM projection_generations WHERE name = 'graph'").fetchone()[0]
    p = f"graph_g{generation}_"
    with readdb.db:  # the version-3 layout (the demo's histories have one interval per device)
        readdb.db.execute(f"ALTER TABLE {p}nodes ADD COLUMN appeared INTEGER")
        readdb.db.execute(f"ALTER TABLE {p}nodes ADD COLUMN removed INTEGER")
        readdb.db.execute(f"UPDATE {p}nodes SET appeared = (SELECT appeared FROM {p}presence s WHERE s.device_key ="
                          f" {p}nodes.device_key), removed = (SELECT removed FROM {p}presence s WHERE s.device_key ="
                          f" {p}nodes.device_key)")
        readdb.db.execute(f"DROP TABLE {p}presence")
        readdb.db.execute("UPDATE projection_generations SET version = 3 WHERE name = 'graph'")
    assert [s.stale_version for s in runner.status()] == [True]
    runner = ProjectionRunner(store=built.store, readdb=readdb, projections=[DeviceGraph], batch_size=500)
    runner.catch_up(cancelled=iter([False, True]).__next__)  # the new version's first batch, beside
    assert [s.state for s in runner.status()] == ["rebuilding"]
    for position in (0, 700, len(events) // 2, len(events)):
        nodes, edges = graph_fold(events, position)
        g = graph_at(readdb, position)
        assert set(g.nodes) == nodes and sorted(g.edges) == sorted(edges)
    runner.catch_up()
    assert [(s.state, s.version, s.stale_version) for s in runner.status()] == [(LIVE, DeviceGraph.version, False)]
    nodes, _edges = graph_fold(events, len(events))
    assert set(graph_at(readdb).nodes) == nodes
