"""The main window: opening stores (and refusing bad files), views from the registry, saved layout."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import apsw
import pytest
from PySide6.QtCore import QCoreApplication, QMimeData, QPointF, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from explorer.store import schema
from explorer.store import sqlite as sqlite_module
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui import main_window as main_window_module
from explorer.ui.main_window import MainWindow
from explorer.ui.settings import Settings
from explorer.ui.views import ActionSpec, ViewSpec
from tests.helpers.ui import demo_file, save_artifact  # noqa: F401 - fixture

Messages = list[tuple[str, str, str]]


class Dialogs:
    """Answers the window's dialogs in tests and records them."""

    def __init__(self) -> None:
        self.shown: Messages = []
        self.answer = False

    def __call__(self, kind: str, title: str, text: str) -> bool:
        self.shown.append((kind, title, text))
        return self.answer

    def errors(self) -> list[str]:
        return [text for kind, _title, text in self.shown if kind == "error"]


def make_window(qtbot: QtBot, settings_path: Path, *, restore: bool = False) -> tuple[MainWindow, Dialogs]:
    window = MainWindow(settings=Settings(path=settings_path), restore=restore)
    dialogs = Dialogs()
    window.message_hook = dialogs
    qtbot.addWidget(window)
    return window, dialogs


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[MainWindow, Dialogs]]:
    win, dialogs = make_window(qtbot, tmp_path / "settings.ini")
    win.resize(1300, 850)
    win.show()
    yield win, dialogs
    QThreadPool.globalInstance().waitForDone(10_000)


def open_ok(qtbot: QtBot, window: MainWindow, path: Path, **kwargs: Any) -> None:
    with qtbot.waitSignal(window.store_opened, timeout=15_000):
        window.open_store(path, **kwargs)


def open_fails(qtbot: QtBot, window: MainWindow, path: Path, **kwargs: Any) -> str:
    with qtbot.waitSignal(window.store_open_failed, timeout=15_000) as blocker:
        window.open_store(path, **kwargs)
    return str(blocker.args[0])


def test_opening_the_demo_store_fills_the_window(qtbot: QtBot, window: tuple[MainWindow, Dialogs],
                                                 demo_file: Path) -> None:
    win, dialogs = window
    open_ok(qtbot, win, demo_file)
    assert win.context.store is not None and win.context.head == 2000
    assert win.windowTitle() == "demo.evstore — head 2,000 — Event Explorer"
    assert not win.failed_views, win.failed_views
    for key in ("streams", "overview", "events", "detail"):
        assert key in win.views
    overview = win.views["overview"]
    qtbot.waitUntil(lambda: overview.summary is not None, timeout=10_000)
    assert win.tabs.currentWidget() is overview
    assert not dialogs.shown
    qtbot.waitUntil(lambda: win.views["streams"].model.rowCount() == 1, timeout=10_000)
    save_artifact(win, "main-window-overview")


