"""Call analytics: counts equal a fold at any position; the planted suspicious devices rank on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.demo import DemoSummary
from explorer.projections.analytics import activity_at, hourly
from explorer.projections.runner import ProjectionRunner
from tests.helpers.folds import calls_fold


@pytest.fixture(scope="module")
def events(built: ProjectionRunner) -> list:
    return list(built.store.read_all())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fraction=st.floats(min_value=0, max_value=1))
def test_counts_as_of_any_position_equal_a_fold(built: ProjectionRunner, events: list, fraction: float) -> None:
    position = round(fraction * len(events))
    expected = calls_fold(events, position)
    got = {a.stream_id: {"calls": a.calls, "in": a.calls_in, "out": a.calls_out, "unknown": a.unknown,
                         "night": a.night} for a in activity_at(built.readdb, position) if a.calls}
    assert got == expected


def test_hourly_series_sums_to_the_totals(built: ProjectionRunner, events: list) -> None:
    position = len(events) // 2
    for activity in activity_at(built.readdb, position)[:5]:
        buckets = hourly(built.readdb, activity.stream_id, position)
        assert sum(b.calls_in for b in buckets) == activity.calls_in
        assert sum(b.calls_out for b in buckets) == activity.calls_out
        assert sum(b.night for b in buckets) == activity.night
        assert all(b.hour.hour < 6 for b in buckets if b.night)
        assert [b.hour for b in buckets] == sorted(b.hour for b in buckets)


def test_planted_devices_rank_at_the_top(built: ProjectionRunner, demo: tuple[Path, DemoSummary]) -> None:
    ranked = activity_at(built.readdb)
    top_two = {a.stream_id for a in ranked[:2]}
    assert top_two == {demo[1].night_caller, demo[1].burst_device}
    night = next(a for a in ranked if a.stream_id == demo[1].night_caller)
    burst = next(a for a in ranked if a.stream_id == demo[1].burst_device)
    assert night.night_score > 0.5 and night.unknown_score > 0.5
    assert burst.burst >= 8 and burst.burst_score == 1.0
    assert any("night" in r for r in night.reasons) and any("connections" in r for r in burst.reasons)
    assert ranked[2].score < min(night.score, burst.score) / 2


def test_before_the_burst_the_burst_device_is_not_flagged(built: ProjectionRunner, demo: tuple[Path, DemoSummary],
                                                          events: list) -> None:
    first_burst = next(e.position for e in events
                       if e.stream_id == demo[1].burst_device and e.type == "DeviceConnected")
    before = {a.stream_id: a for a in activity_at(built.readdb, first_burst - 1)}
    assert demo[1].burst_device not in before or before[demo[1].burst_device].burst_score == 0
