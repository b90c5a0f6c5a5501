"""The report model: scope resolution, entries, changed fields and the event-list digest."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from explorer.reports.model import (
    ReportError,
    ReportScope,
    actor_of,
    analyse,
    iso_us,
    iter_entries,
    resolve_scope,
    start_report,
)
from explorer.store import chain
from explorer.store.base_types import NO_STREAM
from explorer.store.records import EventFilter, NewEvent, format_time
from explorer.store.sqlite import SQLiteEventStore, from_us


def test_same_scope_twice_gives_the_same_event_list_digest(store, demo) -> None:
    scope = ReportScope(stream_ids=(demo[1].night_caller,))
    first = analyse(store, scope).report
    second = analyse(store, scope).report
    assert first.integrity.event_list_digest == second.integrity.event_list_digest
    assert first.integrity.event_count == second.integrity.event_count > 0
    other = analyse(store, ReportScope(stream_ids=(demo[1].burst_device,))).report
    assert other.integrity.event_list_digest != first.integrity.event_list_digest


def test_digest_follows_its_documented_definition(store, demo) -> None:
    resolved = resolve_scope(store, ReportScope(stream_ids=(demo[1].night_caller,)))
    lines = []
    for row in store.read_raw(1, None, [demo[1].night_caller]):
        position, *rest, chash = row
        own = hashlib.sha256(chain.event_bytes(position, *rest)).hexdigest()
        lines.append(f"{position} {own}\n")
    expected = hashlib.sha256("".join(lines).encode()).hexdigest()
    run = analyse(store, ReportScope(stream_ids=(demo[1].night_caller,)))
    assert run.report.integrity.event_list_digest == expected
    assert run.report.integrity.chain_hash_at_last == store.chain_hash_at(resolved.last_position)


def test_entries_equal_the_events_in_scope(store, demo) -> None:
    sid = demo[1].night_caller
    resolved = resolve_scope(store, ReportScope(stream_ids=(sid,), event_types=("CallReported",)))
    got = [(e.position, e.type, e.stream_id) for e in iter_entries(store, resolved)]
    want = [(e.position, e.type, e.stream_id)
            for e in store.read_all(filters=EventFilter(stream_ids=(sid,), event_types=("CallReported",)))]
    assert got == want and got


def test_time_range_and_actor_filter(store) -> None:
    start, end = store.time_span()
    since, until = start + timedelta(days=2), start + timedelta(days=4)
    scope = ReportScope(since=since, until=until, actors=("alice",))
    entries = list(iter_entries(store, resolve_scope(store, scope)))
    assert entries and all(e.actor == "alice" for e in entries)
    assert all(format_time(since) <= e.recorded_at <= format_time(until) for e in entries)
    expected = [e.position for e in store.read_all(filters=EventFilter(since=since, until=until))
                if e.metadata.get("actor") == "alice"]
    assert [e.position for e in entries] == expected


def test_sentences_and_changed_fields_are_in_domain_words(store, demo) -> None:
    entries = list(iter_entries(store, resolve_scope(store, ReportScope(stream_ids=(demo[1].night_caller,)))))
    registered = entries[0]
    assert registered.type == "DeviceRegistered"
    assert registered.sentence.startswith("Device night-caller registered")
    assert "Status unregistered → active" in registered.changes_text()
    connected = next(e for e in entries if e.type == "DeviceConnected")
    assert connected.sentence.startswith("Device night-caller connected to ")
    assert "device-" not in connected.sentence  # the peer is named, not shown as an id
    assert connected.changes[0].label == "Connected devices" and connected.changes[0].new.startswith("+")
    call = next(e for e in entries if e.type == "CallReported")
    assert any(c.label == "Call time (s)" for c in call.changes)


def test_connected_to_includes_the_device_and_its_peers(store, demo) -> None:
    resolved = resolve_scope(store, ReportScope(connected_to=demo[1].burst_device))
    assert demo[1].burst_device in resolved.stream_ids
    assert len(resolved.stream_ids) > 3
    peers = {e.data["peer_id"] for e in store.read_stream(demo[1].burst_device) if e.type == "DeviceConnected"}
    assert {f"device-{p}" if not p.startswith("device-") else p for p in peers} <= set(resolved.stream_ids)


def test_summary_has_counts_states_and_diff(store, demo) -> None:
    report = analyse(store, ReportScope(stream_ids=(demo[1].night_caller,))).report
    s = report.summary
    assert sum(s.counts_by_type.values()) == report.integrity.event_count
    assert s.first_event.type == "DeviceRegistered"
    stream = s.streams[0]
    assert stream.start_version == 0 and stream.end_version > 0
    assert {c.label for c in stream.changes} >= {"Name", "Status"}
    assert sum(sum(row) for row in s.timeline.counts.values()) == report.integrity.event_count


def test_bad_scopes_get_one_clear_message(store) -> None:
    with pytest.raises(ReportError, match="no stream 'nope'"):
        resolve_scope(store, ReportScope(stream_ids=("nope",)))
    with pytest.raises(ReportError, match="before its start"):
        start, _ = store.time_span()
        resolve_scope(store, ReportScope(since=start + timedelta(days=1), until=start))
    empty = analyse(store, ReportScope(from_position=10**9)).report
    assert empty.integrity.event_count == 0
    assert empty.integrity.event_list_digest == hashlib.sha256(b"").hexdigest()


def test_iso_us_matches_format_time() -> None:
    year_one = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
    for value in (0, 1, 1_790_813_373_196_112, 86_400_000_000 * 365 + 59_999_999, year_one, year_one + 1):
        assert iso_us(value) == format_time(from_us(value))
    assert iso_us(year_one) == "0001-01-01T00:00:00.000000Z"


def test_the_earliest_and_latest_dates_make_reports(store) -> None:
    """`--since 0001-01-01` used to overflow (since − 1 µs); `--until 0001-01-01` printed year "1"."""
    head = store.head().position
    earliest = datetime(1, 1, 1, tzinfo=UTC)
    everything = resolve_scope(store, ReportScope(since=earliest))
    assert (everything.first_position, everything.last_position) == (1, head)
    west = resolve_scope(store, ReportScope(since=datetime.fromisoformat("0001-01-01T00:00:00-01:00")))
    assert (west.first_position, west.last_position) == (1, head)
    nothing = resolve_scope(store, ReportScope(until=earliest))
    assert nothing.empty
    assert nothing.to_json()["requested"]["until"] == "0001-01-01T00:00:00.000000Z"
    assert "recorded start to 0001-01-01T00:00:00Z" in nothing.describe()
    latest = resolve_scope(store, ReportScope(until=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)))
    assert (latest.first_position, latest.last_position) == (1, head)
    assert analyse(store, ReportScope(since=earliest)).report.integrity.event_count == head


@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:30", "9999-12-31T23:00:00-05:00"])
def test_a_time_with_no_utc_date_is_one_clear_error(store, bound: str, text: str) -> None:
    with pytest.raises(ReportError, match="outside the years 1 to 9999 in UTC"):
        resolve_scope(store, ReportScope(**{bound: datetime.fromisoformat(text)}))


def test_actor_of_is_the_metadata_actor_when_it_is_text() -> None:
    assert actor_of({"actor": "alice"}) == "alice"
    assert actor_of({"actor": ""}) == ""
    for metadata in ({}, {"actor": None}, {"actor": 42}, {"actor": ["alice"]}, {"actor": {"k": "v"}}, [1], None):
        assert actor_of(metadata) == ""


def test_events_whose_actor_is_not_text_are_reported_under_no_actor(tmp_path) -> None:
    metas = [{}, {"actor": None}, {"actor": 42}, {"actor": ["alice"]}, {"actor": {"k": "v"}}, {"actor": ""},
             {"actor": "alice"}]
    with SQLiteEventStore.create(tmp_path / "s.evstore") as writable:
        writable.append("w-1", "Widget", [NewEvent("Set", {"n": n}, meta) for n, meta in enumerate(metas)], NO_STREAM)
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        none = list(iter_entries(store, resolve_scope(store, ReportScope(actors=("",)))))
        alice = list(iter_entries(store, resolve_scope(store, ReportScope(actors=("alice",)))))
    assert [e.position for e in none] == [1, 2, 3, 4, 5, 6]
    assert all(e.actor == "" for e in none)
    assert [e.position for e in alice] == [7]


def test_peers_outside_the_scope_are_named_in_changed_fields(store, demo) -> None:
    resolved = resolve_scope(store, ReportScope(stream_ids=(demo[1].night_caller,), event_types=("DeviceConnected",)))
    entry = next(iter_entries(store, resolved))
    change = entry.changes[0]
    assert change.label == "Connected devices"
    peer = entry.data["peer_id"]
    assert peer not in change.new and change.new.startswith("+[")


def _full_pass_report(store, scope: ReportScope, now: datetime):
    run = start_report(store, scope, now=now)
    for _entry in run.entries():
        pass
    return run.report


@pytest.mark.parametrize("scope_of", [
    lambda d: ReportScope(),
    lambda d: ReportScope(stream_ids=(d.night_caller,)),
    lambda d: ReportScope(stream_ids=(d.night_caller,), event_types=("DeviceConnected",)),
    lambda d: ReportScope(connected_to=d.burst_device, actors=("alice",)),
    lambda d: ReportScope(from_position=5, to_position=5),
])
def test_a_summary_pass_makes_the_report_of_a_full_pass(store, demo, scope_of) -> None:
    """analyse() leaves the texts out after the first entry; the report must not show it."""
    now = datetime(2026, 11, 27, tzinfo=UTC)
    scope = scope_of(demo[1])
    summary_pass = analyse(store, scope, now=now).report
    full = _full_pass_report(store, scope, now)
    assert summary_pass == full
    assert full.summary.last_event.sentence and full.summary.first_event.sentence


def test_a_summary_pass_names_the_last_event_as_it_was_before_a_hidden_rename(tmp_path) -> None:
    """A rename after the last listed event (filtered out) must not reach that event's sentence."""
    with SQLiteEventStore.create(tmp_path / "s.evstore") as writable:
        writable.append("device-d1", "Device", [
            NewEvent("DeviceRegistered", {"device_id": "d1", "name": "old-name", "kind": "sensor", "owner": "o"}),
            NewEvent("CallReported", {"direction": "in", "number": "+1 555", "duration_s": 3}),
            NewEvent("CallReported", {"direction": "out", "number": "+1 556", "duration_s": 4}),
            NewEvent("DeviceRenamed", {"name": "new-name"}),
        ], NO_STREAM)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    scope = ReportScope(event_types=("CallReported",))
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        summary_pass = analyse(store, scope, now=now).report
        full = _full_pass_report(store, scope, now)
    assert full.summary.last_event.sentence == "Outgoing call to +1 556 on old-name, 4 s"
    assert summary_pass == full
