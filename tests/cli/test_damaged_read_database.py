"""A damaged read database (the cache) is not the store's fault: it is set aside and built again."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer import paths
from explorer.cli import main
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.stores import make_demo


def test_a_damaged_read_database_is_rebuilt_with_one_warning_line_and_the_store_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.evstore"
    make_demo(store, devices=8, events=300, seed=3)
    assert main(["project", str(store)]) == 0
    store_id = SQLiteEventStore.open(store, read_only=True).store_id
    read_db = paths.read_db_path(store_id)
    read_db.write_bytes(b"\x00garbage" * 1000)
    store_bytes = store.read_bytes()
    capsys.readouterr()

    for command in (["project", str(store)], ["search", str(store), "night"], ["graph", str(store)]):
        assert main(command) == 0, capsys.readouterr().err

    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: the read database {read_db} was damaged"), err
    assert "store file is damaged" not in err
    aside = list(read_db.parent.glob(read_db.name + ".damaged-*"))
    assert [p.read_bytes() for p in aside] == [b"\x00garbage" * 1000]
    assert store.read_bytes() == store_bytes


def _damage_tables(read_db: Path, name_like: str) -> None:
    """Overwrite the root pages of the tables and indexes named like `name_like` (the file's header
    and schema stay sound)."""
    import apsw

    db = apsw.Connection(str(read_db))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    roots = [r for (r,) in db.execute("SELECT rootpage FROM sqlite_master WHERE name LIKE ? AND rootpage > 1",
                                      (name_like,))]
    db.close()
    assert roots
    with read_db.open("r+b") as f:
        for root in roots:
            f.seek((root - 1) * page_size)
            f.write(b"\xab" * page_size)


def test_a_read_database_damaged_inside_is_set_aside_and_the_command_answers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A damaged page deep in the read database used to fail every read-model command with "the
    store file is damaged", for good, while `verify` said the store was fine."""
    store = tmp_path / "s.evstore"
    make_demo(store, devices=8, events=300, seed=3)
    assert main(["graph", str(store), "--json"]) == 0
    expected = capsys.readouterr().out
    store_id = SQLiteEventStore.open(store, read_only=True).store_id
    read_db = paths.read_db_path(store_id)
    _damage_tables(read_db, "graph_g%")
    store_bytes = store.read_bytes()

    assert main(["graph", str(store), "--json"]) == 0
    out, err = capsys.readouterr()
    assert out == expected  # built again from the store: the same answer
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: the read database {read_db} was damaged"), err
    assert len([p for p in read_db.parent.iterdir() if ".damaged-" in p.name and
                not p.name.endswith(("-wal", "-shm"))]) == 1, sorted(p.name for p in read_db.parent.iterdir())
    assert store.read_bytes() == store_bytes
    assert main(["graph", str(store), "--json"]) == 0 and capsys.readouterr() == (expected, "")


def test_damage_in_the_store_itself_is_still_the_stores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.evstore"
    make_demo(store, devices=8, events=300, seed=3)
    assert main(["project", str(store)]) == 0
    import apsw

    db = apsw.Connection(str(store))
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()
    db.close()
    with store.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xab" * page_size)
    capsys.readouterr()
    assert main(["events", str(store), "--limit", "5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the store file is damaged") and err.count("\n") == 1, err
    read_db = paths.read_db_path(SQLiteEventStore.open(store, read_only=True).store_id)
    assert not list(read_db.parent.glob(read_db.name + ".damaged-*"))  # the read database was sound: kept
