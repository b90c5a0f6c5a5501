"""The EventStore contract: one abstract test case that every adapter's test module subclasses.

A subclass provides `make_store(directory, clock)` returning a new, empty, writable store, and
`del`s nothing else; the module that imports this class must `del EventStoreContract` so pytest
does not collect the abstract base on its own.
"""

from __future__ import annotations

import abc
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.store import (
    ANY,
    NO_STREAM,
    AppendRequest,
    ConcurrencyError,
    EventFilter,
    EventStore,
    NewEvent,
    StoreError,
)
from explorer.store import chain
from tests.helpers.stores import StepClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(event_type: str = "Happened", **data: Any) -> NewEvent:
    return NewEvent(event_type, data or {"n": 1}, {"actor": "test"})


def recompute_chain(store: EventStore) -> str:
    """The head hash recomputed from decoded events (canonical JSON), independent of the adapter."""
    digest = chain.GENESIS
    for e in store.read_all():
        payload = chain.event_bytes(
            e.position, e.stream_id, e.stream_type, e.version, e.type,
            _us(e.recorded_at), e.event_id, chain.canonical_json(e.data), chain.canonical_json(e.metadata),
        )
        digest = chain.next_hash(digest, payload)
        assert digest == e.chain_hash, f"chain hash of position {e.position}"
    return digest


