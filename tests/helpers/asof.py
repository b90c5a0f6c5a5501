"""Helpers for the as-of cursor UI tests (timeline, state view): a small demo store and references."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from explorer.store import NewEvent
from explorer.store.base_types import ANY
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel
from explorer.ui.context import AppContext
from tests.helpers.stores import make_demo

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
HTML_NAME = "<b>x</b><img src=x onerror=alert(1)>"


def make_store(path: Path) -> tuple[SQLiteEventStore, str]:
    """A 2,000-event demo store plus a rename to an HTML-looking name; (store, the busiest device)."""
    make_demo(path, devices=20, events=2000, seed=5)
    store = SQLiteEventStore.open(path)
    busiest = max(store.streams(stream_type="Device"), key=lambda info: info.version).stream_id
    return store, busiest


def add_html_rename(store: SQLiteEventStore, stream_id: str) -> int:
    """Rename the device to markup; returns the event's position."""
    result = store.append(stream_id, "Device", [NewEvent("DeviceRenamed", {"name": HTML_NAME})], ANY)
    return result.last_position


def reference_state(store: SQLiteEventStore, stream_id: str, position: int) -> Any:
    """What TimeTravel.state_at says, on a fresh connection without snapshots."""
    clone = store.clone()
    try:
        return TimeTravel(clone, None).state_at(stream_id, position=position).state
    finally:
        clone.close()


def save_artifact(widget: Any, name: str) -> Path:
    """Keep a screenshot in artifacts/ (git-ignored) for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    widget.grab().save(str(path))
    return path


@pytest.fixture
def asof_context(tmp_path: Path) -> Iterator[AppContext]:
    """An AppContext on a small store whose busy stream's id is `context.test_stream_id`."""
    store, stream_id = make_store(tmp_path / "demo.evstore")
    ctx = AppContext()
    ctx.set_store(store)
    ctx.test_stream_id = stream_id  # type: ignore[attr-defined]
    yield ctx
    ctx.set_store(None)
