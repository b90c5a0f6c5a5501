"""The app's projection runner: keeps the read models caught up in the background.

One service per AppContext (`service_for(context)`). It catches up on a private one-thread pool
whenever a store opens or the head moves (other writers append), rebuilds on request (build beside,
then swap: views keep reading the old model meanwhile), can be paused, and publishes checkpoints to
the context so the timeline marks them. Views listen to `models_advanced` to re-query.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid

from explorer.projections import runner_for
from explorer.projections.runner import ProjectionRunner, ProjectionStatus, RebuildCancelled
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.workers import WorkerSignals

log = logging.getLogger(__name__)

STATUS_EVERY_S = 0.2  # status updates while a run goes on (a panel needs no more)
Job = Callable[[Callable[[], bool], Callable[[int, int], None]], Any]


class ServiceJob(QRunnable):
    """One run of the service on its pool: a Worker's contract (WorkerSignals, cancel flag).

    Not a `workers.Worker`: those register in the module's live set until `finished` is delivered,
    and the service's catch-ups are long-lived background work that keeps its own references.

    Attributes:
        signals: started / progressed / returned / errored / finished.
    """

    def __init__(self, job: Job, *, name: str) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.signals = WorkerSignals()
        self.name = name
        self._job = job
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        signals = self.signals
        signals.started.emit()
        try:
            result = self._job(self._cancel.is_set, signals.progressed.emit)
        except BaseException as exc:  # noqa: BLE001 - reported to the service, never crashes the app
            if not isinstance(exc, RebuildCancelled):
                log.exception("read models: %s failed", self.name)
            signals.errored.emit(exc)
        else:
            signals.returned.emit(result)
        finally:
            signals.finished.emit()


class ProjectionService(QObject):
    """Runs the read models of the context's store on one background thread.

    Attributes:
        context: the app context.
        statuses: the last statuses seen (one per read model).
        histories: read model name -> recent events/s samples.
        paused: True while the user paused catching up.
        rebuilding: names being rebuilt by the current job ([] when none).

    Signals:
        status_changed(object): list[ProjectionStatus], during and after every run.
        models_advanced(object): {name: checkpoint} after a run moved a read model (views re-query).
        rebuild_finished(object): the names rebuilt, or None when the rebuild was cancelled.
        failed(str): a run failed as a whole (e.g. the cache is not writable).
    """

    status_changed = Signal(object)
    models_advanced = Signal(object)
    rebuild_finished = Signal(object)
    failed = Signal(str)
    _status_ready = Signal(object)  # from the pool thread: (statuses, histories, checkpoints or None)

    def __init__(self, *, context: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent or context)
        self.context = context
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.pool.setExpiryTimeout(-1)
        self.statuses: list[ProjectionStatus] = []
        self.histories: dict[str, list[float]] = {}
        self.paused = False
        self.rebuilding: list[str] = []
        self._cancel = threading.Event()
        self._runner: ProjectionRunner | None = None  # used on the pool thread only
        self._runner_of: str | None = None
        self._queued = False
        self._busy = False
        self._workers: set[ServiceJob] = set()
        self._pending_job: tuple[Any, str] | None = None
        self._store_for_jobs: SQLiteEventStore | None = None
        self._status_ready.connect(self._on_status)
        context.store_changed.connect(self._store_changed)
        context.head_changed.connect(lambda _head: self.catch_up())
        if context.store is not None:
            self.catch_up()

    # -- requests (GUI thread) ---------------------------------------------------------------

    def catch_up(self) -> None:
        """Bring every read model to the head, unless paused (one run at a time; one queued)."""
        if self.paused or self.context.store is None:
            return
        if self._busy:
            self._queued = True
            return
        self._start(self._catch_up_job, "catch up")

    def rebuild(self, names: list[str] | None = None) -> None:
        """Rebuild `names` (all when None) beside the live models; cancellable with cancel_rebuild."""
        if self.context.store is None:
            return
        self.rebuilding = list(names) if names else [s.name for s in self.statuses] or ["all"]
        self._cancel.set()  # a running catch-up yields; the rebuild job feeds the live models too

        def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> Any:
            return self._rebuild_job(names, cancelled, progress)

        self._start(job, "rebuild", after_cancel=True)

    def cancel_rebuild(self) -> None:
        if self.rebuilding:
            self._cancel.set()

    def set_paused(self, paused: bool) -> None:
        """Pause: stop catching up (the running batch finishes); resume: catch up at once."""
        self.paused = paused
        if paused:
            if not self.rebuilding:
                self._cancel.set()
        else:
            self.catch_up()
        self._publish(self.statuses)

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)

    # -- plumbing ----------------------------------------------------------------------------

    def _store_changed(self, store: SQLiteEventStore | None) -> None:
        self._cancel.set()
        self.statuses, self.histories = [], {}
        self.status_changed.emit([])
        if store is not None:
            if self._busy:
                self._queued = True
            else:
                self.catch_up()

    def _start(self, job: Job, name: str,
               after_cancel: bool = False) -> None:
        store = self.context.store
        assert store is not None
        if self._busy and after_cancel:
            # Run once the current job has yielded to the cancel flag.
            self._pending_job = (job, name)
            return
        self._busy = True
        self._cancel.clear()
        worker = ServiceJob(lambda cancelled, progress: job(lambda: cancelled() or self._cancel.is_set(), progress),
                            name=f"projections:{name}")
        self._workers.add(worker)
        worker.signals.returned.connect(self._returned)
        worker.signals.errored.connect(self._errored)
        worker.signals.finished.connect(lambda: self._finished(worker))
        self._store_for_jobs = store
        self.pool.start(worker)

    def _finished(self, worker: ServiceJob) -> None:
        self._workers.discard(worker)
        if not isValid(self):
            return
        self._busy = False
        pending = self._pending_job
        if pending is not None:
            self._pending_job = None
            self._start(*pending)
        elif self._queued:
            self._queued = False
            self.catch_up()

    def _returned(self, result: Any) -> None:
        if isinstance(result, tuple) and result and result[0] == "rebuilt":
            names = result[1]
            self.rebuilding = []
            self.rebuild_finished.emit(names)
            self._publish(self.statuses)

    def _errored(self, exc: BaseException) -> None:
        if isinstance(exc, RebuildCancelled):
            self.rebuilding = []
            self.rebuild_finished.emit(None)
            self._publish(self.statuses)
            return
        self.rebuilding = []
        log.warning("read models: %s", exc)
        self.failed.emit(f"The read models could not be updated: {exc}")

    # -- jobs (pool thread) ------------------------------------------------------------------

    def _runner_for_job(self) -> ProjectionRunner:
        store = self._store_for_jobs
        assert store is not None
        key = f"{id(store)}:{store.path}"
        if self._runner is None or self._runner_of != key:
            if self._runner is not None:
                self._runner.store.close()
                self._runner.readdb.close()
            clone = store.clone()
            self._runner = runner_for(clone, ReadDatabase.for_store(clone.store_id))
            self._runner_of = key
        return self._runner

    def _reporter(self, runner: ProjectionRunner) -> Callable[[int, int], None]:
        last = [0.0]

        def report(_done: int, _total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= STATUS_EVERY_S:
                last[0] = now
                self._emit_status(runner)

        return report

    def _emit_status(self, runner: ProjectionRunner, advanced: bool = False) -> None:
        statuses = runner.status()
        histories = {name: list(h) for name, h in runner.rate_history.items()}
        if isValid(self):
            self._status_ready.emit((statuses, histories, runner.checkpoints() if advanced else None))

    def _catch_up_job(self, cancelled: Callable[[], bool], _progress: Callable[[int, int], None]) -> Any:
        runner = self._runner_for_job()
        read = runner.catch_up(cancelled=cancelled, progress=self._reporter(runner))
        if read == 0:  # nothing new: the rate of the last run is history now
            runner.rates.clear()
        self._emit_status(runner, advanced=True)
        return ("caught-up", read)

    def _rebuild_job(self, names: list[str] | None, cancelled: Callable[[], bool],
                     _progress: Callable[[int, int], None]) -> Any:
        runner = self._runner_for_job()
        try:
            runner.rebuild(names, cancelled=cancelled, progress=self._reporter(runner))
        finally:
            self._emit_status(runner, advanced=True)
        return ("rebuilt", names or list(runner.projections))

    # -- results (GUI thread) ----------------------------------------------------------------

    def _publish(self, statuses: list[ProjectionStatus]) -> None:
        self.statuses = statuses
        self.status_changed.emit(statuses)

    def _on_status(self, payload: tuple[list[ProjectionStatus], dict[str, list[float]], dict[str, int] | None]) -> None:
        statuses, histories, checkpoints = payload
        self.histories = histories
        self._publish(statuses)
        if checkpoints is not None:
            self.context.set_checkpoints(checkpoints)
            self.models_advanced.emit(checkpoints)


_SERVICES: weakref.WeakKeyDictionary[AppContext, ProjectionService] = weakref.WeakKeyDictionary()


def service_for(context: AppContext) -> ProjectionService:
    """The one ProjectionService of `context` (made on first use)."""
    service = _SERVICES.get(context)
    if service is None or not isValid(service):
        service = ProjectionService(context=context)
        _SERVICES[context] = service
    return service
