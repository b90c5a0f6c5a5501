"""The device registry equals a from-scratch fold at any position; device lookup by id or name.

registry_at combines two tables (attribute rows of non-call events, narrow rows of calls), so the
oracle checks every field, and valid_from / valid_to exactly: the device's last event at or before
P and its next event after P.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.demo import DemoSummary
from explorer.domain.iot import device as dev
from explorer.projections import READ_MODELS
from explorer.projections.analytics import activity_at
from explorer.projections.graph import graph_at
from explorer.projections.registry import DeviceNotFound, device_at, registry_at, resolve_device
from explorer.projections.runner import ProjectionRunner, has_indexes, live_prefix
from explorer.projections.search import search
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.folds import calls_fold, graph_fold, registry_fold
from tests.projections.conftest import ODD, histories, history_store

FIELDS = ("name", "kind", "owner", "status", "connections", "calls_in", "calls_out", "last_call_at",
          "last_call_number", "last_call_direction", "last_seen")


@pytest.fixture(scope="module")
def events(built: ProjectionRunner) -> list:
    return list(built.store.read_all())


def intervals(events: list, position: int) -> dict[str, tuple[int, int | None]]:
    """stream id -> (its last event at or before `position`, its next event after it or None)."""
    last: dict[str, int] = {}
    following: dict[str, int] = {}
    for e in events:
        if e.position <= position:
            last[e.stream_id] = e.position
        else:
            following.setdefault(e.stream_id, e.position)
    return {sid: (p, following.get(sid)) for sid, p in last.items()}


def check_registry(built: ProjectionRunner, events: list, position: int) -> None:
    expected = registry_fold(events, position)
    rows = registry_at(built.readdb, position)
    got = {r.stream_id: {f: getattr(r, f) for f in FIELDS} for r in rows}
    assert got == expected
    assert len(rows) == len(got)  # one row per device
    spans = intervals(events, position)
    for r in rows:
        assert (r.valid_from, r.valid_to) == spans[r.stream_id]
        assert r.device_id == dev.device_id_of(r.stream_id)
        assert device_at(built.readdb, r.stream_id, position) == r


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0, max_value=1))
def test_registry_as_of_any_position_equals_a_fold(built: ProjectionRunner, events: list, fraction: float) -> None:
    check_registry(built, events, round(fraction * len(events)))


def test_registry_at_each_side_of_a_renamed_device_s_events(built: ProjectionRunner, events: list) -> None:
    """Exactly at and just before every event of a device that was renamed and made calls: the
    attribute rows and the call rows take turns being the newest."""
    renamed = next(e.stream_id for e in events if e.type == dev.DEVICE_RENAMED)
    mine = [e.position for e in events if e.stream_id == renamed]
    assert any(e.type == dev.CALL_REPORTED for e in events if e.stream_id == renamed)
    for position in sorted({q for p in mine[:40] for q in (p - 1, p)}):
        check_registry(built, events, position)
    assert device_at(built.readdb, renamed, mine[0] - 1) is None  # not registered yet


def test_registry_rows_are_sorted_by_name_and_single_device_lookup_agrees(built: ProjectionRunner) -> None:
    rows = registry_at(built.readdb)
    assert [r.name.lower() for r in rows] == sorted(r.name.lower() for r in rows)
    one = rows[3]
    assert device_at(built.readdb, one.stream_id) == one
    assert device_at(built.readdb, one.stream_id, 0) is None
    assert device_at(built.readdb, "device-no-such-device") is None
    assert all(r.valid_to is None for r in rows)  # as of the checkpoint nothing comes next


def test_resolve_device_by_stream_id_device_id_or_name(built: ProjectionRunner, demo: tuple[Path, DemoSummary]) -> None:
    sid = demo[1].night_caller
    assert resolve_device(built.readdb, sid) == sid
    assert resolve_device(built.readdb, sid.removeprefix("device-")) == sid
    assert resolve_device(built.readdb, "night-caller") == sid
    assert resolve_device(built.readdb, "NIGHT-CALLER") == sid
    with pytest.raises(DeviceNotFound, match="no device"):
        resolve_device(built.readdb, "no-such-device")


@settings(max_examples=30, deadline=None)
@given(history=histories, batch_size=st.sampled_from([1, 3, 1000]))
def test_registry_of_any_history_equals_the_fold_at_every_position(history: list[tuple[str, int, int]],
                                                                     batch_size: int) -> None:
    """Generated histories the decider refuses (re-registration, decommission before registration,
    events after a decommission, connections to unknown devices), cut into any batches."""
    with tempfile.TemporaryDirectory() as tmp:
        store = history_store(Path(tmp) / "h.evstore", history)
        runner = ProjectionRunner(store=store, readdb=ReadDatabase(Path(tmp) / "r.sqlite"), projections=READ_MODELS,
                                  batch_size=batch_size)
        try:
            runner.catch_up()
            events = list(store.read_all())
            for position in range(len(events) + 1):
                check_registry(runner, events, position)
        finally:
            runner.readdb.close()
            store.close()


@pytest.mark.parametrize(("batch_size", "indexed"), [(1, True), (4, True), (1000, True), (4, False)])
def test_odd_histories_equal_the_folds_at_every_position(odd_store: Path, tmp_path: Path, batch_size: int,
                                                         indexed: bool) -> None:
    """Calls and connections before a registration, a second registration, events after a
    decommission, calls only, no name: every read model equals its fold at every position,
    however the batches cut the history, with the indexes and without them (the plan queries
    use while a build from nothing is under way)."""
    store = SQLiteEventStore.open(odd_store, read_only=True)
    runner = ProjectionRunner(store=store, readdb=ReadDatabase(tmp_path / "r.sqlite"), projections=READ_MODELS)
    runner.batch_size = batch_size
    runner.catch_up()
    for model in READ_MODELS:
        prefix = live_prefix(runner.readdb, model.name)
        assert prefix is not None and has_indexes(runner.readdb, prefix, model)
        for index in model.indexes if not indexed else ():
            runner.readdb.db.execute(f"DROP INDEX {prefix}{index}")
        assert has_indexes(runner.readdb, prefix, model) == (indexed or not model.indexes)
    events = list(store.read_all())
    for position in range(len(events) + 1):
        check_registry(runner, events, position)
        nodes, edges = graph_fold(events, position)
        g = graph_at(runner.readdb, position)
        assert (set(g.nodes), sorted(g.edges)) == (nodes, sorted(edges))
        got = {a.stream_id: {"calls": a.calls, "in": a.calls_in, "out": a.calls_out, "unknown": a.unknown,
                             "night": a.night} for a in activity_at(runner.readdb, position) if a.calls}
        assert got == calls_fold(events, position)
    a, b, c, _d = ODD
    final = {r.stream_id: r for r in registry_at(runner.readdb)}
    assert (final[a].name, final[a].owner, final[a].status, final[a].calls_in, final[a].calls_out) == (
        "ghost", "ops-2", "decommissioned", 3, 2)
    assert c not in final and final[b].connections == 1
    # Search: a device is found by its newest name (the position of that rename), not by old ones.
    renames = [e.position for e in events if e.stream_id == a and e.type == "DeviceRenamed"]
    assert [(h.stream_id, h.position) for h in search(runner.readdb, "ghost") if h.kind == "device"] == [
        (a, renames[-1])]
    assert not [h for h in search(runner.readdb, "alpha") if h.kind == "device"]
    assert [h.stream_id for h in search(runner.readdb, "bravo-2") if h.kind == "device"] == [b]
