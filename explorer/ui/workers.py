"""Background work: a QRunnable whose signals live on a QObject; cancellable cooperatively.

A job is a plain function `fn(cancelled: Callable[[], bool], progress: Callable[[int, int], None])`
that gets what it needs (a store clone, never a widget) and calls no UI code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

# The signals of every running worker, until its `finished` is delivered on the GUI thread.
# Without this, a caller that drops its Worker lets Python collect the signals QObject while
# its queued `returned` is still in flight, and the result is silently lost.
_LIVE: dict[int, WorkerSignals] = {}

PROGRESS_INTERVAL_S = 0.1
"""A job's progress reaches the GUI thread at most this often (its end always does). Each delivery
runs Python on the GUI thread, which first waits for the GIL: while a worker runs Python, that wait
is up to the switch interval (5 ms). A job reporting faster than the GUI thread can take them
queues deliveries up, and every timer and paint waits behind the queue (a 45,000-event PDF report
sent up to 60 a second; throttled, its longest GUI stall went from 330-800 ms to 190 ms)."""

Job = Callable[[Callable[[], bool], Callable[[int, int], None]], Any]


class WorkerSignals(QObject):
    """Signals of one Worker.

    Signals:
        started: the job began on a pool thread.
        progressed(int, int): done, total.
        returned(object): the job's result.
        errored(object): the exception the job raised (BaseException).
        finished: after returned or errored (also after a cancel).
    """

    started = Signal()
    progressed = Signal(int, int)
    returned = Signal(object)
    errored = Signal(object)
    finished = Signal()


class Worker(QRunnable):
    """Runs one job on a QThreadPool thread.

    Attributes:
        signals: the WorkerSignals to connect to (deliver on the GUI thread, queued).
        name: for logs.
        expected: errors the caller shows the user as an outcome (a store that cannot be opened):
            logged as one warning line; any other error is logged with its traceback.
    """

    def __init__(self, job: Job, *, name: str = "job", expected: tuple[type[BaseException], ...] = ()) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.signals = WorkerSignals()
        self.name = name
        self.expected = expected
        self._job = job
        self._cancel = threading.Event()
        self._progressed_at = float("-inf")  # when progress was last passed on (monotonic)
        key = id(self.signals)
        _LIVE[key] = self.signals
        self.signals.finished.connect(lambda: _LIVE.pop(key, None))

    def cancel(self) -> None:
        """Ask the job to stop at its next check; `returned` is then not emitted."""
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            self._run()
        except RuntimeError as exc:
            if not _signals_gone(exc):
                raise
            # The signals object was deleted while the job ran (the app is closing): nobody waits
            # for the result any more. Not an error to show, and no exception may leave run().
            log.info("worker %s ended: its signals were deleted (the app is closing)", self.name)

    def _progress(self, done: int, total: int) -> None:
        """Pass progress on to the GUI thread, at most every PROGRESS_INTERVAL_S (the end always)."""
        now = time.monotonic()
        if done < total and now - self._progressed_at < PROGRESS_INTERVAL_S:
            return
        self._progressed_at = now
        self.signals.progressed.emit(done, total)

    def _run(self) -> None:
        signals = self.signals
        signals.started.emit()
        try:
            result = self._job(self._cancel.is_set, self._progress)
        except BaseException as exc:  # noqa: BLE001 - a worker reports, never crashes the app
            if _signals_gone(exc):
                raise
            if self._cancel.is_set():  # the job stopped as asked: not a failure
                log.info("worker %s stopped on cancel (%s)", self.name, type(exc).__name__)
            elif isinstance(exc, self.expected):
                log.warning("%s failed: %s", self.name, exc)
                signals.errored.emit(exc)
            else:
                log.exception("worker %s failed", self.name)
                signals.errored.emit(exc)
        else:
            if not self._cancel.is_set():
                signals.returned.emit(result)
        finally:
            signals.finished.emit()


def _signals_gone(exc: BaseException) -> bool:
    """PySide's error for an emit on a deleted QObject."""
    return isinstance(exc, RuntimeError) and "Signal source has been deleted" in str(exc)


def start(job: Job, *, name: str = "job", pool: QThreadPool | None = None,
          on_result: Callable[[Any], None] | None = None,
          on_error: Callable[[BaseException], None] | None = None,
          expected: tuple[type[BaseException], ...] = ()) -> Worker:
    """Make a Worker, connect the callbacks, start it on `pool` (the global pool by default)."""
    worker = Worker(job, name=name, expected=expected)
    if on_result is not None:
        worker.signals.returned.connect(on_result)
    if on_error is not None:
        worker.signals.errored.connect(on_error)
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker
