"""The read database opens reliably even when many connections set up a new file at once, and a
damaged one is set aside whole and made again."""

from __future__ import annotations

import threading
from pathlib import Path

from explorer.store.readdb import ReadDatabase


def open_together(path: Path, connections: int = 6) -> list[BaseException]:
    """Open `path` from `connections` threads released at once; the errors they met."""
    start = threading.Barrier(connections)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            ReadDatabase(path).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_first_opens_of_a_new_read_database(tmp_path: Path) -> None:
    for round_ in range(20):
        path = tmp_path / f"read-{round_}.sqlite"
        assert open_together(path) == []
        db = ReadDatabase(path)
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


def _damage(path: Path) -> bytes:
    garbage = bytes(range(256)) * 40  # not an SQLite header: "file is not a database"
    path.write_bytes(garbage)
    return garbage


def test_a_damaged_read_database_is_set_aside_whole_and_a_new_one_made(tmp_path: Path) -> None:
    path = tmp_path / "read.sqlite"
    ReadDatabase(path).close()
    garbage = _damage(path)

    db = ReadDatabase(path)  # no exception: derived data is built again

    assert db.history() is None and db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0].name.startswith("read.sqlite.damaged-")
    assert aside[0].read_bytes() == garbage  # kept byte for byte: it may hold bookmarks


def test_a_read_database_damaged_twice_in_one_second_keeps_both_damaged_files(tmp_path: Path) -> None:
    path = tmp_path / "read.sqlite"
    first = _damage(path)
    ReadDatabase(path).close()
    second = _damage(path)[::-1]
    path.write_bytes(second)
    ReadDatabase(path).close()
    kept = sorted(p.read_bytes() for p in tmp_path.iterdir() if ".damaged-" in p.name)
    assert kept == sorted([first, second])


def test_concurrent_opens_of_a_damaged_read_database_set_it_aside_once(tmp_path: Path) -> None:
    path = tmp_path / "read.sqlite"
    ReadDatabase(path).close()
    _damage(path)
    assert open_together(path) == []
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("read.sqlite.damaged-") and
                not p.name.endswith(("-wal", "-shm"))]) == 1
