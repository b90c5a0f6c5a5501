"""The app's read models: built by a child process, only read by the app.

One service per AppContext (`service_for(context)`). Catching up and rebuilding run in a child
process, `event-explorer project STORE --progress-json --control-stdin --linger S --background` (the headless
CLI, explorer/cli/projection_commands.py, whose docstring defines the JSON-lines protocol): its
Python, its memory and its GIL are its own, so a first build of a 1M-event store neither grows the
app nor stalls the cursor. The app reads the read database (WAL; the runner commits a batch's
effects and its checkpoint in one transaction, so a reader always sees a consistent model).

Why QProcess and not `subprocess` from a thread: QProcess delivers the child's stdout lines and its
exit (normal, crashed, failed to start) as signals on the GUI thread, so no Python thread sits in a
read loop taking the GIL from the GUI; it kills and reaps the child (`kill`, `waitForFinished`), and
on Windows it starts a console program without flashing a console window. Parsing a few JSON lines
a second on the GUI thread is negligible.

How it behaves:
- A store opens or the head moves: the statuses are re-read from the read database (on a private
  one-thread pool); if a read model is behind (or not built, or rebuilding, or of another code
  version) a child catches up. At most one child at a time: a request while it runs is queued
  (one) and sent to it when its run ends; it lingers CHILD_LINGER_S for more work (new appends
  need no new process), then exits and frees its memory.
- Rebuild one/all: a running catch-up is stopped first; the child builds beside and swaps (the old
  model stays readable); Cancel tells it to drop the partial model. Pause stops the child (what
  is committed stays; the next run resumes from the checkpoints).
- The child dies (killed, crashed, or an error such as an unwritable cache): the read models that
  were behind show as failed, `failed` carries a sentence, and `retry()` (the panel's Retry, or
  Resume) starts again from the checkpoints. Nothing blocks the window.
- Closing: `shutdown()` (on the application's aboutToQuit) asks the child to stop, waits
  STOP_GRACE_MS, then kills it; closing the store only asks it to stop (the window does not wait).
  If the app itself dies, the child reads the end of its stdin and stops: no orphans.
- The child runs at a lower CPU priority (`--background`: nice 10, or below-normal on Windows): on
  a busy machine the window gets the core first; on an idle one the build runs at full speed.
- The child gets the app's environment, so EXPLORER_*_DIR overrides reach it and it writes the same
  read database the app reads. Frozen (PyInstaller) it is `[sys.executable, "project", ...]`
  (entry.main dispatches sub-commands), else `[sys.executable, "-m", "explorer", "project", ...]`.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
import weakref
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QProcess, QProcessEnvironment, QThreadPool, Signal
from shiboken6 import isValid

import explorer
from explorer.projections import runner_for
from explorer.projections.runner import (
    CATCHING_UP,
    EMPTY,
    FAILED,
    LIVE,
    REBUILDING,
    Failure,
    ProjectionRunner,
    ProjectionStatus,
)
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.workers import Worker

log = logging.getLogger(__name__)

CHILD_LINGER_S = 15  # an idle child waits this long for more work (live appends) before it exits
STOP_GRACE_MS = 3000  # at close: time for the child to finish its batch before it is killed
HISTORY = 60  # events/s samples kept per read model (the panel's sparkline)


def child_command(store_path: str | Path, *args: str) -> list[str]:
    """The command line of a read-model child: the same program as this one, sub-command `project`."""
    if getattr(sys, "frozen", False):  # PyInstaller: the bundle's executable is the entry point
        return [sys.executable, "project", str(store_path), *args]
    return [sys.executable, "-m", "explorer", "project", str(store_path), *args]


def child_environment() -> QProcessEnvironment:
    """This process's environment (EXPLORER_*_DIR included), and `explorer` importable by the child."""
    env = QProcessEnvironment()
    for key, value in os.environ.items():
        env.insert(key, value)
    if not getattr(sys, "frozen", False):
        package_root = str(Path(explorer.__file__).resolve().parents[1])
        current = os.environ.get("PYTHONPATH")
        env.insert("PYTHONPATH", package_root + (os.pathsep + current if current else ""))
    return env