def test_files_the_user_cannot_write_open_read_only(qtbot: QtBot, window: tuple[MainWindow, Dialogs],
                                                    demo_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    win, _dialogs = window
    monkeypatch.setattr(main_window_module, "is_writable_location", lambda path: False)
    open_ok(qtbot, win, demo_file)
    assert win.context.store.read_only
    assert "[read-only]" in win.windowTitle()


def bad_files(tmp_path: Path, demo_file: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a phrase its one-sentence message must contain)."""
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n" * 20)
    empty = tmp_path / "empty.evstore"
    empty.touch()
    truncated = tmp_path / "truncated.evstore"
    data = demo_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    foreign = tmp_path / "shop.sqlite"
    db = apsw.Connection(str(foreign))
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    newer = tmp_path / "newer.evstore"
    shutil.copy(demo_file, newer)
    db = apsw.Connection(str(newer))
    db.execute(f"PRAGMA user_version = {schema.USER_VERSION + 1}")
    db.close()
    folder = tmp_path / "folder.evstore"
    folder.mkdir()
    return {
        "missing": (tmp_path / "nope.evstore", "no such file"),
        "directory": (folder, "is a directory"),
        "not sqlite": (text, "not an SQLite database"),
        "empty": (empty, "empty"),
        "truncated": (truncated, "truncated"),
        "not an event store": (foreign, "not an Event Explorer store"),
        "newer schema": (newer, "newer"),
    }


def test_every_bad_file_gives_one_sentence_and_keeps_the_open_store(
        qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path, tmp_path: Path) -> None:
    win, dialogs = window
    open_ok(qtbot, win, demo_file)
    store = win.context.store
    for name, (path, phrase) in bad_files(tmp_path, demo_file).items():
        message = open_fails(qtbot, win, path)
        assert phrase in message, (name, message)
        assert "Traceback" not in message and "\n" not in message, name
        assert dialogs.errors()[-1] == message, name
        assert win.context.store is store and win.context.head == 2000, name
    assert len(dialogs.errors()) == 7
    assert win.windowTitle().startswith("demo.evstore")
    # Still usable: another store opens after all those failures.
    open_ok(qtbot, win, demo_file, read_only=True)


def test_a_store_that_cannot_be_opened_is_one_warning_in_the_log_an_unexpected_error_its_traceback(
        qtbot: QtBot, window: tuple[MainWindow, Dialogs], tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    win, _dialogs = window
    missing = tmp_path / "nope.evstore"
    with caplog.at_level("INFO"):
        open_fails(qtbot, win, missing)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, bool(r.exc_info)) for r in records] == [("WARNING", False)]
    assert str(missing) in records[0].getMessage() and "no such file" in records[0].getMessage()

    caplog.clear()
    monkeypatch.setattr(SQLiteEventStore, "open", mock.Mock(side_effect=KeyError("a bug")))
    with caplog.at_level("INFO"):
        assert "unexpected error" in open_fails(qtbot, win, missing)
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)


def use_schema_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    migrations = dict(schema.MIGRATIONS)
    migrations[2] = ("CREATE TABLE annotations (position INTEGER PRIMARY KEY, note TEXT NOT NULL)",)
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(sqlite_module, "USER_VERSION", 2)


def test_an_older_store_is_migrated_only_when_the_user_agrees(
        qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    win, dialogs = window
    old = tmp_path / "old.evstore"
    shutil.copy(demo_file, old)
    use_schema_v2(monkeypatch)
    before = old.read_bytes()

    dialogs.answer = False
    message = open_fails(qtbot, win, old)
    assert "older schema version 1" in message
    assert [kind for kind, _t, _x in dialogs.shown] == ["question", "error"]
    assert "Upgrade" in dialogs.shown[0][2] and old.read_bytes() == before

    # Read-only opens never offer to migrate.
    dialogs.shown.clear()
    open_fails(qtbot, win, old, read_only=True)
    assert [kind for kind, _t, _x in dialogs.shown] == ["error"]

    dialogs.answer = True
    with qtbot.waitSignal(win.store_opened, timeout=15_000):
        win.open_store(old)
    assert win.context.store.schema_version == 2
    assert Path(f"{old}.bak-v1").exists()


def raising_factory(context: Any) -> Any:
    raise RuntimeError("this view is broken")


HANDLED: list[Any] = []


def recording_handler(window: Any, context: Any) -> None:
    HANDLED.append(context.store.path)


def test_a_broken_view_is_skipped_and_actions_follow_writability(
        qtbot: QtBot, tmp_path: Path, demo_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main_window_module, "VIEWS", [
        ViewSpec("missing", "Missing", "explorer.no_such_module:make", "right"),
        ViewSpec("broken", "Broken", "tests.ui.test_main_window:raising_factory", "left"),
        ViewSpec("extra", "Extra", "explorer.ui.views.detail:EventDetail", "right", "Ctrl+Alt+E"),
    ])
    monkeypatch.setattr(main_window_module, "ACTIONS", [
        ActionSpec("Tools", "&Record", "tests.ui.test_main_window:recording_handler", "Ctrl+Alt+R",
                   needs_writable=True),
        ActionSpec("Tools", "Nothing", "explorer.no_such_module:handler"),
    ])
    win, _dialogs = make_window(qtbot, tmp_path / "s.ini")
    assert win.failed_views == ["missing", "broken"]
    assert "extra" in win.docks and "streams" in win.docks
    record = next(a for a in win.findChildren(main_window_module.QAction) if a.text() == "&Record")
    assert not record.isEnabled()
    open_ok(qtbot, win, demo_file, read_only=True)
    assert not record.isEnabled()
    open_ok(qtbot, win, demo_file, read_only=False)
    assert record.isEnabled()
    HANDLED.clear()
    record.trigger()
    assert HANDLED == [demo_file]
    assert ("Ctrl+Alt+R", "Record") in win.shortcut_table()


def test_help_lists_shortcuts_and_about_names_versions(qtbot: QtBot, window: tuple[MainWindow, Dialogs]) -> None:
    win, dialogs = window
    table = dict((text, keys) for keys, text in win.shortcut_table())
    assert table["Open"] == "Ctrl+O"
    assert table["Open Read-only"] == "Ctrl+Shift+O"
    assert table["Quit"] == "Ctrl+Q"
    assert table["Keyboard Shortcuts"] == "F1"
    assert "Filter Streams" in table
    win.show_about()
    kind, _title, text = dialogs.shown[-1]
    assert kind == "info" and "SQLite" in text and "Qt" in text and str(win.settings.path) in text


def test_no_two_actions_share_a_shortcut(window: tuple[MainWindow, Dialogs]) -> None:
    """Qt fires neither of two actions with the same keys ("ambiguous shortcut")."""
    win, _dialogs = window
    keys = [k for k, _text in win.shortcut_table()]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_dropping_a_file_opens_it(qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path) -> None:
    win, _dialogs = window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_file))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(win.store_opened, timeout=15_000):
        win.dropEvent(event)
    assert win.context.store.path == demo_file
    assert win.settings.get("store/recent") == [str(demo_file)]


def test_layout_and_last_store_are_restored_in_the_next_window(
        qtbot: QtBot, tmp_path: Path, demo_file: Path) -> None:
    settings_path = tmp_path / "settings.ini"
    first, _ = make_window(qtbot, settings_path, restore=True)
    first.resize(790, 720)  # about the offscreen screen's size (restoreGeometry clamps to the screen)
    first.show()
    size = (first.width(), first.height())
    assert size != (1400, 900)  # not the default size
    open_ok(qtbot, first, demo_file, read_only=True)
    first.docks["streams"].hide()
    first.splitter.setSizes([500, 150])
    sizes = first.splitter.sizes()
    first.show_tab(first.views["graph"])
    tab = first.tabs.currentIndex()
    assert tab != first.tabs.indexOf(first.views["overview"])
    first.close()

    second, _ = make_window(qtbot, settings_path, restore=True)
    second.show()
    assert (second.width(), second.height()) == size
    assert second.docks["streams"].isHidden()
    assert second.splitter.sizes() == sizes
    assert second.settings.get("store/last") == str(demo_file)
    assert second.settings.get("store/last_read_only") is True

    from explorer.ui.app import open_initial_store

    with qtbot.waitSignal(second.store_opened, timeout=15_000):
        open_initial_store(second, None, read_only=None)
    assert second.context.store.path == demo_file and second.context.store.read_only
    assert second.tabs.currentIndex() == tab  # where the user left off, not the overview
    QThreadPool.globalInstance().waitForDone(10_000)


def test_of_two_quick_opens_the_store_asked_for_last_is_the_one_open(
        qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two quick picks (Open Recent): the first open finishing last must not replace the second."""
    import threading

    win, dialogs = window
    first, second = tmp_path / "first.evstore", tmp_path / "second.evstore"
    shutil.copy(demo_file, first)
    shutil.copy(demo_file, second)
    second_done = threading.Event()
    real_open = sqlite_module.SQLiteEventStore.open.__func__
    opened: list[Any] = []

    def open_slowly(cls: Any, path: Path, **kwargs: Any) -> Any:
        if Path(path).name == "first.evstore":
            second_done.wait(15)  # the first open ends after the second
        store = real_open(cls, path, **kwargs)
        opened.append(store)
        return store

    monkeypatch.setattr(sqlite_module.SQLiteEventStore, "open", classmethod(open_slowly))
    win.open_store(first)
    with qtbot.waitSignal(win.store_opened, timeout=15_000):
        win.open_store(second)
    second_done.set()
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=15_000)
    late = next(s for s in opened if s.path == first)

    def let_go() -> bool:  # the first open's result arrives (queued) and is closed again
        try:
            late.head()
        except Exception:  # noqa: BLE001 - apsw's "connection closed"
            return True
        return False

    qtbot.waitUntil(let_go, timeout=15_000)
    assert win.context.store is not None and win.context.store.path == second
    assert Path(win.settings.get("store/last")) == second and dialogs.errors() == []


