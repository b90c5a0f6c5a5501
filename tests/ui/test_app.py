"""Starting the app: the demo store on first run, logging, and the last-resort error report."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from explorer import paths
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui import app
from explorer.ui.main_window import MainWindow
from explorer.ui.settings import Settings


@pytest.fixture
def small_demo_settings() -> Settings:
    settings = Settings()  # in the test's own config dir (EXPLORER_CONFIG_DIR)
    settings.set("demo/devices", 10)
    settings.set("demo/events", 300)
    settings.sync()
    return settings


@pytest.fixture
def clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "explorer_log", False)]:
        root.removeHandler(handler)
        handler.close()


def test_demo_store_is_made_once_then_reused(qtbot: QtBot, small_demo_settings: Settings) -> None:
    ready: list[Path] = []
    worker = app.ensure_demo_store(None, on_ready=ready.append, settings=small_demo_settings)
    assert worker is not None
    qtbot.waitUntil(lambda: bool(ready), timeout=30_000)
    assert ready == [paths.demo_store_path()]
    with SQLiteEventStore.open(ready[0], read_only=True) as store:
        assert store.head().position >= 200 and store.count_streams() == 10  # "about" 300 events
    assert not list(paths.demo_store_path().parent.glob("*.partial*"))
    assert app.ensure_demo_store(None, on_ready=ready.append, settings=small_demo_settings) is None
    assert ready == [paths.demo_store_path()] * 2


def run_main(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> MainWindow:
    """Run app.main with an event loop that returns once a store is open."""
    seen: list[MainWindow] = []

    def fake_exec(_app: Any) -> int:
        def opened() -> bool:
            windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
            return bool(windows) and windows[-1].context.store is not None
        qtbot.waitUntil(opened, timeout=30_000)
        window = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()][-1]
        seen.append(window)
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    assert app.main(argv) == 0
    QThreadPool.globalInstance().waitForDone(10_000)
    return seen[0]


def test_main_opens_the_demo_store_first_then_the_last_store(
        qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, small_demo_settings: Settings, clean_logging: None) -> None:
    window = run_main(qtbot, monkeypatch, [])
    assert window.context.store.path == paths.demo_store_path()
    assert (paths.log_dir() / app.LOG_FILE_NAME).exists()
    assert sys.excepthook is not sys.__excepthook__

    again = run_main(qtbot, monkeypatch, ["--read-only"])
    assert again.context.store.path == paths.demo_store_path() and again.context.store.read_only
    assert "[read-only]" in again.windowTitle()
    for w in (window, again):
        w.deleteLater()


def test_unexpected_errors_are_logged_and_reported_in_one_sentence(qtbot: QtBot, clean_logging: None) -> None:
    app.setup_logging()
    asked: list[str] = []
    try:
        raise ValueError("boom <b>html</b>")
    except ValueError as exc:
        app.report_unexpected(type(exc), exc, exc.__traceback__, ask=lambda text: asked.append(text) or False)
    for handler in logging.getLogger().handlers:
        handler.flush()
    logged = (paths.log_dir() / app.LOG_FILE_NAME).read_text()
    assert "Traceback" in logged and "boom" in logged
    assert len(asked) == 1 and "Traceback" not in asked[0] and "ValueError" in asked[0]
    assert str(paths.log_dir() / app.LOG_FILE_NAME) in asked[0]


def test_exception_hook_routes_to_the_report(monkeypatch: pytest.MonkeyPatch, clean_logging: None) -> None:
    reported: list[type[BaseException]] = []
    monkeypatch.setattr(app, "report_unexpected", lambda t, e, tb, parent=None: reported.append(t))
    app.install_exception_hook()
    sys.excepthook(RuntimeError, RuntimeError("x"), None)
    assert reported == [RuntimeError]


def test_arguments() -> None:
    args = app.parse_args(["/tmp/a.evstore", "--read-only"])
    assert args.path == "/tmp/a.evstore" and args.read_only
    assert app.parse_args([]).path is None


def test_an_error_raised_while_its_dialog_is_up_is_only_logged(qtbot: QtBot, clean_logging: None) -> None:
    app.setup_logging()
    asked: list[str] = []

    def ask(text: str) -> bool:
        asked.append(text)
        try:  # the same error again while the first dialog is "open"
            raise KeyError("again")
        except KeyError as exc:
            app.report_unexpected(type(exc), exc, exc.__traceback__, ask=ask)
        return False

    try:
        raise ValueError("first")
    except ValueError as exc:
        app.report_unexpected(type(exc), exc, exc.__traceback__, ask=ask)
    assert len(asked) == 1
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "KeyError" in (paths.log_dir() / app.LOG_FILE_NAME).read_text()


def test_an_error_on_a_worker_thread_is_logged_never_shown(qtbot: QtBot, clean_logging: None) -> None:
    """Widgets may only be made on the GUI thread: the one-sentence dialog is for the GUI thread's errors."""
    import threading

    app.setup_logging()
    asked: list[str] = []

    def on_a_worker() -> None:
        try:
            raise ValueError("on a pool thread")
        except ValueError as exc:
            app.report_unexpected(type(exc), exc, exc.__traceback__, ask=lambda text: asked.append(text) or False)

    thread = threading.Thread(target=on_a_worker)
    thread.start()
    thread.join(10)
    assert asked == []
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "on a pool thread" in (paths.log_dir() / app.LOG_FILE_NAME).read_text()


def test_a_bare_gui_application_is_a_clear_error_not_an_abort() -> None:
    """A process that drew a PDF first (a bare QGuiApplication) gets an error, not a Qt abort."""
    import subprocess
    import sys

    code = (
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication([])\n"
        "from explorer.ui.app import make_application\n"
        "try:\n"
        "    make_application()\n"
        "except RuntimeError as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-1000:]
    assert result.stdout.startswith("refused: this process already runs a QGuiApplication")
