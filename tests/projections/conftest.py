"""Fixtures of the read-model tests: one small demo store per session, and its read models."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.demo import DemoSummary
from explorer.projections import runner_for
from explorer.projections.runner import ProjectionRunner
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.stores import make_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    path = tmp_path_factory.mktemp("proj-demo") / "demo.evstore"
    summary = make_demo(path, devices=30, events=3000, seed=5)
    return path, summary


@pytest.fixture(scope="session")
def built(demo: tuple[Path, DemoSummary], tmp_path_factory: pytest.TempPathFactory) -> ProjectionRunner:
    """Every read model of the demo store, caught up (shared: tests only read it)."""
    store = SQLiteEventStore.open(demo[0], read_only=True)
    runner = runner_for(store, ReadDatabase(tmp_path_factory.mktemp("proj-read") / "read.sqlite"))
    runner.catch_up()
    return runner