def test_the_status_bar_follows_the_head(qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path,
                                         tmp_path: Path) -> None:
    from explorer.store import NewEvent
    from explorer.store.base_types import ANY

    win, _dialogs = window
    path = tmp_path / "live.evstore"
    shutil.copy(demo_file, path)
    open_ok(qtbot, win, path)
    head = win.context.head
    with sqlite_module.SQLiteEventStore.open(path) as writer:  # another writer appends
        writer.append("device-x", "Device", [NewEvent("DeviceRenamed", {"name": "x"})] * 3, ANY)
    qtbot.waitUntil(lambda: win.context.head == head + 3, timeout=15_000)
    assert f"/ {head + 3:,}" in win.status_label.text()


def test_a_damaged_read_database_is_told_to_the_user_once_with_where_it_went(
        qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path, tmp_path: Path) -> None:
    """Its bookmarks seem gone: the user hears why and where the old file is, not only the log."""
    from explorer import paths

    win, dialogs = window
    path = tmp_path / "demo.evstore"
    shutil.copy(demo_file, path)
    with SQLiteEventStore.open(path, read_only=True) as store:
        read_db = paths.read_db_path(store.store_id)
    read_db.parent.mkdir(parents=True, exist_ok=True)
    read_db.write_bytes(b"not a database " * 500)

    open_ok(qtbot, win, path)
    qtbot.waitUntil(lambda: len(dialogs.errors()) == 1, timeout=15_000)
    text = dialogs.errors()[0]
    aside = list(read_db.parent.glob(read_db.name + ".damaged-*"))
    assert len(aside) == 1 and text.startswith(f"The read database {read_db} was damaged") and str(aside[0]) in text
    assert [title for kind, title, _t in dialogs.shown if kind == "error"] == ["Read database"]
    QThreadPool.globalInstance().waitForDone(10_000)  # the other views open the new read database...
    QCoreApplication.processEvents()
    assert len(dialogs.errors()) == 1  # ...and find nothing to tell


