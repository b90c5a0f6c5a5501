"""Start the desktop app: `event-explorer [PATH] [--read-only]`.

Sets up the QApplication (name, icon, system palette, high-DPI), logging to a file in the user
log directory, a last-resort exception hook (log it, tell the user in one sentence, offer the log;
never a traceback), and the demo store that opens when no path is given (made on first run).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QWidget

from explorer import APP_NAME, __version__, paths
from explorer.demo import make_demo_store
from explorer.ui import workers
from explorer.ui.settings import Settings

if TYPE_CHECKING:
    from explorer.ui.main_window import MainWindow

log = logging.getLogger(__name__)

LOG_FILE_NAME = "event-explorer.log"


def log_file() -> Path:
    return paths.log_dir() / LOG_FILE_NAME


def setup_logging() -> Path:
    """Log to a rotating file in the user log directory (and warnings to stderr)."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if not any(getattr(h, "explorer_log", False) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.explorer_log = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    return path


def report_unexpected(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                      *, parent: QWidget | None = None,
                      ask: Callable[[str], bool] | None = None) -> None:
    """Log an unexpected exception and tell the user in one sentence, offering the log file."""
    log.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
    if QApplication.instance() is None or _REPORTING:
        return  # one dialog at a time: an error that repeats (e.g. in a paint) is only logged
    if threading.current_thread() is not threading.main_thread():
        return  # raised on a worker thread: widgets may only be made on the GUI thread, so it is only logged
    _REPORTING.append(True)
    try:
        _tell_user(exc_type, parent, ask)
    finally:
        _REPORTING.clear()


_REPORTING: list[bool] = []


def _tell_user(exc_type: type[BaseException], parent: QWidget | None, ask: Callable[[str], bool] | None) -> None:
    text = (f"Something went wrong ({exc_type.__name__}). The app keeps running; the details are in "
            f"the log file {log_file()}. Open the log now?")
    if ask is not None:
        wants_log = ask(text)
    else:
        box = QMessageBox(QMessageBox.Icon.Warning, "Unexpected error", text,
                          QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Close, parent)
        box.setTextFormat(Qt.TextFormat.PlainText)
        wants_log = box.exec() == QMessageBox.StandardButton.Open
    if wants_log:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file())))


def install_exception_hook(parent: Callable[[], QWidget | None] = lambda: None) -> None:
    """Route uncaught exceptions (including those in Qt slots) to report_unexpected."""
    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        try:
            report_unexpected(exc_type, exc, tb, parent=parent())
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            log.exception("the exception hook failed")

    sys.excepthook = hook


def make_application(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication, set up once: names, icon, style that follows the system palette."""
    existing = QApplication.instance()
    if existing is not None:
        if not isinstance(existing, QApplication):
            # A bare QGuiApplication (made to draw a PDF) cannot host widgets: Qt would abort.
            raise RuntimeError("this process already runs a QGuiApplication without widgets "
                               "(a report was drawn first); the window needs a process of its own")
        return existing
    # Fractional scale factors (125%, 150%) render crisply instead of being rounded.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication([sys.argv[0] if sys.argv else APP_NAME, *argv])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Event Explorer")
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_NAME)
    # Fusion follows the platform's light/dark colour scheme (Qt >= 6.5) on every OS alike.
    app.setStyle("Fusion")
    try:
        from explorer.ui import resources

        resources.apply_app_icon(app)
    except Exception:  # noqa: BLE001 - an app without its icon still works
        log.exception("the app icon could not be set")
    return app


def ensure_demo_store(parent: QWidget | None, *, on_ready: Callable[[Path], None],
                      settings: Settings | None = None) -> workers.Worker | None:
    """Call on_ready(path) with the demo store; make it first (in a worker, with progress) if absent."""
    path = paths.demo_store_path()
    if path.exists():
        on_ready(path)
        return None
    settings = settings or Settings()
    devices, events = settings.get("demo/devices"), settings.get("demo/events")
    path.parent.mkdir(parents=True, exist_ok=True)

    def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> Path:
        def step(done: int, total: int) -> None:
            if cancelled():
                raise _Cancelled
            progress(done, total)

        try:  # whole or not at all: a cancel leaves no file (explorer.demo.make_demo_store)
            make_demo_store(path, devices=devices, events=events, progress=step)
        except FileExistsError:  # another instance made it meanwhile
            pass
        return path

    dialog = QProgressDialog("Making the demo store (a simulated IoT fleet)…", "Cancel", 0, events, parent)
    dialog.setWindowTitle("Event Explorer")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setValue(0)
    worker = workers.Worker(job, name="make demo store")
    worker.signals.progressed.connect(lambda done, total: dialog.setValue(min(done, total)))
    worker.signals.returned.connect(lambda result: (dialog.reset(), on_ready(result)))
    worker.signals.errored.connect(lambda exc: _demo_failed(dialog, exc, parent))
    dialog.canceled.connect(worker.cancel)
    _LIVE.add(worker)  # keeps the signals object alive until its queued results are delivered
    worker.signals.finished.connect(lambda: _LIVE.discard(worker))
    workers.QThreadPool.globalInstance().start(worker)
    return worker


_LIVE: set[workers.Worker] = set()


class _Cancelled(Exception):
    pass


def _demo_failed(dialog: QProgressDialog, exc: BaseException, parent: QWidget | None) -> None:
    dialog.reset()
    if isinstance(exc, _Cancelled):
        return
    log.error("making the demo store failed: %r", exc)
    box = QMessageBox(QMessageBox.Icon.Warning, "Demo store",
                      f"The demo store could not be made ({exc}); open a store with File ▸ Open.",
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="event-explorer", description="Explore an event store.")
    parser.add_argument("path", nargs="?", help="the store to open (default: the demo store)")
    parser.add_argument("--read-only", action="store_true", help="never write to the store")
    args, _qt_args = parser.parse_known_args(list(argv))
    return args


def open_initial_store(window: MainWindow, path: str | None, *, read_only: bool | None) -> None:
    """The store to start with: `path`, else the one open at the last exit, else the demo store."""
    last = window.settings.get("store/last")
    if path:
        window.open_store(path, read_only=read_only)
    elif last and Path(last).is_file():
        window.open_store(last, read_only=read_only or window.settings.get("store/last_read_only") or None)
    else:
        ensure_demo_store(window, on_ready=lambda demo: window.open_store(demo, read_only=read_only),
                          settings=window.settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes; return the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log_path = setup_logging()
    log.info("Event Explorer %s starting (log: %s)", __version__, log_path)
    app = make_application()
    from explorer.ui.main_window import MainWindow  # after the QApplication exists

    window = MainWindow()
    install_exception_hook(lambda: window)
    window.show()
    open_initial_store(window, args.path, read_only=True if args.read_only else None)
    code = app.exec()
    log.info("Event Explorer exiting (%s)", code)
    return int(code)
