"""Time travel: state_at by version, position and time equals a plain fold of the stream's prefix."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer import paths
from explorer.domain.iot import device as dev
from explorer.domain.plugins import pack_for
from explorer.store import ANY, NO_STREAM, NewEvent
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import Change, StreamNotFound, TimeTravel, diff, get_path, has_path
from tests.helpers.stores import StepClock

EVERY = 10
DEVICE = dev.device_stream("11111111-1111-4111-8111-111111111111")
OTHER = dev.device_stream("22222222-2222-4222-8222-222222222222")
INVOICE = "invoice-1"


def build(path: Path) -> SQLiteEventStore:
    """Two devices whose events interleave (through the real decider) and one generic stream."""
    store = SQLiteEventStore.create(path, clock=StepClock())
    rng = random.Random(4)
    states = {DEVICE: dev.initial_state(), OTHER: dev.initial_state()}
    peers = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(6)]

    def issue(stream: str, command: Any) -> None:
        events = dev.decide(command, states[stream])
        version = store.stream_info(stream).version if store.stream_info(stream) else 0  # type: ignore[union-attr]
        store.append(stream, "Device", [NewEvent(e.type, e.data) for e in events], version or NO_STREAM)
        states[stream] = dev.DECIDER.fold(events, states[stream])

    issue(DEVICE, dev.RegisterDevice(dev.device_id_of(DEVICE), "sensor-1", "sensor", "acme"))
    issue(OTHER, dev.RegisterDevice(dev.device_id_of(OTHER), "gateway-1", "gateway", "globex"))
    for i in range(120):
        stream = DEVICE if rng.random() < 0.75 else OTHER
        state = states[stream]
        roll = rng.random()
        if roll < 0.6:
            issue(stream, dev.ReportCall(rng.choice(["in", "out"]), f"+1 {i}", rng.randint(0, 99), "2026-01-01T00:00:00Z"))
        elif roll < 0.8:
            free = [p for p in peers if p not in state["peers"]]
            if free:
                issue(stream, dev.ConnectDevice(rng.choice(free), True))
        elif roll < 0.95:
            if state["peers"]:
                issue(stream, dev.DisconnectDevice(rng.choice(state["peers"])))
        else:
            issue(stream, dev.RenameDevice(f"name-{i}"))
        if i % 7 == 0:
            store.append(INVOICE, "Invoice", [NewEvent("Changed", {"total": i, "lines": {str(i): "x", str(i - 7): None}})],
                         ANY)
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteEventStore]:
    s = build(tmp_path_factory.mktemp("tt") / "tt.evstore")
    yield s
    s.close()


@pytest.fixture
def tt(store: SQLiteEventStore, tmp_path: Path) -> Iterator[TimeTravel]:
    readdb = ReadDatabase(tmp_path / "read.sqlite")
    yield TimeTravel(store, readdb, snapshot_every=EVERY)
    readdb.close()


def plain_fold(store: SQLiteEventStore, stream: str, keep: Any) -> dict[str, Any]:
    """The oracle: fold the stream's events that `keep` accepts, from the initial state."""
    events = [e for e in store.read_stream(stream) if keep(e)]
    return pack_for(events[0].stream_type).decider.fold(events)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_state_at_any_version_equals_a_plain_fold(store: SQLiteEventStore, tmp_path_factory: pytest.TempPathFactory,
                                                  data: st.DataObject) -> None:
    readdb = ReadDatabase(tmp_path_factory.mktemp("prop") / "read.sqlite")
    cached, cold = TimeTravel(store, readdb, snapshot_every=EVERY), TimeTravel(store, None)
    for _ in range(3):  # several in a row: later ones start from snapshots the earlier ones wrote
        stream = data.draw(st.sampled_from([DEVICE, OTHER, INVOICE]))
        head = store.stream_info(stream).version  # type: ignore[union-attr]
        version = data.draw(st.integers(1, head))
        expected = plain_fold(store, stream, lambda e: e.version <= version)
        got = cached.state_at(stream, version=version)
        assert (got.version, got.state) == (version, expected)
        assert cold.state_at(stream, version=version).state == expected
    readdb.close()