def test_notices_for_the_user_stop_with_the_window(qtbot: QtBot, tmp_path: Path) -> None:
    from explorer.store.readdb import TELL_THE_USER

    win, dialogs = make_window(qtbot, tmp_path / "settings.ini")
    logging.getLogger("explorer.store.readdb").warning("told", extra={TELL_THE_USER: True})
    qtbot.waitUntil(lambda: dialogs.errors() == ["Told."], timeout=5_000)
    logging.getLogger("explorer.store.readdb").warning("only logged")
    win.close()
    logging.getLogger("explorer.store.readdb").warning("after close", extra={TELL_THE_USER: True})
    QCoreApplication.processEvents()
    assert dialogs.errors() == ["Told."]


def test_a_read_database_damaged_inside_is_set_aside_and_the_store_opened_again(
        qtbot: QtBot, window: tuple[MainWindow, Dialogs], demo_file: Path, tmp_path: Path) -> None:
    """A damaged page deep in the read database fails only the queries that reach it: the views
    logged it and showed ids for names and empty read models, for good (QA)."""
    from explorer import paths
    from explorer.cli import main as cli
    from explorer.ui.models.streams import device_names
    from tests.cli.test_damaged_read_database import _damage_tables

    win, dialogs = window
    path = tmp_path / "demo.evstore"
    shutil.copy(demo_file, path)
    assert cli(["project", str(path)]) == 0
    with SQLiteEventStore.open(path, read_only=True) as store:
        read_db = paths.read_db_path(store.store_id)
        names = device_names(store)
    assert names
    _damage_tables(read_db, "registry_g%")

    with qtbot.waitSignals([win.store_opened, win.store_opened], timeout=30_000):  # opened, then again
        win.open_store(path)
    qtbot.waitUntil(lambda: len(dialogs.errors()) == 1, timeout=15_000)
    assert dialogs.errors()[0].startswith(f"The read database {read_db} was damaged")
    assert len([p for p in read_db.parent.iterdir() if ".damaged-" in p.name and
                not p.name.endswith(("-wal", "-shm"))]) == 1
    assert win.context.store is not None and win.context.store.path == path
    qtbot.waitUntil(lambda: device_names(win.context.store) == names, timeout=60_000)  # built again
