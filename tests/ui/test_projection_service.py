"""The projection service runs the read models in a real child process; the app only reads.

Where a test needs the child to hold still, it stops it (SIGSTOP) or acts before the child has even
started reading its stdin (a command already in the pipe is read first).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.projections import runner_for
from explorer.projections.registry import registry_at
from explorer.projections.runner import FAILED, LIVE, live_prefix
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.projection_service import child_command, service_for, status_from_json
from explorer.ui.views.projections_panel import ProjectionsPanel
from tests.helpers.asof import save_artifact
from tests.helpers.stores import make_demo

REPO = Path(__file__).resolve().parents[2]
NAMES = ("registry", "search", "graph", "analytics")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "demo.evstore"
    make_demo(path, devices=20, events=1500, seed=11)
    return path


@pytest.fixture
def context() -> Iterator[AppContext]:
    ctx = AppContext()
    yield ctx
    service_for(ctx).wait()
    ctx.set_store(None)
    service_for(ctx).wait()


@pytest.fixture
def panel(qtbot, context: AppContext) -> ProjectionsPanel:
    widget = ProjectionsPanel(context=context)
    qtbot.addWidget(widget)
    widget.resize(820, 260)
    widget.show()
    return widget


def all_live_at(panel: ProjectionsPanel, head: int) -> bool:
    s = panel.model.statuses
    return len(s) == 4 and all(x.state == LIVE and x.checkpoint == head for x in s)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_child_command_line() -> None:
    assert child_command("/s.evstore", "--json") == [sys.executable, "-m", "explorer", "project", "/s.evstore",
                                                    "--json"]
    sys.frozen = True  # type: ignore[attr-defined]
    try:  # the frozen app's executable is the entry point itself (entry.main dispatches `project`)
        assert child_command("/s.evstore") == [sys.executable, "project", "/s.evstore"]
    finally:
        del sys.frozen  # type: ignore[attr-defined]


def test_catch_up_runs_in_a_child_and_the_panel_shows_it(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                        store_path: Path) -> None:
    service = panel.service
    with qtbot.waitSignal(service.child_started, timeout=20000) as started:
        context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    pid = started.args[0]
    assert pid > 0 and pid != os.getpid()
    qtbot.waitUntil(lambda: all_live_at(panel, context.head) and context.checkpoints == dict.fromkeys(NAMES,
                                                                                                       context.head),
                    timeout=30000)
    assert service.wait(20000)  # the run's end line (a progress line can show the head first)
    assert any(service.histories.get(name) for name in NAMES)  # the sparkline has samples
    assert service.child_peak_rss_mb is not None and service.child_peak_rss_mb > 0
    # The models the panel reports are in the read database the app reads (same EXPLORER_CACHE_DIR).
    store = SQLiteEventStore.open(store_path, read_only=True)
    assert {s.name: s.checkpoint for s in runner_for(store).status()} == dict.fromkeys(NAMES, context.head)
    store.close()


def test_rebuild_cancel_leaves_the_old_model_readable(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                     store_path: Path) -> None:
    context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=30000)
    service = panel.service
    assert service.wait(20000)
    reader = runner_for(SQLiteEventStore.open(store_path, read_only=True)).readdb
    before_rows = registry_at(reader, context.head)
    before_prefix = live_prefix(reader, "registry")
    pid = service.child_pid  # the child lingers, waiting for more work
    assert pid
    os.kill(pid, signal.SIGSTOP)  # it reads "rebuild" and "cancel" together when it goes on
    try:
        panel.table.selectRow(0)
        panel.rebuild_button.click()
        assert service.rebuilding == ["registry"] and panel.cancel_button.isEnabled()
        assert registry_at(reader, context.head) == before_rows  # the old model answers meanwhile
        with qtbot.waitSignal(service.rebuild_finished, timeout=30000) as finished:
            panel.cancel_button.click()
            os.kill(pid, signal.SIGCONT)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert finished.args == [None]
    assert "Rebuild cancelled" in panel.message.text()
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    assert all(s.rebuild_checkpoint is None for s in panel.model.statuses)
    assert live_prefix(reader, "registry") == before_prefix  # the same generation, never swapped
    assert registry_at(reader, context.head) == before_rows
    assert panel.rebuild_button.isEnabled() and not panel.cancel_button.isEnabled()
    reader.close()


def test_a_killed_child_shows_as_failed_and_retry_recovers(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                           store_path: Path) -> None:
    service = panel.service
    with qtbot.waitSignal(service.child_started, timeout=20000) as started:
        context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    with qtbot.waitSignal(service.failed, timeout=20000) as failed:
        os.kill(started.args[0], signal.SIGKILL)  # still starting up: long before it could finish
    assert "stopped unexpectedly" in failed.args[0] and "Retry" in failed.args[0]
    qtbot.waitUntil(lambda: len(panel.model.statuses) == 4
                    and all(s.state == FAILED for s in panel.model.statuses), timeout=20000)
    assert panel.model.index(0, 1).data() == "failed"
    assert "stopped unexpectedly" in panel.message.text()
    assert panel.retry_button.isVisible()
    save_artifact(panel, "projections_panel_child_died.png")
    # No new child on its own (no crash loop) - until the user retries.
    context.set_head(context.head)
    assert service.child_pid == 0
    with qtbot.waitSignal(service.child_started, timeout=20000):
        panel.retry_button.click()
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=30000)
    assert not panel.retry_button.isVisible()


def test_a_child_that_cannot_write_the_cache_is_one_sentence(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                             store_path: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(blocker / "cache"))  # mkdir fails in both processes
    service = panel.service
    with qtbot.waitSignal(service.failed, timeout=20000) as failed:
        context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    assert failed.args[0].startswith("The read models")
    assert "Traceback" not in failed.args[0]


def test_pause_stops_the_child_and_resume_goes_on(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                  store_path: Path) -> None:
    service = panel.service
    with qtbot.waitSignal(service.child_started, timeout=20000) as started:
        context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    with qtbot.waitSignal(service.child_exited, timeout=20000) as exited:
        panel.pause_button.setChecked(True)  # "stop" is in its stdin before it starts reading it
    assert exited.args == started.args and not alive(started.args[0])
    assert service.crashed is None  # a pause is no failure
    assert service.wait(10000)
    assert service.child_pid == 0
    with qtbot.waitSignal(service.child_started, timeout=20000):
        panel.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=30000)


def test_closing_the_store_stops_the_child(qtbot, context: AppContext, store_path: Path) -> None:
    service = service_for(context)
    with qtbot.waitSignal(service.child_started, timeout=20000) as started:
        context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    pid = started.args[0]
    os.kill(pid, signal.SIGSTOP)  # it cannot stop by itself: the service must kill it
    service.shutdown(grace_ms=300)  # what aboutToQuit does: stop, then kill after the grace time
    assert not alive(pid)
    assert service.child_pid == 0


DRIVER = """
import sys
import threading
from pathlib import Path
from PySide6.QtCore import QObject, Signal
from explorer.ui.app import make_application
from explorer.ui.main_window import MainWindow
from explorer.ui.projection_service import service_for
from explorer.ui.settings import Settings

