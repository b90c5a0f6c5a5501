"""The FTS5 search read model: prefix search as the user types, hits that name stream and position."""

from __future__ import annotations

from pathlib import Path

from explorer.demo import DemoSummary
from explorer.projections.runner import ProjectionRunner
from explorer.projections.search import fts_query, search


def test_prefix_search_finds_a_device_as_the_user_types(built: ProjectionRunner, demo: tuple[Path, DemoSummary]) -> None:
    for typed in ("n", "ni", "nigh", "night-", "night-c", "night-caller", "NIGHT cal"):
        hits = search(built.readdb, typed, 20)
        assert any(h.kind == "device" and h.stream_id == demo[1].night_caller for h in hits), typed
    device_hit = next(h for h in search(built.readdb, "night-caller", 5) if h.kind == "device")
    assert device_hit.position >= 1
    assert "night-caller" in device_hit.text


def test_event_hits_give_the_stream_and_position_of_the_event(built: ProjectionRunner) -> None:
    hits = [h for h in search(built.readdb, "decommissioned", 50) if h.kind == "event"]
    assert hits
    for hit in hits:
        (event,) = built.store.events_at([hit.position])
        assert event.stream_id == hit.stream_id
        assert event.type == "DeviceDecommissioned"
    assert [h.position for h in hits] == sorted((h.position for h in hits), reverse=True)


def test_owner_and_phone_number_search(built: ProjectionRunner) -> None:
    assert any(h.kind == "device" for h in search(built.readdb, "glob", 10))
    call = next(e for e in built.store.read_all() if e.type == "CallReported")
    digits = call.data["number"].split()[-1]
    assert call.position in {h.position for h in search(built.readdb, digits, 1000)}


def test_nothing_and_odd_input(built: ProjectionRunner) -> None:
    assert search(built.readdb, "", 10) == []
    assert search(built.readdb, "   \"*(", 10) == []
    assert search(built.readdb, "zzzqqq", 10) == []
    assert search(built.readdb, "night", 0) == []
    assert fts_query('a"b c') == '"a"* AND "b"* AND "c"*'
    assert len(search(built.readdb, "call", 7)) == 7


def test_events_are_searched_from_three_characters(built: ProjectionRunner) -> None:
    assert all(h.kind == "device" for h in search(built.readdb, "de", 200))
    assert any(h.kind == "event" for h in search(built.readdb, "dec", 200))
