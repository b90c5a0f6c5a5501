"""Latest-wins background reads for cursor-driven views (timeline, state tree).

A view that follows the as-of cursor gets many requests per second while the user drags. A
`StoreReader` runs them on a private one-thread pool with cached connections (a store clone, its
read database and a TimeTravel) and keeps only the newest request of each kind: older ones still
in the queue are skipped when their turn comes, and a result that is no longer the newest is
dropped, so a view never shows a stale answer and the queue never grows with the drag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThreadPool
from shiboken6 import isValid

from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel
from explorer.ui.workers import Worker

log = logging.getLogger(__name__)

_SKIPPED = object()
SNAPSHOT_EVERY = 100
"""Snapshot interval of the views' TimeTravel (the snapshot cache is shared; any interval is valid)."""


@dataclass(slots=True)
class Connections:
    """What a background read job gets: its own connections, never the GUI thread's.

    Attributes:
        store: a clone of the open store.
        readdb: the store's read database (snapshots), or None if it cannot be opened.
        timetravel: a TimeTravel over those two.
    """

    store: SQLiteEventStore
    readdb: ReadDatabase | None
    timetravel: TimeTravel

    def close(self) -> None:
        for db in (self.store, self.readdb):
            try:
                if db is not None:
                    db.close()
            except Exception:  # noqa: BLE001 - closing a stale connection must not fail a job
                log.debug("closing a cached connection failed", exc_info=True)


ReadJob = Callable[[Connections, Callable[[], bool]], Any]


class StoreReader(QObject):
    """Runs read jobs for one view, newest request per key wins.

    Jobs run one at a time on a private pool, so the cached connections are never used by two
    threads at once. Per key, one job is in flight and at most one (the newest) waits for it, so
    a drag costs one thread hand-over per computed answer, not one per mouse move. A job is `fn(connections, cancelled) -> result`; its result reaches
    `on_result` on the GUI thread only if no newer request with the same key was made since.

    Attributes:
        pool: the private one-thread pool.
    """

    def __init__(self, *, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.pool.setExpiryTimeout(-1)  # keep the thread, so its cached connections stay warm
        self._generation: dict[str, int] = {}
        self._workers: dict[object, Worker] = {}
        self._busy: set[str] = set()
        self._waiting: dict[str, Callable[[], None]] = {}
        self._connections: Connections | None = None
        self._connections_of: tuple[int, str] | None = None

    def submit(
        self,
        store: SQLiteEventStore,
        key: str,
        job: ReadJob,
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Queue `job` for `store`; it supersedes any earlier request with the same key."""
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation

        def run(cancelled: Callable[[], bool], _progress: Callable[[int, int], None]) -> Any:
            if self._generation.get(key) != generation or cancelled():
                return _SKIPPED  # a newer request is queued behind this one: skip the work
            return job(self._connections_for(store), lambda: cancelled() or self._generation.get(key) != generation)

        # Results are queued to the GUI thread; the view may be gone by the time they arrive.
        def returned(result: Any) -> None:
            if result is not _SKIPPED and isValid(self) and self._generation.get(key) == generation:
                on_result(result)

        def errored(exc: BaseException) -> None:
            if isValid(self) and self._generation.get(key) == generation:
                if on_error is not None:
                    on_error(exc)
                else:
                    log.warning("%s: background read %s failed: %s", self.name, key, exc)

        worker = Worker(run, name=f"{self.name}:{key}")
        worker.signals.returned.connect(returned)
        worker.signals.errored.connect(errored)
        # Keep the Python wrapper (and so its signals object) alive until the job is done. The
        # slot holds a token, not the worker: a worker captured by its own signal's slot is a
        # cycle through C++ that Python's collector cannot see, and would never be freed.
        token = object()

        def finished() -> None:
            self._workers.pop(token, None)
            if isValid(self):
                self._busy.discard(key)
                waiting = self._waiting.pop(key, None)
                if waiting is not None:
                    waiting()

        def start() -> None:
            self._busy.add(key)
            self._workers[token] = worker
            self.pool.start(worker)

        worker.signals.finished.connect(finished)
        if key in self._busy:
            # One job per key in flight; of the requests made meanwhile only the newest waits.
            self._waiting[key] = start
        else:
            start()

    def forget(self, key: str) -> None:
        """Drop whatever is queued or running under `key` (its result will not be delivered)."""
        self._generation[key] = self._generation.get(key, 0) + 1
        self._waiting.pop(key, None)

    def is_current(self, key: str, generation: int) -> bool:
        return self._generation.get(key) == generation

    def wait(self, msecs: int = 5000) -> bool:
        """Block until queued jobs are done (tests and shutdown)."""
        return self.pool.waitForDone(msecs)

    # Runs on the pool's thread only.
    def _connections_for(self, store: SQLiteEventStore) -> Connections:
        wanted = (id(store), str(store.path))
        if self._connections is None or self._connections_of != wanted:
            if self._connections is not None:
                self._connections.close()
                self._connections = None
            clone = store.clone()
            try:
                readdb: ReadDatabase | None = ReadDatabase.for_store(clone.store_id)
            except Exception as exc:  # noqa: BLE001 - without a cache, state still folds from the start
                log.warning("no read database for snapshots: %s", exc)
                readdb = None
            # Denser snapshots than the default: a cursor update folds at most ~100 events.
            self._connections = Connections(clone, readdb, TimeTravel(clone, readdb, snapshot_every=SNAPSHOT_EVERY))
            self._connections_of = wanted
        return self._connections
