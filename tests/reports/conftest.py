"""Fixtures of the report tests: one small demo store per module, copied when a test writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import apsw
import pytest

from explorer.demo import DemoSummary
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.stores import make_demo


@pytest.fixture(autouse=True)
def _widgets_application(qapp: object) -> None:
    """PDF rendering makes a bare QGuiApplication when none exists; in one pytest process the
    UI tests later need a QApplication, so the report tests start pytest-qt's one first."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    path = tmp_path_factory.mktemp("reports") / "demo.evstore"
    summary = make_demo(path, devices=25, events=1500, seed=5)
    with SQLiteEventStore.open(path) as store:  # one file, no -wal, so a copy is whole
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, summary


@pytest.fixture()
def store(demo: tuple[Path, DemoSummary]) -> SQLiteEventStore:
    s = SQLiteEventStore.open(demo[0], read_only=True)
    yield s
    s.close()


@pytest.fixture()
def store_copy(demo: tuple[Path, DemoSummary], tmp_path: Path) -> Path:
    target = tmp_path / "copy.evstore"
    shutil.copy2(demo[0], target)
    return target


def tamper_one_byte(path: Path, position: int) -> None:
    """Change one digit of one event's stored data with raw SQLite, past the immutability trigger."""
    db = apsw.Connection(str(path))
    data = db.execute("SELECT data FROM events WHERE position = ?", (position,)).fetchone()[0]
    index = next(i for i, ch in enumerate(data) if ch.isdigit())
    changed = data[:index] + str((int(data[index]) + 1) % 10) + data[index + 1:]
    db.execute("DROP TRIGGER events_are_immutable_update")
    db.execute("UPDATE events SET data = ? WHERE position = ?", (changed, position))
    db.close()