def status_from_json(data: dict[str, Any]) -> ProjectionStatus:
    """The inverse of ProjectionStatus.to_json (a line of the child's protocol)."""
    failure = data.get("failure")
    return ProjectionStatus(
        name=str(data["name"]), title=str(data["title"]), version=int(data["version"]), state=str(data["state"]),
        checkpoint=int(data["checkpoint"]), head=int(data["head"]), lag_events=int(data["lag_events"]),
        lag_seconds=float(data["lag_seconds"]), events_per_second=float(data.get("events_per_second") or 0.0),
        rebuild_checkpoint=data.get("rebuild_checkpoint"),
        failure=None if not failure else Failure(int(failure["position"]), str(failure["type"]),
                                                 str(failure["error"])),
        stale_version=bool(data.get("stale_version")),
    )


def needs_work(statuses: list[ProjectionStatus]) -> bool:
    """True when a catch-up would do something (a failed model waits for a rebuild instead)."""
    return any(s.state in (CATCHING_UP, REBUILDING, EMPTY) or (s.stale_version and s.state != FAILED)
               for s in statuses)


@dataclass(eq=False)
class _Child:
    """One child process and what it is doing.

    Attributes:
        action: the run in progress ("catch-up" / "rebuild"), None while it lingers idle.
        names: the read models a rebuild builds (None: all).
        stopping: the service asked it to stop (its exit is no failure).
        acknowledged: it said "started" for the run asked last (False between a command and its start).
    """

    process: QProcess
    store: SQLiteEventStore
    action: str | None
    names: list[str] | None
    pid: int = 0
    buffer: bytes = b""
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    stopping: bool = False
    acknowledged: bool = False
    runs: int = 0  # runs it finished


