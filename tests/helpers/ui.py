"""Fixtures and helpers for the desktop app's tests (import the fixtures into a test module)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QWidget

from explorer.store.base_types import ANY
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.settings import Settings
from tests.helpers.stores import make_demo

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"


def save_artifact(widget: QWidget, name: str) -> Path:
    """Keep a screenshot in artifacts/ui/ (git-ignored) for a person to look at after a test run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    widget.grab().save(str(path))
    return path


@contextmanager
def dark_palette() -> Iterator[None]:
    """The application in a dark palette for the duration (screenshots and theme tests)."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    palette = QPalette()
    for role, color in ((QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.Base, "#17181a"),
                        (QPalette.ColorRole.AlternateBase, "#24262a"), (QPalette.ColorRole.Text, "#e8eaed"),
                        (QPalette.ColorRole.WindowText, "#e8eaed"), (QPalette.ColorRole.Button, "#303134"),
                        (QPalette.ColorRole.ButtonText, "#e8eaed"), (QPalette.ColorRole.Highlight, "#8ab4f8")):
        palette.setColor(role, QColor(color))
    app = QApplication.instance()
    old = app.palette()
    app.setPalette(palette)
    try:
        yield
    finally:
        app.setPalette(old)


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store shared by the session's UI tests (never written to)."""
    path = tmp_path_factory.mktemp("ui-demo") / "demo.evstore"
    make_demo(path, devices=30, events=2000, seed=3)
    return path


@pytest.fixture
def demo_copy(demo_file: Path, tmp_path: Path) -> Path:
    """A private copy of the demo store, for tests that append."""
    path = tmp_path / "copy.evstore"
    shutil.copy(demo_file, path)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(path=tmp_path / "settings.ini")


@pytest.fixture
def context(demo_file: Path, qtbot: Any) -> Iterator[AppContext]:
    """An AppContext with the demo store open."""
    ctx = AppContext()
    ctx.set_store(SQLiteEventStore.open(demo_file, read_only=True))
    yield ctx
    QThreadPool.globalInstance().waitForDone(10_000)
    ctx.set_store(None)


@pytest.fixture
def writable_context(demo_copy: Path, qtbot: Any) -> Iterator[AppContext]:
    """An AppContext with a private, writable copy of the demo store open."""
    ctx = AppContext()
    ctx.set_store(SQLiteEventStore.open(demo_copy))
    yield ctx
    QThreadPool.globalInstance().waitForDone(10_000)
    ctx.set_store(None)


def append_events(path: Path, count: int, *, stream_id: str = "ticket-1", stream_type: str = "Ticket",
                  data: dict[str, Any] | None = None) -> None:
    """Append `count` events from another connection (as another process would)."""
    with SQLiteEventStore.open(path) as store:
        store.append(stream_id, stream_type,
                     [NewEvent("TicketNoted", data or {"n": i}, {"actor": "tester"}) for i in range(count)],
                     expected_version=ANY)
