"""Helpers that make stores for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from explorer.demo import DemoSummary, generate_demo
from explorer.store.sqlite import SQLiteEventStore


class StepClock:
    """A deterministic clock: each call returns a time one second after the previous one."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_demo(path: Path, *, devices: int = 30, events: int = 2000, seed: int = 3) -> DemoSummary:
    with SQLiteEventStore.create(path) as store:
        return generate_demo(store, devices=devices, events=events, seed=seed, days=10)
