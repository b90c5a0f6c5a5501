"""The read database: derived, disposable data (snapshots, read models) beside - never in - a store.

It lives in the user cache directory keyed by the store's id, so a read-only store can still be
explored; deleting it loses nothing but time (and the bookmarks kept in it).

One history per read database. A copy of a store file keeps the store's id, so the original and
the copy share one read database, and once either gets an event the other lacks they are two
histories. The read database therefore remembers the store's chain hash at the highest position
its read models were built from (`read_history`), and whoever opens it for a store (the projection
runner, `TimeTravel`) calls `bind(store)` first: when the store's chain hash at that position is
not the remembered one (or the store does not reach it), every derived table is dropped and the
read models are built again from nothing. Bookmarks are the user's, not derived: they stay.
Snapshots are checked one by one as well (each keeps the position and chain hash of its event), so
a snapshot of another history is never used, even when two diverged copies are open at once.

Why not one read database per copy: a copy is byte-identical to its original, so nothing inside
the file tells them apart, and keying the file by its path or inode would throw the read models
(and bookmarks) away whenever a store is moved or restored. The price of one per id: two diverged
copies opened alternately rebuild each other's read models on every switch (correct, only slow
for big stores). Copies that never diverged (a backup, a moved file) share everything, rightly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from explorer import paths
from explorer.store.chain import GENESIS

log = logging.getLogger(__name__)

SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id TEXT NOT NULL,
    decider TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    position INTEGER NOT NULL,
    chain_hash TEXT NOT NULL,
    PRIMARY KEY (stream_id, decider, version)
) WITHOUT ROWID
"""
# The highest position the read models were built from and the store's chain hash there.
HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS read_history (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    chain_hash TEXT NOT NULL
)
"""
# What a change of history keeps: the user's bookmarks, and the tables of this module (snapshots
# are emptied).
KEPT_TABLES = frozenset({"bookmarks", "read_history", "snapshots"})


class ReadDatabase:
    """One SQLite file of derived data for one store.

    Attributes:
        path: the file.
        db: the apsw connection (one per thread: use `clone()`).
    """

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open(path)
        except (apsw.NotADBError, apsw.CorruptError):
            # Derived data: a damaged file is set aside (never deleted) and built again.
            set_aside_if_damaged(path)
            self.db = self._open(path)

    def _open(self, path: Path) -> apsw.Connection:
        db = apsw.Connection(str(path))
        try:
            db.setbusytimeout(5000)
            self._settle(lambda: db.execute("PRAGMA journal_mode = WAL").fetchall())
            db.execute("PRAGMA synchronous = NORMAL")
            self.db = db
            self._settle(self._ensure_schema)
        except BaseException:
            db.close()
            raise
        return db

    def _ensure_schema(self) -> None:
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(snapshots)")}
        if columns and "chain_hash" not in columns:  # made before snapshots kept their chain hash
            with write_transaction(self.db):
                columns = {r[1] for r in self.db.execute("PRAGMA table_info(snapshots)")}
                if columns and "chain_hash" not in columns:
                    self.db.execute("DROP TABLE snapshots")
        self.db.execute(SNAPSHOT_SCHEMA)
        self.db.execute(HISTORY_SCHEMA)

    @staticmethod
    def _settle(step: Callable[[], object], attempts: int = 100) -> None:
        """Run a set-up step, retrying while another connection sets the same new file up.

        SQLite answers SQLITE_BUSY at once, without the busy handler, when two connections race
        to switch a new file to WAL (the views of a freshly opened store all open it together).
        """
        for attempt in range(attempts):
            try:
                step()
                return
            except apsw.BusyError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.02)

    @classmethod
    def for_store(cls, store_id: str) -> ReadDatabase:
        return cls(paths.read_db_path(store_id))

    # -- the history it belongs to ------------------------------------------------------------

    def history(self) -> tuple[int, str] | None:
        """(position, chain hash) the read models were built up to, or None when not recorded."""
        row = self.db.execute("SELECT position, chain_hash FROM read_history WHERE id = 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def belongs_to(self, store: Any) -> bool:
        """Whether the read models were built from `store`'s history (one indexed lookup); a store
        without chain hashes cannot be told apart and is taken as it is."""
        hash_at = getattr(store, "chain_hash_at", None)
        if not callable(hash_at):
            return True
        recorded = self.history()
        return recorded is not None and hash_at(recorded[0]) == recorded[1]

    def bind(self, store: Any) -> bool:
        """Make this read database one of `store`'s history; True when it had to be emptied.

        If the store's chain hash at the recorded position differs, or the store has no such
        position, or nothing was recorded (a read database made before this check), the read
        models came from another history (a diverged copy of the store): every derived table is
        dropped and the snapshots deleted, in one transaction; bookmarks stay.
        """
        if self.belongs_to(store):
            return False
        with write_transaction(self.db):  # checked again under the write lock: one connection resets
            recorded = self.history()
            if recorded is not None and store.chain_hash_at(recorded[0]) == recorded[1]:
                return False
            derived = self._derived_tables()
            if recorded is not None or derived:
                # A diverged copy is worth a warning; a read database an older version made is
                # rebuilt once after an upgrade, as expected (INFO: no extra line on a CLI's stderr).
                level, why = ((logging.WARNING, "was built from another history of store %s (a copy that diverged?)")
                              if recorded is not None else
                              (logging.INFO, "does not say which history of store %s it was built from"
                                             " (an older version made it)"))
                log.log(level, "the read database %s " + why + ": its read models and snapshots are dropped"
                        " and built again from nothing; its bookmarks are kept",
                        self.path, getattr(store, "store_id", "?"))
            self._drop_derived()
            self.db.execute("DELETE FROM snapshots")
            self.db.execute("INSERT OR REPLACE INTO read_history (id, position, chain_hash) VALUES (1, 0, ?)",
                            (GENESIS,))
        return bool(recorded is not None or derived)

    def advance_history(self, position: int, chain_hash: str | None) -> None:
        """Record that read models were built up to `position` (whose chain hash is `chain_hash`);
        a lower position than the recorded one changes nothing. Call it in the transaction that
        writes what was built."""
        if chain_hash is None:
            return
        self.db.execute(
            "INSERT INTO read_history (id, position, chain_hash) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET position = excluded.position, chain_hash = excluded.chain_hash"
            " WHERE excluded.position > read_history.position",
            (position, chain_hash))

    def _derived_tables(self) -> list[str]:
        return [name for (name,) in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
            if name not in KEPT_TABLES]

    def _drop_derived(self) -> None:
        # Virtual tables (FTS5, R*Tree) first: they take their shadow tables with them.
        for (name,) in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall():
            if name not in KEPT_TABLES:
                self.db.execute(f'DROP TABLE IF EXISTS "{name}"')
        for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
            self.db.execute(f'DROP VIEW IF EXISTS "{name}"')
        for name in self._derived_tables():
            self.db.execute(f'DROP TABLE IF EXISTS "{name}"')

    def clone(self) -> ReadDatabase:
        return ReadDatabase(self.path)

    def close(self) -> None:
        self.db.close()


# -- a damaged read database ------------------------------------------------------------------

_REPAIR_LOCK = threading.Lock()  # the views of one store open its read database together
TELL_THE_USER = "tell_the_user"
"""A log record with this attribute set is news for the user (the app shows it), not only for the log."""


def damage_in(path: Path) -> str | None:
    """What SQLite's `quick_check` finds wrong with the database at `path` (one line), or None when
    it is sound or cannot tell (missing, busy, locked). It reads the whole file: only for error paths."""
    if not path.exists():
        return None
    try:
        probe = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            rows = [str(r[0]) for r in probe.execute("PRAGMA quick_check(1)")]
        finally:
            probe.close()
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        return str(exc)
    except apsw.Error:  # busy, locked, cannot open: not a finding
        return None
    return None if rows == ["ok"] else " ".join(" ".join(rows).split())[:200]


def set_aside_if_damaged(path: Path) -> Path | None:
    """After SQLite said "malformed" somewhere: when the read database at `path` is the damaged
    file, move it aside (`_set_aside`) and return where it went; None when it is sound (the damage
    is elsewhere: the store). Another connection may have set it aside already: then it is sound."""
    with _REPAIR_LOCK:
        problem = damage_in(path)
        return None if problem is None else _set_aside(path, problem)


def _set_aside(path: Path, problem: str) -> Path:
    """Move a damaged read database (and its -wal/-shm) aside, never deleting it: it may hold the
    user's bookmarks, which SQLite's `.recover` can still get back. A new one is made in its place."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    count = 1
    while aside.exists():  # twice in one second: never replace an earlier damaged file
        count += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{count}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    log.warning("the read database %s was damaged (%s). It was moved to %s, where the bookmarks in it can be"
                " recovered with sqlite3's .recover; the read models are built again from the store, which is"
                " not affected", path, problem.split(": ", 1)[-1], aside, extra={TELL_THE_USER: True})
    return aside


@contextmanager
def write_transaction(db: apsw.Connection) -> Iterator[None]:
    """One write transaction: `BEGIN IMMEDIATE` ... COMMIT, ROLLBACK on any exception.

    IMMEDIATE takes the write lock at the start, waiting on the busy handler (the busy timeout); a
    deferred transaction that reads before it writes would instead fail with SQLITE_BUSY at once on
    the lock upgrade. Inside an open transaction it is a savepoint (`with db`).
    """
    if db.in_transaction:
        with db:
            yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


