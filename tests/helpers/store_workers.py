"""Functions run in child processes by the store tests (importable, few imports: fast to spawn)."""

from __future__ import annotations

from typing import Any

import apsw

from explorer.store import ConcurrencyError, NewEvent
from explorer.store.sqlite import SQLiteEventStore


def append_at_barrier(path: str, expected: int, barrier: Any, results: Any, name: str) -> None:
    """Open the store, wait for the other writer, then append with `expected`; report the outcome."""
    store = SQLiteEventStore.open(path, busy_timeout_ms=10_000)
    try:
        barrier.wait(timeout=30)
        try:
            result = store.append("device-1", "Device", [NewEvent("Happened", {"by": name})], expected)
            results.put((name, "ok", result.version))
        except ConcurrencyError as exc:
            results.put((name, "conflict", (exc.stream_id, exc.expected, exc.actual)))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
            results.put((name, "error", repr(exc)))
    finally:
        store.close()


def hold_write_lock(path: str, locked: Any, release: Any) -> None:
    """Take the store's write lock (BEGIN IMMEDIATE) and keep it until told to let go."""
    db = apsw.Connection(path)
    db.execute("BEGIN IMMEDIATE")
    locked.set()
    release.wait(timeout=60)
    db.execute("ROLLBACK")
    db.close()


def hold_whole_file(path: str, locked: Any, release: Any) -> None:
    """Hold the store's file exclusively (locking_mode EXCLUSIVE, as a VACUUM would) until told to let go."""
    db = apsw.Connection(path)
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("BEGIN IMMEDIATE")
    db.execute("SELECT count(*) FROM events").fetchall()
    locked.set()
    release.wait(timeout=60)
    db.execute("ROLLBACK")
    db.close()