def test_state_at_position_and_time(store: SQLiteEventStore, tt: TimeTravel) -> None:
    events = list(store.read_all())
    for p in (1, 2, 3, 50, 51, 99, len(events)):
        for stream in (DEVICE, OTHER):
            mine = [e for e in events if e.stream_id == stream and e.position <= p]
            got = tt.state_at(stream, position=p)
            assert got.version == len(mine)
            assert got.state == pack_for("Device").decider.fold(mine)
            when = events[p - 1].recorded_at
            assert tt.state_at(stream, time=when) == got
            assert tt.state_at(stream, time=when + timedelta(microseconds=1)) == got


def test_state_at_edges(store: SQLiteEventStore, tt: TimeTravel) -> None:
    head = store.stream_info(DEVICE).version  # type: ignore[union-attr]
    assert tt.state_at(DEVICE).version == head
    assert tt.state_at(DEVICE, version=head + 50).version == head  # clamped to the head
    before = tt.state_at(DEVICE, version=0)
    assert before.version == 0 and before.state == dev.initial_state()
    assert tt.state_at(DEVICE, position=0).state == dev.initial_state()
    first = store.read_all(limit=1).__next__().recorded_at
    assert tt.state_at(DEVICE, time=first - timedelta(days=1)).version == 0
    with pytest.raises(StreamNotFound, match="no stream 'nope'"):
        tt.state_at("nope")


def test_snapshots_are_written_and_used(store: SQLiteEventStore, tt: TimeTravel, monkeypatch: pytest.MonkeyPatch) -> None:
    head = store.stream_info(DEVICE).version  # type: ignore[union-attr]
    full = tt.state_at(DEVICE)
    versions = [v for (v,) in tt.readdb.db.execute(  # type: ignore[union-attr]
        "SELECT version FROM snapshots WHERE stream_id = ? ORDER BY version", (DEVICE,))]
    assert versions == list(range(EVERY, head + 1, EVERY))
    reads: list[tuple[int, int | None]] = []
    original = store.read_stream_data

    def spy(stream_id: str, from_version: int = 1, to_version: int | None = None) -> Any:
        reads.append((from_version, to_version))
        return original(stream_id, from_version, to_version)

    monkeypatch.setattr(store, "read_stream_data", spy)
    target = versions[-1] + 3
    again = tt.state_at(DEVICE, version=target)
    assert reads == [(versions[-1] + 1, target)]  # folded only the events after the snapshot
    assert again.state == TimeTravel(store, None).state_at(DEVICE, version=target).state
    reads.clear()
    assert tt.state_at(DEVICE, version=versions[2]).state == plain_fold(store, DEVICE, lambda e: e.version <= versions[2])
    assert reads == []  # exactly on a snapshot: nothing to fold
    assert tt.state_at(DEVICE).state == full.state


