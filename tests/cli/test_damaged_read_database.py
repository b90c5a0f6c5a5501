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
