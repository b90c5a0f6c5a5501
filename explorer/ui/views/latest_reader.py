"""Latest-wins background reads for cursor-driven views (timeline, state tree).

A view that follows the as-of cursor gets many requests per second while the user drags. A
`LatestReader` runs them (explorer.ui.workers.Worker jobs) on a thread of its own with cached
connections (a store clone, its read database and a TimeTravel) and keeps only the newest request
of each kind: older ones still in the queue are skipped when their turn comes, and a result that
is no longer the newest is dropped, so a view never shows a stale answer and the queue never
grows with the drag.

Why a plain Python thread fed by a queue rather than QThreadPool.start: `start` releases the GIL
and wakes the pool thread, which grabs the GIL to run Python; the GUI thread then sometimes waits
for it to come back (seen here: a median of 0.01 ms but stalls up to ~19 ms per start while the
job runs Python). `queue.put` keeps the GIL and never blocks (max 0.015 ms in the same test), so
the GUI thread goes on with its frame while the cursor is dragged.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject
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


class LatestReader(QObject):
    """Runs read jobs for one view, newest request per key wins.

    Jobs run one at a time on the reader's thread, so the cached connections are never used by two
    threads at once. Per key, one job is in flight and at most one (the newest) waits for it, so
    a drag costs one thread hand-over per computed answer, not one per mouse move. A job is `fn(connections, cancelled) -> result`; its result reaches
    `on_result` on the GUI thread only if no newer request with the same key was made since.

    Attributes:
        name: for logs and the thread's name.
    """

    def __init__(self, *, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._jobs: queue.SimpleQueue[Worker | None] = queue.SimpleQueue()
        self._queued = 0  # jobs put and not yet finished; guarded by _done
        self._done = threading.Condition()
        # The thread keeps its connections warm between jobs and ends when this object is
        # destroyed (the slot holds the queue, not self, so it does not keep self alive).
        self._thread = threading.Thread(target=self._serve, name=f"reader-{name}", daemon=True)
        self._thread.start()
        jobs = self._jobs
        self.destroyed.connect(lambda *_: jobs.put(None))
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

        def start() -> None:
            # The Worker is made only when the job is queued: a request superseded while it
            # waited never makes one, so none is left registered in workers._LIVE unfinished.
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

            worker.signals.finished.connect(finished)
            self._busy.add(key)
            self._workers[token] = worker
            with self._done:
                self._queued += 1
            self._jobs.put(worker)

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
        """Block until queued jobs are done (tests and shutdown); False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self._queued == 0, timeout=msecs / 1000)

    def close(self) -> None:
        """Stop the thread after the queued jobs (also done when this object is destroyed)."""
        self._jobs.put(None)

    # Runs on the reader's thread only.
    def _serve(self) -> None:
        while (worker := self._jobs.get()) is not None:
            try:
                worker.run()  # emits returned/errored/finished, queued to the GUI thread
            finally:
                with self._done:
                    self._queued -= 1
                    self._done.notify_all()
        if self._connections is not None:
            self._connections.close()
            self._connections = None

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
