"""The device registry equals a from-scratch fold at any position; device lookup by id or name."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.demo import DemoSummary
from explorer.projections.registry import DeviceNotFound, device_at, registry_at, resolve_device
from explorer.projections.runner import ProjectionRunner
from tests.helpers.folds import registry_fold

FIELDS = ("name", "kind", "owner", "status", "connections", "calls_in", "calls_out", "last_call_at",
          "last_call_number", "last_call_direction", "last_seen")


@pytest.fixture(scope="module")
def events(built: ProjectionRunner) -> list:
    return list(built.store.read_all())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0, max_value=1))
def test_registry_as_of_any_position_equals_a_fold(built: ProjectionRunner, events: list, fraction: float) -> None:
    position = round(fraction * len(events))
    expected = registry_fold(events, position)
    rows = registry_at(built.readdb, position)
    got = {r.stream_id: {f: getattr(r, f) for f in FIELDS} for r in rows}
    assert got == expected
    assert all(r.valid_from <= position and (r.valid_to is None or r.valid_to > position) for r in rows)


def test_registry_rows_are_sorted_by_name_and_single_device_lookup_agrees(built: ProjectionRunner) -> None:
    rows = registry_at(built.readdb)
    assert [r.name.lower() for r in rows] == sorted(r.name.lower() for r in rows)
    one = rows[3]
    assert device_at(built.readdb, one.stream_id) == one
    assert device_at(built.readdb, one.stream_id, 0) is None


def test_resolve_device_by_stream_id_device_id_or_name(built: ProjectionRunner, demo: tuple[Path, DemoSummary]) -> None:
    sid = demo[1].night_caller
    assert resolve_device(built.readdb, sid) == sid
    assert resolve_device(built.readdb, sid.removeprefix("device-")) == sid
    assert resolve_device(built.readdb, "night-caller") == sid
    assert resolve_device(built.readdb, "NIGHT-CALLER") == sid
    with pytest.raises(DeviceNotFound, match="no device"):
        resolve_device(built.readdb, "no-such-device")