def _us(value: datetime) -> int:
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class EventStoreContract(abc.ABC):
    """What every EventStore adapter must do. Subclass it and implement `make_store`."""

    @abc.abstractmethod
    def make_store(self, directory: Path, clock: Any = None) -> EventStore:
        """A new, empty, writable store kept under `directory` (clock: a callable giving UTC now)."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Any:
        s = self.make_store(tmp_path, StepClock(T0))
        yield s
        s.close()

    # -- append and read back ----------------------------------------------------------------

    def test_a_new_store_is_empty(self, store: EventStore) -> None:
        head = store.head()
        assert (head.position, head.chain_hash, head.recorded_at) == (0, chain.GENESIS, None)
        assert list(store.read_all()) == []
        assert store.streams() == []
        assert store.stream_info("device-x") is None
        assert list(store.read_stream("device-x")) == []
        assert store.verify().ok

    def test_append_assigns_positions_versions_and_reads_back(self, store: EventStore) -> None:
        r1 = store.append("device-a", "Device", [ev(n=1), ev(n=2)], NO_STREAM)
        r2 = store.append("device-b", "Device", [ev(n=3)], NO_STREAM)
        r3 = store.append("device-a", "Device", [ev("Renamed", name="x")], 2)
        assert (r1.first_position, r1.last_position, r1.version) == (1, 2, 2)
        assert (r2.first_position, r2.last_position, r2.version) == (3, 3, 1)
        assert (r3.first_position, r3.last_position, r3.version) == (4, 4, 3)
        events = list(store.read_stream("device-a"))
        assert [(e.position, e.version, e.type) for e in events] == [(1, 1, "Happened"), (2, 2, "Happened"),
                                                                     (4, 3, "Renamed")]
        assert events[2].data == {"name": "x"} and events[2].metadata == {"actor": "test"}
        assert all(e.stream_id == "device-a" and e.stream_type == "Device" and e.problem is None for e in events)
        assert [e.position for e in store.read_all()] == [1, 2, 3, 4]
        assert store.head().position == 4
        assert store.head().chain_hash == events[-1].chain_hash

    def test_event_ids_are_kept_or_made(self, store: EventStore) -> None:
        store.append("s", "T", [NewEvent("A", {}, {}, "11111111-1111-4111-8111-111111111111"), NewEvent("B", {})],
                     NO_STREAM)
        a, b = store.read_stream("s")
        assert a.event_id == "11111111-1111-4111-8111-111111111111"
        assert len(b.event_id) == 36 and b.event_id != a.event_id

    def test_read_stream_version_range(self, store: EventStore) -> None:
        store.append("s", "T", [ev(n=i) for i in range(1, 11)], NO_STREAM)
        assert [e.version for e in store.read_stream("s", 3, 5)] == [3, 4, 5]
        assert [e.version for e in store.read_stream("s", 9)] == [9, 10]
        assert [e.version for e in store.read_stream("s", 11)] == []
        assert [v for v, _t, _d in store.read_stream_data("s", 2, 3)] == [2, 3]
        assert [d["n"] for _v, _t, d in store.read_stream_data("s", 9)] == [9, 10]

    def test_read_all_position_range_and_limit(self, store: EventStore) -> None:
        for i in range(10):
            store.append(f"s{i % 3}", "T", [ev(n=i)], ANY)
        assert [e.position for e in store.read_all(4)] == [4, 5, 6, 7, 8, 9, 10]
        assert [e.position for e in store.read_all(4, 6)] == [4, 5, 6]
        assert [e.position for e in store.read_all(2, limit=3)] == [2, 3, 4]
        assert [e.position for e in store.read_all(11)] == []
        assert store.positions(3, 5) == [3, 4, 5]
        assert store.positions(limit=2) == [1, 2]

    def test_read_all_filters(self, store: EventStore) -> None:
        store.append("device-1", "Device", [ev("Registered"), ev("Called")], NO_STREAM)
        store.append("router-1", "Router", [ev("Registered")], NO_STREAM)
        store.append("device-2", "Device", [ev("Called"), ev("Renamed")], NO_STREAM)
        store.append("device-1", "Device", [ev("Called")], 2)

        def pos(f: EventFilter, **kw: Any) -> list[int]:
            got = [e.position for e in store.read_all(filters=f, **kw)]
            assert store.positions(filters=f, **kw) == got  # positions() agrees with read_all
            return got

        assert pos(EventFilter(stream_types=("Router",))) == [3]
        assert pos(EventFilter(stream_types=("Device",))) == [1, 2, 4, 5, 6]
        assert pos(EventFilter(event_types=("Called",))) == [2, 4, 6]
        assert pos(EventFilter(event_types=("Called", "Renamed"))) == [2, 4, 5, 6]
        assert pos(EventFilter(stream_ids=("device-1",))) == [1, 2, 6]
        assert pos(EventFilter(stream_ids=("device-1",), event_types=("Called",))) == [2, 6]
        assert pos(EventFilter(event_types=("Called",)), from_position=3, to_position=5) == [4]
        assert pos(EventFilter(event_types=("Called",)), limit=2) == [2, 4]
        assert pos(EventFilter(event_types=("Nothing",))) == []
        assert EventFilter().is_empty() and not EventFilter(event_types=("x",)).is_empty()

    def test_read_all_time_range_is_inclusive(self, store: EventStore) -> None:
        for i in range(6):
            store.append("s", "T", [ev(n=i)], ANY)
        times = [e.recorded_at for e in store.read_all()]
        assert times == sorted(times) and len(set(times)) == 6  # the step clock ticks once per append
        got = [e.position for e in store.read_all(filters=EventFilter(since=times[1], until=times[3]))]
        assert got == [2, 3, 4]
        assert [e.position for e in store.read_all(filters=EventFilter(since=times[5] + timedelta(seconds=1)))] == []

    def test_events_at_returns_the_named_positions_in_order(self, store: EventStore) -> None:
        for i in range(5):
            store.append(f"s{i}", "T", [ev(n=i)], NO_STREAM)
        assert [e.position for e in store.events_at([4, 2, 5])] == [2, 4, 5]
        assert [e.data["n"] for e in store.events_at([3])] == [2]
        assert store.events_at([]) == [] and store.events_at([99]) == []

    def test_streams_paged_by_type_and_prefix(self, store: EventStore) -> None:
        for sid, stype in [("device-c", "Device"), ("device-a", "Device"), ("router-1", "Router"),
                           ("device-b", "Device"), ("devil", "Other")]:
            store.append(sid, stype, [ev()], NO_STREAM)
        store.append("device-a", "Device", [ev(), ev()], 1)
        assert [s.stream_id for s in store.streams()] == ["device-a", "device-b", "device-c", "devil", "router-1"]
        assert [s.stream_id for s in store.streams(limit=2)] == ["device-a", "device-b"]
        assert [s.stream_id for s in store.streams(offset=2, limit=2)] == ["device-c", "devil"]
        assert [s.stream_id for s in store.streams(offset=4, limit=2)] == ["router-1"]
        assert [s.stream_id for s in store.streams("Device")] == ["device-a", "device-b", "device-c"]
        assert [s.stream_id for s in store.streams("Device", offset=1, limit=1)] == ["device-b"]
        assert [s.stream_id for s in store.streams(prefix="device-")] == ["device-a", "device-b", "device-c"]
        assert [s.stream_id for s in store.streams(prefix="dev")] == ["device-a", "device-b", "device-c", "devil"]
        assert store.streams("Nope") == []
        assert store.count_streams() == 5 and store.count_streams("Device") == 3
        a = store.streams(limit=1)[0]
        assert (a.stream_type, a.version, a.first_position, a.last_position) == ("Device", 3, 2, 7)

    def test_stream_info(self, store: EventStore) -> None:
        store.append("s", "T", [ev()], NO_STREAM)
        store.append("other", "T", [ev()], NO_STREAM)
        store.append("s", "T", [ev(), ev()], 1)
        info = store.stream_info("s")
        assert info is not None
        assert (info.stream_id, info.stream_type, info.version, info.first_position, info.last_position) == \
            ("s", "T", 3, 1, 4)
        events = list(store.read_stream("s"))
        assert info.first_recorded_at == events[0].recorded_at
        assert info.last_recorded_at == events[-1].recorded_at

    def test_counts(self, store: EventStore) -> None:
        store.append("d1", "Device", [ev("A"), ev("B")], NO_STREAM)
        store.append("d2", "Device", [ev("A")], NO_STREAM)
        store.append("r1", "Router", [ev("A")], NO_STREAM)
        assert store.counts_by_stream_type() == {"Device": (2, 3), "Router": (1, 1)}
        assert store.counts_by_event_type() == {"A": 3, "B": 1}
        span = store.time_span()
        assert span is not None and span[0] < span[1]

    def test_position_at_time_and_stream_version_at(self, store: EventStore) -> None:
        for i in range(8):
            store.append("a" if i % 2 == 0 else "b", "T", [ev(n=i)], ANY)  # a: 1,3,5,7  b: 2,4,6,8
        events = list(store.read_all())
        assert store.position_at_time(events[0].recorded_at - timedelta(seconds=1)) == 0
        assert store.position_at_time(events[3].recorded_at) == 4
        assert store.position_at_time(events[3].recorded_at + timedelta(microseconds=500)) == 4
        assert store.position_at_time(events[-1].recorded_at + timedelta(days=1)) == 8
        assert [store.stream_version_at("a", p) for p in range(0, 10)] == [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
        assert [store.stream_version_at("b", p) for p in range(0, 10)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
        assert store.stream_version_at("missing", 5) == 0

    def test_recorded_at_never_goes_back(self, tmp_path: Path) -> None:
        times = iter([T0 + timedelta(seconds=s) for s in (0, 10, 5, 20, 20, 1)])  # 0: created_at
        store = self.make_store(tmp_path, lambda: next(times, T0))  # T0 for anything else asking
        try:
            for i in range(5):
                store.append("s", "T", [ev(n=i), ev(n=i)], ANY)
            recorded = [e.recorded_at for e in store.read_all()]
            assert recorded == sorted(recorded)
            assert recorded[2] == T0 + timedelta(seconds=10)  # the clock said 5 s: kept at 10 s
            # An import of history with an older recorded_at is clamped too.
            store.append_batch([AppendRequest("s", "T", (ev(),), ANY, T0)])
            assert store.head().recorded_at == recorded[-1]
        finally:
            store.close()

    # -- expected version ----------------------------------------------------------------------

    def test_expected_version_int(self, store: EventStore) -> None:
        store.append("s", "T", [ev(), ev()], NO_STREAM)
        assert store.append("s", "T", [ev()], 2).version == 3
        with pytest.raises(ConcurrencyError) as err:
            store.append("s", "T", [ev()], 2)
        assert (err.value.stream_id, err.value.expected, err.value.actual) == ("s", 2, 3)
        message = str(err.value)
        assert "'s'" in message and "version 3" in message and "version 2" in message
        with pytest.raises(ConcurrencyError) as err:
            store.append("new", "T", [ev()], 1)
        assert (err.value.expected, err.value.actual) == (1, 0)
        assert store.head().position == 3

    def test_expected_zero_means_a_new_stream(self, store: EventStore) -> None:
        assert store.append("s", "T", [ev()], 0).version == 1
        with pytest.raises(ConcurrencyError):
            store.append("s", "T", [ev()], 0)

    def test_expected_no_stream(self, store: EventStore) -> None:
        store.append("s", "T", [ev()], NO_STREAM)
        with pytest.raises(ConcurrencyError) as err:
            store.append("s", "T", [ev()], NO_STREAM)
        assert (err.value.stream_id, err.value.expected, err.value.actual) == ("s", NO_STREAM, 1)
        assert "no stream" in str(err.value)

    def test_expected_any(self, store: EventStore) -> None:
        assert store.append("s", "T", [ev()], ANY).version == 1
        assert store.append("s", "T", [ev(), ev()], ANY).version == 3

    def test_a_stream_keeps_its_type(self, store: EventStore) -> None:
        store.append("s", "Device", [ev()], NO_STREAM)
        with pytest.raises(StoreError, match="Device"):
            store.append("s", "Router", [ev()], ANY)
        assert store.head().position == 1

    def test_bad_requests_are_refused_before_writing(self, store: EventStore) -> None:
        with pytest.raises(StoreError):
            store.append("", "T", [ev()], ANY)
        with pytest.raises(StoreError):
            store.append("s", "", [ev()], ANY)
        with pytest.raises(StoreError):
            store.append("s", "T", [NewEvent("", {})], ANY)
        with pytest.raises(StoreError):
            store.append("s", "T", [NewEvent("A", ["not", "an", "object"])], ANY)  # type: ignore[arg-type]
        with pytest.raises(StoreError):
            store.append("s", "T", [ev()], -1)
        with pytest.raises(StoreError):
            store.append("s", "T", [ev()], True)  # type: ignore[arg-type]
        assert store.head().position == 0

    def test_empty_append_writes_nothing(self, store: EventStore) -> None:
        result = store.append("s", "T", [], NO_STREAM)
        assert result.version == 0 and store.head().position == 0 and store.stream_info("s") is None

    # -- atomicity -----------------------------------------------------------------------------

    def test_append_batch_is_all_or_nothing(self, store: EventStore) -> None:
        store.append("b", "T", [ev()], NO_STREAM)
        before = store.head()
        with pytest.raises(ConcurrencyError) as err:
            store.append_batch([
                AppendRequest("a", "T", (ev(), ev()), NO_STREAM),
                AppendRequest("b", "T", (ev(),), 5),  # conflicts: b is at 1
            ])
        assert err.value.stream_id == "b"
        assert store.head() == before
        assert store.stream_info("a") is None and list(store.read_stream("a")) == []
        assert [s.stream_id for s in store.streams()] == ["b"]
        # the store still takes the same positions afterwards (no gap left by the failed batch)
        assert store.append("a", "T", [ev()], NO_STREAM).first_position == 2

    def test_append_batch_several_requests_to_one_stream(self, store: EventStore) -> None:
        results = store.append_batch([
            AppendRequest("a", "T", (ev(),), NO_STREAM),
            AppendRequest("b", "T", (ev(),), NO_STREAM),
            AppendRequest("a", "T", (ev(), ev()), 1),
        ])
        assert [(r.stream_id, r.first_position, r.last_position, r.version) for r in results] == [
            ("a", 1, 1, 1), ("b", 2, 2, 1), ("a", 3, 4, 3)]
        assert store.stream_info("a").version == 3  # type: ignore[union-attr]
        with pytest.raises(ConcurrencyError):
            store.append_batch([AppendRequest("c", "T", (ev(),), NO_STREAM),
                                AppendRequest("c", "T", (ev(),), NO_STREAM)])
        assert store.stream_info("c") is None

    # -- chain ---------------------------------------------------------------------------------

    def test_verify_reports_the_head_digest(self, store: EventStore) -> None:
        for i in range(5):
            store.append(f"s{i % 2}", "T", [ev(n=i, text="ünïcode ✓")], ANY)
        result = store.verify()
        assert result.ok and result.checked == 5 and result.first_bad_position is None
        assert result.digest == store.head().chain_hash == recompute_chain(store)

    # -- property: any sequence of appends -----------------------------------------------------

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        plan=st.lists(
            st.tuples(
                st.sampled_from(["a", "b", "c"]),
                st.lists(st.dictionaries(st.sampled_from(["x", "y", "z"]),
                                         st.one_of(st.integers(-5, 5), st.text(max_size=5), st.none()),
                                         max_size=3), min_size=0, max_size=4),
                st.sampled_from(["exact", "any", "stale"]),
            ),
            max_size=12,
        )
    )
    def test_any_sequence_of_appends_reads_back(self, plan: list[tuple[str, list[dict[str, Any]], str]]) -> None:
        with tempfile.TemporaryDirectory() as directory:
            store = self.make_store(Path(directory), StepClock(T0))
            try:
                model: dict[str, list[dict[str, Any]]] = {}
                order: list[tuple[str, dict[str, Any]]] = []
                for stream, datas, mode in plan:
                    current = len(model.get(stream, []))
                    expected: Any = current if mode == "exact" else ANY if mode == "any" else current + 1
                    events = [NewEvent("E", d) for d in datas]
                    if mode == "stale":
                        with pytest.raises(ConcurrencyError):
                            store.append(stream, "T", events, expected)
                        continue
                    store.append(stream, "T", events, expected)
                    if datas:
                        model.setdefault(stream, []).extend(datas)
                        order += [(stream, d) for d in datas]
                everything = list(store.read_all())
                assert [e.position for e in everything] == list(range(1, len(order) + 1))
                assert [(e.stream_id, e.data) for e in everything] == order
                for stream, datas in model.items():
                    got = list(store.read_stream(stream))
                    assert [e.version for e in got] == list(range(1, len(datas) + 1))
                    assert [e.data for e in got] == datas
                    assert store.stream_info(stream).version == len(datas)  # type: ignore[union-attr]
                times = [e.recorded_at for e in everything]
                assert times == sorted(times)
                result = store.verify()
                assert result.ok and result.checked == len(order)
                assert result.digest == store.head().chain_hash == recompute_chain(store)
            finally:
                store.close()
