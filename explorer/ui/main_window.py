"""The main window: menus, docks built from the view registry, opening stores, saved layout.

The window owns no data view itself: it builds the core browsing views (stream browser, overview,
events table, event detail) and every VIEWS/ACTIONS entry of explorer.ui.views, each in isolation
(a view that fails to build is logged and skipped). Opening a store runs in a worker; every bad
file gives one clear sentence and the previous store stays open.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import apsw
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer import about, paths
from explorer.store.errors import StoreError, StoreOpenError
from explorer.store.readdb import TELL_THE_USER, set_aside_if_damaged
from explorer.store.sqlite import SQLiteEventStore, is_writable_location
from explorer.ui import workers
from explorer.ui.context import AppContext
from explorer.ui.settings import Settings
from explorer.ui.views import ACTIONS, VIEWS, ActionSpec, ViewSpec

log = logging.getLogger(__name__)

AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea,
    "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea,
}

# The browsing views every window has; built like registry entries so a failure is isolated.
CORE_VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("streams", "Streams", "explorer.ui.views.streams:StreamBrowser", "left", "Ctrl+Shift+B"),
    ViewSpec("overview", "Overview", "explorer.ui.views.overview:OverviewView", "center", "Ctrl+1"),
    ViewSpec("events", "Events", "explorer.ui.views.events:EventsView", "center", "Ctrl+2"),
)
DETAIL_VIEW = ViewSpec("detail", "Event detail", "explorer.ui.views.detail:EventDetail", "center")

# Keys handled by widgets rather than menu actions; listed in Help -> Shortcuts as well.
EXTRA_SHORTCUTS: list[tuple[str, str]] = [
    ("Left / Right", "Step the as-of cursor one event back / forward (when the timeline has focus)"),
    ("Shift+Left / Shift+Right", "The selected stream's previous / next event (timeline focused)"),
    ("PageUp / PageDown", "Move the cursor 100 events back / forward (timeline focused)"),
    ("Home / End", "Jump the cursor to the first / last event (when the timeline has focus)"),
    ("Space", "Play / pause the replay (timeline focused)"),
    ("Ctrl+C", "Copy the selected text or JSON (event detail)"),
]

MENUS = ("File", "View", "Store", "Tools", "Help")


class _UserNotices(logging.Handler):
    """What the window hears through the log, from whichever thread logs (passed on by signals):
    records marked for the user (`readdb.TELL_THE_USER`, e.g. a damaged read database set aside:
    the bookmarks seem gone), and errors that say an SQLite file is damaged (a view's query reached
    a damaged page: the views log their errors, they do not stop on them)."""

    def __init__(self, notice: Any, damage: Any) -> None:
        super().__init__(logging.WARNING)
        self._notice, self._damage = notice, damage

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if getattr(record, TELL_THE_USER, False):
                self._notice.emit(record.getMessage())
            elif record.exc_info and isinstance(record.exc_info[1], apsw.CorruptError | apsw.NotADBError):
                self._damage.emit()
        except RuntimeError:  # the window is gone
            pass


def load_factory(ref: str) -> Callable[..., Any]:
    """Resolve a "module:attribute" reference."""
    module_name, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _describe_open_error(exc: BaseException) -> str:
    if isinstance(exc, StoreError):  # our own words: damaged, foreign, newer schema, locked by another process
        return str(exc)
    if isinstance(exc, (apsw.Error, sqlite3.Error)):
        return f"The file cannot be read as an event store ({exc})."
    return f"The store could not be opened because of an unexpected error ({type(exc).__name__}); see the log."


class MainWindow(QMainWindow):
    """The Event Explorer window.

    Attributes:
        context: the AppContext every view shares.
        settings: the app's Settings.
        views: key -> the QWidget built for that view (only views that built).
        docks: key -> the QDockWidget holding a side view.
        failed_views: keys of views whose factory raised.
        message_hook: when set, called as hook(kind, title, text) -> bool instead of showing a
            QMessageBox (kind: "error", "question" or "info"); tests use it to answer dialogs.

    Signals:
        store_opened(object): a store was opened and installed in the context.
        store_open_failed(str): the one-sentence reason a store did not open.
    """

    store_opened = Signal(object)
    store_open_failed = Signal(str)
    user_notice = Signal(str)
    damage_seen = Signal()

    def __init__(self, *, context: AppContext | None = None, settings: Settings | None = None,
                 restore: bool = True) -> None:
        super().__init__()
        self.context = context if context is not None else AppContext(self)
        self.settings = settings if settings is not None else Settings()
        self.views: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.failed_views: list[str] = []
        self.message_hook: Callable[[str, str, str], bool] | None = None
        self._opening: workers.Worker | None = None
        self._tab_to_restore: int | None = None  # the centre tab of the last session, shown with the first store
        self._live_workers: set[workers.Worker] = set()
        self._data_version: int | None = None
        self._actions_needing_write: list[QAction] = []
        self._menus: dict[str, QMenu] = {}

        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.resize(1400, 900)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("center-tabs")
        self.tabs.setDocumentMode(True)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("center-splitter")
        self.splitter.addWidget(self.tabs)
        self.setCentralWidget(self.splitter)

        self._build_menus()
        for spec in CORE_VIEWS:
            self._build_view(spec)
        detail = self._make_view(DETAIL_VIEW)
        if detail is not None:
            self.splitter.addWidget(detail)
            self.splitter.setStretchFactor(0, 3)
            self.splitter.setStretchFactor(1, 2)
        for spec in VIEWS:
            self._build_view(spec)
        for action_spec in ACTIONS:
            self._build_action(action_spec)
        self._finish_menus()

        self.status_label = QLabel("No store open")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.statusBar().addWidget(self.status_label, 1)

        self.user_notice.connect(self._show_notice)  # a method of the window: queued to the GUI thread
        self.damage_seen.connect(self._check_read_database)  # queued to the GUI thread, like user_notice
        self._damage_checked: str | None = None  # the store whose read database was checked already
        self._notices = _UserNotices(self.user_notice, self.damage_seen)
        logging.getLogger().addHandler(self._notices)
        self.destroyed.connect(partial(logging.getLogger().removeHandler, self._notices))

        self.context.store_changed.connect(self._on_store_changed)
        self.context.head_changed.connect(lambda _head: self._update_title())
        self.context.position_changed.connect(lambda _pos: self._update_status())
        self.context.head_changed.connect(lambda _head: self._update_status())
        self.context.stream_selected.connect(self._on_stream_selected)

        # Another process may append: the live feed notices (PRAGMA data_version, no table read).
        self._poll = QTimer(self)
        self._poll.setInterval(1000)
        self._poll.timeout.connect(self._poll_head)
        try:
            from explorer.ui.live_feed import LiveFeed

            self.live_feed: Any = LiveFeed.for_context(self.context)
        except Exception:  # noqa: BLE001 - without the live feed, a slower poll of our own
            log.exception("the live feed is unavailable; polling the head once a second")
            self.live_feed = None
            self._poll.start()

        self._update_title()
        self.default_layout()
        if restore:
            self.restore_layout()

    # -- building ---------------------------------------------------------------------------

    def _make_view(self, spec: ViewSpec) -> QWidget | None:
        try:
            widget = load_factory(spec.factory)(self.context)
            if not isinstance(widget, QWidget):
                raise TypeError(f"factory returned {type(widget).__name__}, not a QWidget")
        except Exception:  # noqa: BLE001 - one broken view must not stop the window
            log.exception("view %r (%s) failed to build; skipped", spec.key, spec.factory)
            self.failed_views.append(spec.key)
            return None
        widget.setObjectName(f"view-{spec.key}")
        self.views[spec.key] = widget
        return widget

    def _build_view(self, spec: ViewSpec) -> None:
        widget = self._make_view(spec)
        if widget is None:
            return
        view_menu = self._menus["View"]
        if spec.area == "center":
            index = self.tabs.addTab(widget, spec.title)
            action = QAction(f"Show {spec.title}", self)
            action.triggered.connect(lambda _=False, w=widget: self.show_tab(w))
            self.tabs.setTabToolTip(index, f"{spec.title} ({spec.shortcut})" if spec.shortcut else spec.title)
        else:
            dock = QDockWidget(spec.title, self)
            dock.setObjectName(f"dock-{spec.key}")
            dock.setWidget(widget)
            area = AREAS.get(spec.area, Qt.DockWidgetArea.RightDockWidgetArea)
            existing = [d for k, d in self.docks.items() if self.dockWidgetArea(d) == area]
            self.addDockWidget(area, dock)
            if existing and spec.area != "bottom":
                self.tabifyDockWidget(existing[-1], dock)
            self.docks[spec.key] = dock
            action = dock.toggleViewAction()
            action.triggered.connect(lambda checked, w=widget: checked and w.setFocus())
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        view_menu.addAction(action)

    def _build_action(self, spec: ActionSpec) -> None:
        try:
            handler = load_factory(spec.handler)
        except Exception:  # noqa: BLE001
            log.exception("action %r (%s) failed to load; skipped", spec.text, spec.handler)
            return
        menu = self._menus.get(spec.menu) or self._menus["Tools"]
        action = QAction(spec.text, self)
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.triggered.connect(lambda _=False, h=handler, t=spec.text: self._run_handler(h, t))
        if spec.needs_writable:
            self._actions_needing_write.append(action)
            action.setEnabled(False)
        menu.addAction(action)

    def _run_handler(self, handler: Callable[..., Any], text: str) -> None:
        try:
            handler(self, self.context)
        except Exception as exc:  # noqa: BLE001 - a failing action reports, never crashes
            log.exception("action %r failed", text)
            self.show_error("Action failed", f"{text.replace('&', '')} failed: {exc}")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for name in MENUS:
            self._menus[name] = bar.addMenu(f"&{name}")
        file_menu = self._menus["File"]
        self.open_action = QAction("&Open…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.setToolTip("Open an event store (Ctrl+O)")
        self.open_action.triggered.connect(lambda: self.choose_and_open(read_only=False))
        self.open_ro_action = QAction("Open &Read-only…", self)
        self.open_ro_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_ro_action.setToolTip("Open an event store without ever writing to it")
        self.open_ro_action.triggered.connect(lambda: self.choose_and_open(read_only=True))
        self.open_demo_action = QAction("Open &Demo Store", self)
        self.open_demo_action.triggered.connect(self.open_demo)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_ro_action)
        file_menu.addAction(self.open_demo_action)
        file_menu.addMenu(self.recent_menu)

        help_menu = self._menus["Help"]
        self.shortcuts_action = QAction("&Keyboard Shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence("F1"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.about_action = QAction("&About Event Explorer", self)
        self.about_action.triggered.connect(self.show_about)
        self.open_log_action = QAction("Open &Log Folder", self)
        self.open_log_action.triggered.connect(self.open_log_folder)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.open_log_action)
        help_menu.addAction(self.about_action)

        self.clear_selection_action = QAction("Show &Whole Store", self)
        self.clear_selection_action.setShortcut(QKeySequence("Esc"))
        self.clear_selection_action.setToolTip("Clear the stream selection and show the overview")
        self.clear_selection_action.triggered.connect(lambda: self.context.select_stream(None))
        self._menus["View"].addAction(self.clear_selection_action)
        self._menus["View"].addSeparator()

    def _finish_menus(self) -> None:
        self._menus["File"].addSeparator()
        self._menus["File"].addAction(self.quit_action)
        view_menu = self._menus["View"]
        view_menu.addSeparator()
        reset = QAction("Reset &Layout", self)
        reset.triggered.connect(self.reset_layout)
        view_menu.addAction(reset)
        for name in ("Store", "Tools"):
            if self._menus[name].isEmpty():
                self._menus[name].menuAction().setVisible(False)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get("store/recent")
        for i, path in enumerate(recent):
            escaped = path.replace("&", "&&")  # a literal & in a path is not a mnemonic
            action = self.recent_menu.addAction(f"&{i + 1}  {escaped}" if i < 9 else escaped)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_store(p))
        if not recent:
            none = self.recent_menu.addAction("(no recent stores)")
            none.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear Recent")
            clear.triggered.connect(lambda: self.settings.set("store/recent", []))

    # -- opening ------------------------------------------------------------------------------

    def choose_and_open(self, *, read_only: bool) -> None:
        start = str(self.context.store.path.parent) if self.context.store is not None else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open Event Store (read-only)" if read_only else "Open Event Store", start,
            "Event stores (*.evstore *.sqlite *.sqlite3 *.db);;All files (*)",
        )
        if path:
            self.open_store(path, read_only=True if read_only else None)

    def open_demo(self) -> None:
        from explorer.ui import app

        app.ensure_demo_store(self, on_ready=lambda path: self.open_store(str(path)))

    def open_store(self, path: str | Path, *, read_only: bool | None = None, migrate: bool = False) -> workers.Worker:
        """Open `path` in a worker; read-only by default when the user cannot write the file.

        On success the store replaces the open one; on failure the reason is shown and the
        previous store stays open.
        """
        path = Path(path).expanduser()
        if read_only is None:
            read_only = path.exists() and not is_writable_location(path)
        self.statusBar().showMessage(f"Opening {path}…")
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)

        def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> SQLiteEventStore:
            return SQLiteEventStore.open(path, read_only=read_only, migrate=migrate)

        # Its StoreError is a sentence for the user (shown, and logged as one warning line).
        worker = workers.Worker(job, name=f"opening {path}", expected=(StoreError,))
        # Only the store asked for last is opened: an earlier open that ends later is let go.
        worker.signals.returned.connect(lambda store: self._on_opened(store) if self._opening is worker
                                        else self._let_go(store))
        worker.signals.errored.connect(lambda exc: self._on_open_failed(path, read_only, exc)
                                       if self._opening is worker else None)
        worker.signals.finished.connect(QApplication.restoreOverrideCursor)
        self._opening = worker
        self._live_workers.add(worker)  # its signals must outlive the run for queued results
        worker.signals.finished.connect(lambda: self._live_workers.discard(worker))
        workers.QThreadPool.globalInstance().start(worker)
        return worker

    @staticmethod
    def _let_go(store: SQLiteEventStore) -> None:
        log.info("%s opened after another store was asked for: closed again", store.path)
        store.close()

    def _on_opened(self, store: SQLiteEventStore) -> None:
        self.statusBar().clearMessage()
        self.context.set_store(store)
        self.settings.set("store/last", str(store.path))
        self.settings.set("store/last_read_only", store.read_only)
        self.settings.add_recent(str(store.path))
        self.store_opened.emit(store)

    def _on_open_failed(self, path: Path, read_only: bool, exc: BaseException) -> None:
        self.statusBar().clearMessage()
        message = _describe_open_error(exc)
        if not isinstance(exc, StoreError):
            log.error("opening %s failed unexpectedly: %r", path, exc)
        if isinstance(exc, StoreOpenError) and "older schema version" in message and not read_only:
            question = (f"{path.name} uses an older store format. Upgrade it now? A backup copy is "
                        "kept beside it. (Choose No to leave the file untouched.)")
            if self.ask("Upgrade the store?", question):
                self.open_store(path, read_only=False, migrate=True)
                return
        self.store_open_failed.emit(message)
        self.show_error("Cannot open the store", message)

    def _on_store_changed(self, store: SQLiteEventStore | None) -> None:
        self._data_version = None
        for action in self._actions_needing_write:
            action.setEnabled(store is not None and not store.read_only)
        self._update_title()
        self._update_status()
        if store is not None:
            restored, self._tab_to_restore = self._tab_to_restore, None
            if restored is not None and 0 <= restored < self.tabs.count():
                self.tabs.setCurrentIndex(restored)  # the first store of a restored window: where the user left off
            else:
                self.show_tab(self.views.get("overview"))

    def _on_stream_selected(self, stream_id: str | None) -> None:
        self.show_tab(self.views.get("events" if stream_id else "overview"))
        self._update_status()

    def _poll_head(self) -> None:
        store = self.context.store
        if store is None:
            return
        try:
            version = store.data_version()
            if version != self._data_version:
                first = self._data_version is None
                self._data_version = version
                if not first:
                    self.context.set_head(store.head().position)
        except apsw.Error:
            log.exception("polling the store's head failed")

    # -- title and status ----------------------------------------------------------------------

    def _update_title(self) -> None:
        store = self.context.store
        if store is None:
            self.setWindowTitle("Event Explorer")
            return
        mode = " [read-only]" if store.read_only else ""
        self.setWindowTitle(f"{store.name}{mode} — head {self.context.head:,} — Event Explorer")

    def _update_status(self) -> None:
        store = self.context.store
        if store is None:
            self.status_label.setText("No store open — File ▸ Open (Ctrl+O)")
            return
        parts = [str(store.path), f"as of {self.context.position:,} / {self.context.head:,}"]
        if self.context.stream_id:
            parts.append(f"stream {self.context.stream_id}")
        if store.read_only:
            parts.append("read-only")
        self.status_label.setText("   ·   ".join(parts))

    def show_tab(self, widget: QWidget | None) -> None:
        if widget is not None and self.tabs.indexOf(widget) >= 0:
            self.tabs.setCurrentWidget(widget)

    # -- dialogs ---------------------------------------------------------------------------------

    def show_error(self, title: str, text: str) -> None:
        if self.message_hook is not None:
            self.message_hook("error", title, text)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()

    def _check_read_database(self) -> None:
        """A view met a damaged page: check the open store's read database once (in a worker); when
        it is the damaged file it is set aside (the user is told, see _UserNotices) and the store
        opened again, so every view and the read models start on a new one."""
        store = self.context.store
        if store is None or self._damage_checked == store.store_id:
            return
        self._damage_checked = store.store_id
        target, path, read_only = paths.read_db_path(store.store_id), store.path, store.read_only

        def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> Path | None:
            return set_aside_if_damaged(target)

        def checked(aside: Path | None) -> None:
            if aside is not None and self.context.store is store:
                self._damage_checked = None  # the new read database may be checked again one day
                self.open_store(path, read_only=read_only)

        worker = workers.start(job, name="checking the read database", on_result=checked)
        self._live_workers.add(worker)
        worker.signals.finished.connect(lambda: self._live_workers.discard(worker))

    def _show_notice(self, text: str) -> None:
        self.show_error("Read database", text[:1].upper() + text[1:] + ".")

    def ask(self, title: str, text: str) -> bool:
        if self.message_hook is not None:
            return bool(self.message_hook("question", title, text))
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        return box.exec() == QMessageBox.StandardButton.Yes

    def shortcut_table(self) -> list[tuple[str, str]]:
        """Every shortcut of the window: (keys, what it does), from the live actions."""
        rows: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for action in self.findChildren(QAction):
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if not keys:
                continue
            text = action.text().replace("&", "").replace("…", "")
            if (keys, text) not in seen:
                seen.add((keys, text))
                rows.append((keys, text))
        for shortcut in self.findChildren(QShortcut):
            keys = shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)
            text = shortcut.whatsThis() or shortcut.objectName()
            if keys and text and (keys, text) not in seen:
                seen.add((keys, text))
                rows.append((keys, text))
        rows.extend(EXTRA_SHORTCUTS)
        return rows

    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard Shortcuts")
        layout = QVBoxLayout(dialog)
        rows = self.shortcut_table()
        table = QTableWidget(len(rows), 2, dialog)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (keys, text) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(keys))
            table.setItem(i, 1, QTableWidgetItem(text))
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.resizeColumnToContents(0)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(560, 480)
        dialog.exec()

    def about_text(self) -> str:
        """Versions and directories (explorer.about), plus this window's store and settings file."""
        store = self.context.store
        return (f"{about.about_text()}\n\nStore: {store.path if store is not None else '(none)'}"
                f"\nSettings file: {self.settings.path}")

    def show_about(self) -> None:
        if self.message_hook is not None:
            self.message_hook("info", "About Event Explorer", self.about_text())
            return
        box = QMessageBox(QMessageBox.Icon.Information, "About Event Explorer", self.about_text(),
                          QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.exec()

    def open_log_folder(self) -> None:
        paths.log_dir().mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_dir())))

    # -- drag and drop ----------------------------------------------------------------------------

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls()
        if len(urls) == 1 and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()
            self.open_store(urls[0].toLocalFile())

    # -- layout ----------------------------------------------------------------------------------

    def default_layout(self) -> None:
        """Give the centre (the events table) most of the room; docks get a useful minimum."""
        char = self.fontMetrics().horizontalAdvance("0")
        line = self.fontMetrics().height()
        widths = {"left": char * 34, "right": char * 46}
        for area, width in widths.items():
            docks = [d for k, d in self.docks.items() if self.dockWidgetArea(d) == AREAS[area]]
            if docks:
                self.resizeDocks(docks, [width] * len(docks), Qt.Orientation.Horizontal)
                docks[0].raise_()  # the first registered view of a tab group is shown on top
        bottom = [d for d in self.docks.values() if self.dockWidgetArea(d) == AREAS["bottom"]]
        if bottom:
            self.resizeDocks(bottom, [line * 14] * len(bottom), Qt.Orientation.Vertical)
        self.splitter.setSizes([line * 30, line * 14])

    def restore_layout(self) -> None:
        geometry = self.settings.get("window/geometry")
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = self.settings.get("window/state")
        if not state.isEmpty():
            self.restoreState(state)
        splitter = self.settings.get("window/splitter")
        if not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        self._tab_to_restore = self.settings.get("window/tab")

    def save_layout(self) -> None:
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/state", self.saveState())
        self.settings.set("window/splitter", self.splitter.saveState())
        self.settings.set("window/tab", max(0, self.tabs.currentIndex()))
        self.settings.sync()

    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.default_layout()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.save_layout()
        self._poll.stop()
        logging.getLogger().removeHandler(self._notices)
        super().closeEvent(event)