class ProjectionService(QObject):
    """Keeps the context's read models caught up through a child process.

    Attributes:
        context: the app context.
        statuses: the last statuses seen (one per read model).
        histories: read model name -> recent events/s samples.
        paused: True while the user paused catching up.
        rebuilding: names being rebuilt (requested or running; [] when none).
        crashed: the sentence shown after a child died mid-run, until retry() (None otherwise).
        child_peak_rss_mb: the largest peak resident memory a child reported (MB), or None.

    Signals:
        status_changed(object): list[ProjectionStatus], during and after every run.
        models_advanced(object): {name: checkpoint} after a run moved a read model (views re-query).
        rebuild_finished(object): the names rebuilt, or None when the rebuild was cancelled.
        failed(str): a run failed as a whole (the child died, or the cache is not writable).
        child_started(int): a child process started (its pid).
        child_exited(int): a child process ended (its pid), for whatever reason.
    """

    status_changed = Signal(object)
    models_advanced = Signal(object)
    rebuild_finished = Signal(object)
    failed = Signal(str)
    child_started = Signal(int)
    child_exited = Signal(int)

    def __init__(self, *, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent or context)
        self.context = context
        self.pool = QThreadPool(self)  # status reads, one at a time, on a connection of their own
        self.pool.setMaxThreadCount(1)
        self.pool.setExpiryTimeout(-1)
        self.statuses: list[ProjectionStatus] = []
        self.histories: dict[str, list[float]] = {}
        self.paused = False
        self.rebuilding: list[str] = []
        self.crashed: str | None = None
        self.child_peak_rss_mb: float | None = None
        self._child: _Child | None = None
        self._queued = False  # a catch-up is wanted once the current run ends
        self._pending: tuple[list[str] | None] | None = None  # a rebuild waiting for the child to stop
        self._rates: dict[str, float] = {}
        self._refreshing = False
        self._refresh_again: bool | None = None  # another refresh asked while one runs (its then_catch_up)
        self._reader: ProjectionRunner | None = None  # used on the pool thread only
        self._reader_of: str | None = None
        context.store_changed.connect(self._store_changed)
        context.head_changed.connect(lambda _head: self.catch_up())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        if context.store is not None:
            self.catch_up()

    # -- requests (GUI thread) ---------------------------------------------------------------

    @property
    def child_pid(self) -> int:
        """The running child's pid, 0 when none runs."""
        child = self._child
        return child.pid if child is not None and child.process.state() != QProcess.ProcessState.NotRunning else 0

    @property
    def busy(self) -> bool:
        """True while a child runs a catch-up or rebuild (not while it lingers idle)."""
        child = self._child
        return child is not None and (child.action is not None or child.stopping)

    def catch_up(self) -> None:
        """Bring every read model to the head, unless paused (one child at a time; one request queued)."""
        if self.context.store is None:
            return
        if self.paused or self.crashed:
            self.refresh()  # the lag still shows
            return
        child = self._child
        if child is not None:
            if child.action is None and not child.stopping:
                self._command(child, "catch-up")
                child.action, child.names = "catch-up", None
            else:
                self._queued = True
            return
        self.refresh(then_catch_up=True)

    def rebuild(self, names: list[str] | None = None) -> None:
        """Rebuild `names` (all when None) beside the live models; cancellable with cancel_rebuild."""
        if self.context.store is None:
            return
        self.crashed = None
        self.rebuilding = list(names) if names else [s.name for s in self.statuses] or ["all"]
        child = self._child
        if child is None:
            self._spawn("rebuild", names)
        elif child.action is None and not child.stopping:
            self._command(child, "rebuild " + (",".join(names) if names else "all"))
            child.action, child.names = "rebuild", names
        else:
            self._pending = (names,)
            if child.action == "catch-up":
                self._stop(child)  # a running catch-up yields; the rebuild feeds the live models too

    def cancel_rebuild(self) -> None:
        """Cancel the rebuild: the partial models are dropped, the live ones stay as they were."""
        if not self.rebuilding:
            return
        if self._pending is not None:  # not started yet
            self._pending = None
            self._rebuild_ended(None)
            return
        child = self._child
        if child is not None and child.action == "rebuild":
            self._command(child, "cancel")

    def set_paused(self, paused: bool) -> None:
        """Pause: stop the child (what it applied stays); resume: catch up at once."""
        self.paused = paused
        if paused:
            child = self._child
            if child is not None and not self.rebuilding and child.action != "rebuild":
                self._stop(child)
        else:
            self.crashed = None
            self.catch_up()
        self._publish(self.statuses)

    def retry(self) -> None:
        """After a failed run: start again from the checkpoints."""
        self.crashed = None
        self.catch_up()

    def refresh(self, *, then_catch_up: bool = False) -> None:
        """Re-read the statuses from the read database (in the background); then maybe start a child."""
        store = self.context.store
        if store is None:
            return
        if self._refreshing:
            self._refresh_again = bool(self._refresh_again) or then_catch_up
            return
        self._refreshing = True
        worker = Worker(lambda _cancelled, _progress: self._read_status(store), name="projections:status")
        worker.signals.returned.connect(lambda result: self._status_read(result, then_catch_up))
        worker.signals.errored.connect(self._status_failed)
        worker.signals.finished.connect(self._refresh_finished)
        self.pool.start(worker)

    def wait(self, msecs: int = 10000) -> bool:
        """Block (delivering events) until no run, refresh or request is outstanding; False on timeout."""
        deadline = time.monotonic() + msecs / 1000
        while not self._idle():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            child = self._child
            if child is not None and child.process.state() != QProcess.ProcessState.NotRunning:
                if child.stopping:
                    child.process.waitForFinished(int(min(left, 0.05) * 1000))
                else:
                    child.process.waitForReadyRead(int(min(left, 0.05) * 1000))
            else:
                self.pool.waitForDone(int(min(left, 0.02) * 1000))
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        return True

    def shutdown(self, grace_ms: int = STOP_GRACE_MS) -> None:
        """Stop the child (killed after `grace_ms`) and the status reads: the app is closing."""
        if not isValid(self):
            return
        self._queued, self._pending = False, None
        child = self._child
        if child is not None:
            self._stop(child, wait_ms=grace_ms)
        self.pool.waitForDone(grace_ms)

    # -- the child ----------------------------------------------------------------------------

    def _spawn(self, action: str, names: list[str] | None) -> None:
        store = self.context.store
        assert store is not None and self._child is None
        args = ["--progress-json", "--control-stdin", "--linger", str(CHILD_LINGER_S), "--background"]
        if action == "rebuild":
            args += ["--rebuild", ",".join(names) if names else "all"]
        argv = child_command(Path(store.path).resolve(), *args)
        process = QProcess(self)
        process.setProcessEnvironment(child_environment())
        process.setProgram(argv[0])
        process.setArguments(argv[1:])
        child = _Child(process, store, action, names)
        process.readyReadStandardOutput.connect(lambda: self._read_stdout(child))
        process.readyReadStandardError.connect(lambda: self._read_stderr(child))
        process.started.connect(lambda: self._started(child))
        process.finished.connect(lambda code, status: self._exited(child, code, status))
        process.errorOccurred.connect(lambda error: self._process_error(child, error))
        self._child = child
        log.info("read models: starting %s", " ".join(argv))
        process.start()

    def _started(self, child: _Child) -> None:
        child.pid = int(child.process.processId())
        self.child_started.emit(child.pid)

    def _command(self, child: _Child, text: str) -> None:
        if child.process.state() == QProcess.ProcessState.Running:
            if text.startswith(("catch-up", "rebuild")):
                child.acknowledged = False
            child.process.write((text + "\n").encode())

    def _stop(self, child: _Child, wait_ms: int | None = None) -> None:
        """Ask the child to stop after its batch; with wait_ms, kill it if it has not ended by then."""
        child.stopping = True
        process = child.process
        if process.state() == QProcess.ProcessState.NotRunning:
            return
        self._command(child, "stop")
        process.closeWriteChannel()  # the end of its stdin means stop, too
        if wait_ms is not None and not process.waitForFinished(wait_ms):
            log.warning("read models: the child %s did not stop in %s ms; killing it", child.pid, wait_ms)
            process.kill()
            process.waitForFinished(2000)

    def _read_stderr(self, child: _Child) -> None:
        if not isValid(child.process):  # the app is closing: the process object went first
            return
        text = bytes(child.process.readAllStandardError().data()).decode(errors="replace")
        for line in text.splitlines():
            if line.strip():
                child.stderr.append(line.rstrip())
                log.info("read models (child %s): %s", child.pid, line.rstrip())

    def _read_stdout(self, child: _Child, flush: bool = False) -> None:
        if not isValid(child.process) or not isValid(self):
            return
        child.buffer += bytes(child.process.readAllStandardOutput().data())
        *lines, child.buffer = child.buffer.split(b"\n")
        if flush and child.buffer.strip():
            lines.append(child.buffer)
            child.buffer = b""
        for line in lines:
            if not line.strip():
                continue
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                log.warning("read models: unexpected output from the child: %r", line[:200])
                continue
            if isinstance(message, dict):
                self._on_message(child, message)

    def _on_message(self, child: _Child, message: dict[str, Any]) -> None:
        event = message.get("event")
        if event == "rejected":
            log.warning("read models: the child refused a request: %s", message.get("message"))
            return
        current = child is self._child and child.store is self.context.store
        statuses = [status_from_json(s) for s in message.get("read_models") or []]
        rates = {str(k): float(v) for k, v in (message.get("rates") or {}).items()}
        if event in ("done", "cancelled", "stopped"):
            rates = {s.name: s.events_per_second for s in statuses if s.events_per_second}
            peak = message.get("peak_rss_mb")
            if isinstance(peak, int | float):
                self.child_peak_rss_mb = max(self.child_peak_rss_mb or 0.0, float(peak))
        if not current:
            return  # a child of a store that is closed now: its news is stale
        if event == "started":
            child.action, child.names = message.get("action"), message.get("names")
            child.acknowledged = True
        if rates:
            self._rates = rates
            for name, rate in rates.items():
                history = self.histories.setdefault(name, [])
                history.append(rate)
                del history[:-HISTORY]
        elif event == "done" and message.get("read") == 0:
            self._rates = {}  # nothing new: the rate of the last run is history now
        if statuses:
            self._publish_statuses(statuses)
            if event == "progress":  # the timeline's marks follow a long build
                self.context.set_checkpoints({s.name: s.checkpoint for s in statuses if s.state != EMPTY})
        if event not in ("done", "cancelled", "stopped"):
            return
        action = message.get("action")
        child.action = None
        child.runs += 1
        checkpoints = {str(k): int(v) for k, v in (message.get("checkpoints") or {}).items()}
        self.context.set_checkpoints(checkpoints)
        self.models_advanced.emit(checkpoints)
        if action == "rebuild":
            if event == "done":
                names = message.get("names")
                self._rebuild_ended(list(names) if names else [s.name for s in statuses])
            elif event == "cancelled" or self._pending is None:
                self._rebuild_ended(None)
        if event == "stopped" or child.stopping:
            return  # it exits now; _exited goes on
        self._next(child)

    def _next(self, child: _Child) -> None:
        """The lingering child takes the waiting request, if any."""
        if self._pending is not None:
            (names,) = self._pending
            self._pending = None
            self.rebuilding = list(names) if names else [s.name for s in self.statuses] or ["all"]
            self._command(child, "rebuild " + (",".join(names) if names else "all"))
            child.action, child.names = "rebuild", names
        elif self.paused:
            self._stop(child)  # paused: no child stays around
        elif self._queued and not self.crashed:
            self._queued = False
            self._command(child, "catch-up")
            child.action, child.names = "catch-up", None

    def _process_error(self, child: _Child, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # no `finished` follows
            child.stderr.append(f"could not start {child.process.program()}: {child.process.errorString()}")
            self._exited(child, -1, QProcess.ExitStatus.CrashExit)

    def _exited(self, child: _Child, code: int, status: QProcess.ExitStatus) -> None:
        if not isValid(self) or not isValid(child.process):
            return
        self._read_stdout(child, flush=True)
        self._read_stderr(child)
        if child is self._child:
            self._child = None
        child.process.deleteLater()
        self.child_exited.emit(child.pid)
        current = child.store is self.context.store
        was = child.action
        if current and was is not None and child.runs and not child.acknowledged and status == QProcess.ExitStatus.NormalExit \
                and code in (0, 1) and not child.stopping:
            # It left (its linger time was up) just as it was asked for more: ask a new child.
            if was == "rebuild":
                self._pending = (child.names,)
            else:
                self._queued = True
            was = None
        if current and was is not None:
            if child.stopping:  # stopped by us before it could say so (killed after the grace time)
                if was == "rebuild" and self._pending is None:
                    self._rebuild_ended(None)
            else:
                self._crashed(child, was, code, status)
            self.refresh()
        if self.context.store is None or self._child is not None:
            return
        if self._pending is not None:
            (names,) = self._pending
            self._pending = None
            self.rebuilding = list(names) if names else [s.name for s in self.statuses] or ["all"]
            self._spawn("rebuild", names)
        elif self._queued:
            self._queued = False
            self.catch_up()

    def _crashed(self, child: _Child, action: str, code: int, status: QProcess.ExitStatus) -> None:
        errors = [line[len("error: "):] for line in child.stderr if line.startswith("error: ")]
        what = "rebuilding" if action == "rebuild" else "catching up"
        if errors:
            message = f"The read models could not be updated: {errors[-1]}"
        elif status == QProcess.ExitStatus.CrashExit:
            detail = child.stderr[-1] if child.stderr else "it was killed or crashed"
            message = (f"The read-model process stopped unexpectedly while {what} ({detail}). "
                       "What it had applied is kept; press Retry to go on from there.")
        else:
            message = (f"The read-model process ended with code {code} while {what}. "
                       "What it had applied is kept; press Retry to go on from there.")
        log.warning("read models: %s", message)
        self.crashed = message
        self._queued = False
        self._pending = None
        self.rebuilding = []
        self.failed.emit(message)
        self._publish_statuses(self.statuses)

    def _rebuild_ended(self, names: list[str] | None) -> None:
        self.rebuilding = []
        self.rebuild_finished.emit(names)
        self._publish(self.statuses)

    # -- status reads (pool thread, then GUI thread) ---------------------------------------------

    def _read_status(self, store: SQLiteEventStore) -> tuple[SQLiteEventStore, list[ProjectionStatus],
                                                              dict[str, int]]:
        key = f"{id(store)}:{store.path}"
        if self._reader is None or self._reader_of != key:
            if self._reader is not None:
                self._reader.store.close()
                self._reader.readdb.close()
                self._reader = None
            clone = store.clone()
            self._reader = runner_for(clone, ReadDatabase.for_store(clone.store_id))
            self._reader_of = key
        return store, self._reader.status(), self._reader.checkpoints()

    def _status_read(self, result: tuple[SQLiteEventStore, list[ProjectionStatus], dict[str, int]],
                     then_catch_up: bool) -> None:
        if not isValid(self):
            return
        store, statuses, checkpoints = result
        if store is not self.context.store:
            return
        child = self._child
        if child is None or child.action is None:  # a running child's own reports are at least as new
            self._publish_statuses(statuses)
        if checkpoints != self.context.checkpoints:
            self.context.set_checkpoints(checkpoints)
            self.models_advanced.emit(checkpoints)
        if then_catch_up and not self.paused and not self.crashed and self._child is None and needs_work(statuses):
            self._spawn("catch-up", None)

    def _status_failed(self, exc: BaseException) -> None:
        if isValid(self):
            self.failed.emit(f"The read models are unavailable: {exc}")

    def _refresh_finished(self) -> None:
        if not isValid(self):
            return
        self._refreshing = False
        again, self._refresh_again = self._refresh_again, None
        if again is not None:
            self.refresh(then_catch_up=again)

    # -- plumbing -----------------------------------------------------------------------------

    def _idle(self) -> bool:
        child = self._child
        child_idle = child is None or (child.action is None and not child.stopping)
        return (child_idle and not self._refreshing and self._refresh_again is None
                and self._pending is None and not self._queued)

    def _store_changed(self, store: SQLiteEventStore | None) -> None:
        child = self._child
        if child is not None:
            self._stop(child)
        self._queued, self._pending = store is not None and child is not None, None
        self.statuses, self.histories, self._rates = [], {}, {}
        self.crashed = None
        self.rebuilding = []
        self.status_changed.emit([])
        if store is not None and child is None:
            self.catch_up()

    def _publish_statuses(self, statuses: list[ProjectionStatus]) -> None:
        out = []
        for s in statuses:
            if not s.events_per_second and self._rates.get(s.name):
                s = replace(s, events_per_second=self._rates[s.name])
            if self.crashed and s.state not in (LIVE, FAILED):
                s = replace(s, state=FAILED)
            out.append(s)
        self._publish(out)

    def _publish(self, statuses: list[ProjectionStatus]) -> None:
        self.statuses = statuses
        self.status_changed.emit(statuses)


_SERVICES: weakref.WeakKeyDictionary[AppContext, ProjectionService] = weakref.WeakKeyDictionary()


@atexit.register
def _shutdown_all() -> None:
    """At interpreter exit (a script, a test run: no aboutToQuit), end the children properly too."""
    for service in list(_SERVICES.values()):
        if isValid(service):
            service.shutdown()


def service_for(context: AppContext) -> ProjectionService:
    """The one ProjectionService of `context` (made on first use)."""
    service = _SERVICES.get(context)
    if service is None or not isValid(service):
        service = ProjectionService(context=context)
        _SERVICES[context] = service
    return service