class Bridge(QObject):
    close = Signal()

app = make_application()
window = MainWindow(settings=Settings(path=Path(sys.argv[2])), restore=False)
window.show()
bridge = Bridge()
bridge.close.connect(window.close)  # queued: emitted by the stdin thread
service_for(window.context).child_started.connect(lambda pid: print(f"CHILD {pid}", flush=True))
threading.Thread(target=lambda: (sys.stdin.readline(), bridge.close.emit()), daemon=True).start()
window.open_store(sys.argv[1], read_only=True)
sys.exit(app.exec())  # the last window closed: the app quits (aboutToQuit)
"""


def test_closing_the_app_terminates_the_child(store_path: Path, tmp_path: Path) -> None:
    app = subprocess.Popen([sys.executable, "-c", DRIVER, str(store_path), str(tmp_path / "settings.ini")],
                           cwd=REPO, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert app.stdin is not None and app.stdout is not None
    try:
        line = app.stdout.readline()
        assert line.startswith("CHILD "), app.stderr.read() if app.stderr else ""
        pid = int(line.split()[1])
        os.kill(pid, signal.SIGSTOP)  # it cannot finish nor stop by itself: closing the app must end it
        app.stdin.write("close\n")
        app.stdin.flush()
        assert app.wait(timeout=60) == 0
    finally:
        if app.poll() is None:
            app.kill()
    assert not alive(pid)


def test_a_child_stops_when_its_parent_goes_away(store_path: Path) -> None:
    """The end of stdin (the app died without a goodbye) stops the child before its next batch."""
    child = subprocess.Popen(
        child_command(store_path, "--progress-json", "--control-stdin", "--linger", "60"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None and child.stdin is not None
    child.stdin.close()
    lines = child.stdout.read().splitlines()
    assert child.wait(timeout=60) == 130
    assert '"event":"started"' in lines[0] and '"event":"stopped"' in lines[-1]


def test_status_from_json_round_trips() -> None:
    store_statuses = [
        {"name": "graph", "title": "G", "version": 2, "state": "failed", "checkpoint": 4, "head": 9,
         "lag_events": 5, "lag_seconds": 1.5, "events_per_second": 0.0, "rebuild_checkpoint": None,
         "stale_version": False, "failure": {"position": 5, "type": "T", "error": "E <b>x</b>"}},
    ]
    status = status_from_json(store_statuses[0])
    assert status.to_json() == store_statuses[0]
