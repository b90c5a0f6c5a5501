"""The simulator: realistic commands through the real write path, with real conflicts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from explorer.domain.iot import device as dev
from explorer.simulate import simulate
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.stores import make_demo


def test_simulator_records_valid_events_and_meets_conflicts(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    make_demo(path, devices=8, events=300)
    with SQLiteEventStore.open(path) as store:
        head = store.head().position
        ticks = iter(range(10**9))
        summary = simulate(store, rate=1000.0, duration=10**9, devices=5, seed=4, max_events=300,
                           clock=lambda: next(ticks) / 1000.0, sleep=lambda s: None)
        assert summary.events >= 300 and summary.commands >= len(summary.command_ids)
        assert summary.conflicts > 0 and summary.resolved > 0  # several clients on few devices
        assert store.verify().ok
        new = list(store.read_all(head + 1))
        assert len(new) == summary.events == store.head().position - head
        per_command = Counter(e.metadata["command_id"] for e in new)
        assert per_command == Counter(summary.command_ids)  # nothing lost, nothing duplicated
        assert all(e.metadata["actor"].startswith("simulator/") and e.metadata["source"] == "simulator" for e in new)
        assert {e.type for e in new} <= set(dev.EVENT_TYPES)
        assert any(e.metadata.get("retried_after_conflict") for e in new)


def test_simulator_registers_devices_in_an_empty_store_and_paces_itself(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        now = [0.0]
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += seconds

        summary = simulate(store, rate=10.0, duration=2.0, devices=3, seed=1, clock=lambda: now[0], sleep=sleep)
        assert summary.by_command["RegisterDevice"] == 3
        assert len(store.streams(stream_type=dev.STREAM_TYPE)) == 3
        assert 18 <= summary.events <= 21  # 10 events/s for 2 s
        assert slept  # it waited between commands instead of spinning


def test_simulate_refuses_a_rate_or_duration_that_is_not_a_number(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        for rate, duration in ((float("nan"), 1.0), (float("inf"), 1.0), (10.0, float("nan")), (10.0, -1.0)):
            with pytest.raises(ValueError):
                simulate(store, rate=rate, duration=duration, devices=2, seed=1)
        assert store.head().position == 0
