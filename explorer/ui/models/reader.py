"""A store connection for one view's background reads, on its own single-thread pool.

Each lazy model reads pages often; opening a connection per page would cost more than the page.
The reader keeps one clone of the open store and runs every job on a one-thread pool, so the
connection is never used by two threads at once and never by the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer
from shiboken6 import isValid

from explorer.store.sqlite import SQLiteEventStore
from explorer.ui import workers

log = logging.getLogger(__name__)


class StoreReader(QObject):
    """A store connection used only by one single-thread pool (so it is never used concurrently).

    Attributes:
        pool: the pool every job of this reader runs on.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._source: SQLiteEventStore | None = None
        self._conn: SQLiteEventStore | None = None
        # Queued results reach lambdas only while the worker's signals object lives: keep it
        # (by key: a slot that captured the worker itself would make a cycle through Qt that
        # Python's collector cannot see, leaking every page's worker).
        self._live: dict[int, workers.Worker] = {}

    def set_store(self, store: SQLiteEventStore | None) -> None:
        old = self._conn
        self._source, self._conn = store, None
        if old is not None:
            self.run(lambda _store: old.close(), name="close reader")

    @property
    def has_store(self) -> bool:
        return self._source is not None

    def connection(self) -> SQLiteEventStore:
        """The reader's own connection (call only inside a job on `pool`)."""
        if self._conn is None:
            assert self._source is not None
            self._conn = self._source.clone()
        return self._conn

    def run(self, fn: Callable[..., Any], *, name: str,
            on_result: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None,
            with_progress: bool = False) -> workers.Worker:
        """Run fn(store) (or fn(store, cancelled, progress)) on the reader's thread."""
        source = self._source

        def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> Any:
            if source is None:
                return fn(None)
            if source is not self._source:  # the store changed while this job waited
                raise StaleJob
            store = self.connection()
            return fn(store, cancelled, progress) if with_progress else fn(store)

        worker = workers.Worker(job, name=name)
        key = id(worker)
        self._live[key] = worker
        worker.signals.finished.connect(partial(self._finished, key))
        if on_result is not None:
            worker.signals.returned.connect(self._while_alive(on_result))
        worker.signals.errored.connect(self._while_alive(on_error) if on_error else _log_error)
        self.pool.start(worker)
        return worker


    def _while_alive(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """`callback`, called only while this reader (and so the model that owns it) still exists:
        a page can arrive after its window closed, and a deleted model must not be touched."""

        def deliver(value: Any) -> None:
            if isValid(self):
                callback(value)

        return deliver

    def _finished(self, key: int) -> None:
        # Let go on the next loop turn: the worker's signals object is still delivering this call.
        QTimer.singleShot(0, partial(self._live.pop, key, None))

    @property
    def running(self) -> int:
        """Jobs queued or running (for tests and benchmarks)."""
        return len(self._live)


class StaleJob(Exception):
    """The job's store is no longer the open one."""


def _log_error(exc: BaseException) -> None:
    if not isinstance(exc, StaleJob):
        log.error("background read failed: %r", exc)