def test_snapshots_record_their_events_position_and_chain_hash_without_reading_events(
        store: SQLiteEventStore, tt: TimeTravel, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_event_reads(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("saving snapshots read whole events")

    monkeypatch.setattr(store, "read_stream", no_event_reads)
    tt.state_at(DEVICE)
    tt.state_at(OTHER)
    monkeypatch.undo()
    rows = tt.readdb.db.execute(  # type: ignore[union-attr]
        "SELECT stream_id, version, position, chain_hash FROM snapshots ORDER BY stream_id, version").fetchall()
    assert {r[0] for r in rows} == {DEVICE, OTHER}
    truth = {(e.stream_id, e.version): (e.position, store.chain_hash_at(e.position)) for e in store.read_all()}
    assert [(sid, v, pos, chash) for sid, v, pos, chash in rows] == [
        (sid, v, *truth[sid, v]) for sid, v, _pos, _chash in rows]


def test_chain_hashes_in_stream(store: SQLiteEventStore) -> None:
    events = {e.version: e for e in store.read_stream(DEVICE)}
    found = store.chain_hashes_in_stream(DEVICE, [3, 1, 10_000, 7])
    assert found == {v: (events[v].position, store.chain_hash_at(events[v].position)) for v in (1, 3, 7)}
    assert store.chain_hashes_in_stream("nope", [1]) == {} and store.chain_hashes_in_stream(DEVICE, []) == {}


def test_a_deleted_cache_still_answers(store: SQLiteEventStore, tmp_path: Path) -> None:
    readdb = ReadDatabase.for_store(store.store_id)
    assert readdb.path == paths.read_db_path(store.store_id)
    expected = TimeTravel(store, readdb, snapshot_every=EVERY).state_at(DEVICE, version=37).state
    readdb.close()
    for leftover in readdb.path.parent.glob(readdb.path.name + "*"):
        leftover.unlink()
    assert not readdb.path.exists()
    assert TimeTravel(store, None).state_at(DEVICE, version=37).state == expected
    fresh = ReadDatabase.for_store(store.store_id)  # made again, empty
    assert fresh.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    assert TimeTravel(store, fresh, snapshot_every=EVERY).state_at(DEVICE, version=37).state == expected
    fresh.close()


def test_a_broken_snapshot_table_only_costs_speed(store: SQLiteEventStore, tt: TimeTravel) -> None:
    tt.readdb.db.execute("DROP TABLE snapshots")  # type: ignore[union-attr]
    assert tt.state_at(DEVICE, version=45).state == plain_fold(store, DEVICE, lambda e: e.version <= 45)


def test_drop_snapshots(tt: TimeTravel) -> None:
    tt.state_at(DEVICE)
    tt.drop_snapshots()
    assert tt.readdb.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0  # type: ignore[union-attr]


def test_generic_streams_fold_by_merge_patch(store: SQLiteEventStore, tt: TimeTravel) -> None:
    state = tt.state_at(INVOICE).state
    last = max(i for i in range(120) if i % 7 == 0)
    assert state["total"] == last and state["lines"] == {str(last): "x"}


def test_diff_reports_changed_added_and_removed_paths() -> None:
    a = {"name": "a", "peers": ["x"], "last_call": {"number": "1", "duration_s": 3}, "gone": 1}
    b = {"name": "b", "peers": ["x", "y"], "last_call": {"number": "1", "direction": "in"}, "new": {"k": 1}}
    assert diff(a, b) == [
        Change("gone", "removed", 1, None),
        Change("last_call.direction", "added", None, "in"),
        Change("last_call.duration_s", "removed", 3, None),
        Change("name", "changed", "a", "b"),
        Change("new", "added", None, {"k": 1}),
        Change("peers", "changed", ["x"], ["x", "y"]),
    ]
    assert diff(a, a) == []
    assert diff(1, 2) == [Change("$", "changed", 1, 2)]
    assert diff({"a": {"b": 1}}, {"a": 5}) == [Change("a", "changed", {"b": 1}, 5)]
    assert Change("p", "added", None, 1).to_json() == {"path": "p", "kind": "added", "old": None, "new": 1}


def test_diff_between_two_versions(store: SQLiteEventStore, tt: TimeTravel) -> None:
    a, b = tt.state_at(DEVICE, version=1), tt.state_at(DEVICE, version=2)
    changes = {c.path: c for c in diff(a.state, b.state)}
    event = list(store.read_stream(DEVICE, 2, 2))[0]
    assert changes  # the second event changed something
    if event.type == dev.CALL_REPORTED:
        assert changes["last_call"].old is None and changes["last_call"].new == event.data


def test_history_of_a_field(store: SQLiteEventStore, tt: TimeTravel) -> None:
    events = list(store.read_stream(DEVICE))
    changes = tt.history(DEVICE, "name")
    renames = [e for e in events if e.type in (dev.DEVICE_REGISTERED, dev.DEVICE_RENAMED)]
    assert [c.position for c in changes] == [e.position for e in renames]
    assert changes[0].old == "" and changes[0].new == "sensor-1" and changes[0].version == 1
    for before, after in zip(changes, changes[1:]):
        assert after.old == before.new
    assert changes[0].recorded_at == renames[0].recorded_at and changes[0].event_type == dev.DEVICE_REGISTERED
    calls = tt.history(DEVICE, "calls_in")
    assert len(calls) == sum(1 for e in events if e.type == dev.CALL_REPORTED and e.data["direction"] == "in")
    numbers = tt.history(DEVICE, "last_call.number")
    assert numbers[0].old is None  # the path did not exist before the first call
    assert tt.history(DEVICE, "no.such.field") == []
    with pytest.raises(StreamNotFound):
        tt.history("nope", "name")


def test_get_path() -> None:
    state = {"a": {"b": [10, 20]}, "n": None}
    assert get_path(state, "a.b.1") == 20 and get_path(state, "n") is None
    assert has_path(state, "a.b") and not has_path(state, "a.c") and not has_path(state, "a.b.7")
