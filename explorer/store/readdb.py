"""The read database: derived, disposable data (snapshots, read models) beside - never in - a store.

It lives in the user cache directory keyed by the store's id, so a read-only store can still be
explored; deleting it loses nothing but time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import apsw

from explorer import paths

SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id TEXT NOT NULL,
    decider TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (stream_id, decider, version)
) WITHOUT ROWID
"""


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
        self.db = apsw.Connection(str(path))
        self.db.setbusytimeout(5000)
        self._settle(lambda: self.db.execute("PRAGMA journal_mode = WAL").fetchall())
        self.db.execute("PRAGMA synchronous = NORMAL")
        self._settle(lambda: self.db.execute(SNAPSHOT_SCHEMA))

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

    def clone(self) -> ReadDatabase:
        return ReadDatabase(self.path)

    def close(self) -> None:
        self.db.close()
