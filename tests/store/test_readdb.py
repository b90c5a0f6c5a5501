"""The read database opens reliably even when many connections set up a new file at once."""

from __future__ import annotations

import threading
from pathlib import Path

from explorer.store.readdb import ReadDatabase


def test_concurrent_first_opens_of_a_new_read_database(tmp_path: Path) -> None:
    for round_ in range(20):
        path = tmp_path / f"read-{round_}.sqlite"
        start = threading.Barrier(6)
        errors: list[BaseException] = []

        def open_it() -> None:
            start.wait()
            try:
                ReadDatabase(path).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        db = ReadDatabase(path)
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()
