"""A read database serves only the history it was built from.

A copy of a store file keeps the store's id, so it shares the original's read database (read
models, snapshots, bookmarks). Once the two diverge, each must still see only its own events.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from explorer.domain.iot import device as dev
from explorer.projections import runner_for
from explorer.projections.graph import graph_at
from explorer.projections.registry import names_at, registry_at
from explorer.projections.runner import LIVE
from explorer.projections.search import search
from explorer.store.bookmarks import BookmarkStore
from explorer.store.readdb import ReadDatabase
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel
from tests.helpers.stores import make_demo


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A demo store with its read models and a bookmark, and a copy of the file made after that."""
    orig = tmp_path / "orig.evstore"
    make_demo(orig, devices=8, events=400, seed=11)
    with SQLiteEventStore.open(orig) as store:
        runner = runner_for(store)
        runner.catch_up()
        BookmarkStore(runner.readdb).add(10, "looked at this")
        runner.readdb.close()
    copy = tmp_path / "copy.evstore"
    shutil.copyfile(orig, copy)
    return orig, copy


def _devices(store: SQLiteEventStore) -> list[str]:
    return [s.stream_id for s in store.streams() if s.stream_type == dev.STREAM_TYPE]


def _append(path: Path, stream_id: str, *events: tuple[str, dict[str, Any]]) -> int:
    with SQLiteEventStore.open(path) as store:
        info = store.stream_info(stream_id)
        assert info is not None
        result = store.append(stream_id, dev.STREAM_TYPE, [NewEvent(t, d) for t, d in events], info.version)
        return store.head().position if result else 0


def _answers(path: Path, readdb: ReadDatabase | None = None) -> dict[str, Any]:
    """What the read models answer for the store at `path` (its own read database by default)."""
    with SQLiteEventStore.open(path, read_only=True) as store:
        runner = runner_for(store, readdb)
        runner.catch_up()
        db = runner.readdb
        statuses = runner.status()
        out = {
            "head": store.head().position,
            "status": [(s.state, s.checkpoint) for s in statuses],
            "copy_hits": [(h.stream_id, h.position) for h in search(db, "only-in-copy")],
            "orig_hits": [(h.stream_id, h.position) for h in search(db, "only-in-orig")],
            "registry": registry_at(db),
            "names": names_at(db),
            "graph": graph_at(db),
            "graph_before_head": graph_at(db, store.head().position - 1),
        }
        db.close()
        return out


def _reference(path: Path, tmp_path: Path) -> dict[str, Any]:
    """The same answers from a read database built from that store alone."""
    private = tmp_path / f"ref-{path.stem}-{len(list(tmp_path.glob('ref-*')))}.sqlite"
    return _answers(path, ReadDatabase(private))


def test_diverged_copies_each_see_only_their_own_history(pair: tuple[Path, Path], tmp_path: Path) -> None:
    orig, copy = pair
    with SQLiteEventStore.open(orig, read_only=True) as store:
        a, b, *_ = _devices(store)
        store_id = store.store_id
        head = store.head().position
    # The copy gets a rename and a connection the original never has.
    _append(copy, a, (dev.DEVICE_RENAMED, {"name": "only-in-copy"}),
            (dev.DEVICE_CONNECTED, {"peer_id": dev.device_id_of(b)}))
    copy_answers = _answers(copy)
    assert (a, head + 1) in copy_answers["copy_hits"]
    assert copy_answers == _reference(copy, tmp_path)

    # The original has not got position head + 1: its read models must not claim it.
    orig_answers = _answers(orig)
    assert orig_answers["copy_hits"] == []
    assert orig_answers["status"] == [(LIVE, head)] * len(orig_answers["status"])
    assert orig_answers == _reference(orig, tmp_path)

    # Now the original gets its own event at that position: it is indexed (and the copy's is not).
    _append(orig, a, (dev.DEVICE_RENAMED, {"name": "only-in-orig"}))
    orig_answers = _answers(orig)
    assert set(orig_answers["orig_hits"]) == {(a, head + 1)}
    assert orig_answers["copy_hits"] == []
    assert orig_answers["names"][a] == "only-in-orig"
    assert orig_answers == _reference(orig, tmp_path)

    # Back to the copy, then the original again: each time its own history.
    copy_answers = _answers(copy)
    assert copy_answers["orig_hits"] == [] and copy_answers["names"][a] == "only-in-copy"
    assert copy_answers == _reference(copy, tmp_path)
    assert _answers(orig) == _reference(orig, tmp_path)

    # The user's bookmarks survived every rebuild.
    readdb = ReadDatabase.for_store(store_id)
    assert BookmarkStore(readdb).pairs() == [(10, "looked at this")]
    readdb.close()


def test_a_copy_that_did_not_diverge_keeps_the_read_models(pair: tuple[Path, Path]) -> None:
    orig, copy = pair
    with SQLiteEventStore.open(copy, read_only=True) as store:
        runner = runner_for(store)
        generations = runner._rows()
        runner.catch_up()
        assert runner._rows() == generations  # nothing rebuilt: the same generations, the same checkpoints
        runner.readdb.close()
    _append(copy, _devices(SQLiteEventStore.open(copy, read_only=True))[0],
            (dev.DEVICE_RENAMED, {"name": "later"}))
    with SQLiteEventStore.open(copy, read_only=True) as store:
        runner = runner_for(store)
        assert [g for g, *_ in runner._rows()] == [g for g, *_ in generations]
        runner.readdb.close()


def test_time_travel_never_uses_a_snapshot_of_another_history(pair: tuple[Path, Path]) -> None:
    orig, copy = pair
    with SQLiteEventStore.open(orig, read_only=True) as store:
        sid = _devices(store)[0]
        base = store.stream_info(sid).version  # type: ignore[union-attr]
        store_id = store.store_id
    renames = [(dev.DEVICE_RENAMED, {"name": f"COPY-{i}"}) for i in range(12)]
    _append(copy, sid, *renames)
    with SQLiteEventStore.open(copy, read_only=True) as store:
        tt = TimeTravel(store, ReadDatabase.for_store(store_id), snapshot_every=5)
        assert tt.state_at(sid).state["name"] == "COPY-11"  # folds and keeps snapshots of the copy
        assert tt.readdb.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] > 0  # type: ignore[union-attr]
        tt.readdb.close()  # type: ignore[union-attr]
    _append(orig, sid, *[(dev.DEVICE_RENAMED, {"name": f"ORIG-{i}"}) for i in range(12)])
    with SQLiteEventStore.open(orig, read_only=True) as store:
        readdb = ReadDatabase.for_store(store_id)
        for bound in (False, True):
            # Unbound first (another process may have written the snapshots after this one bound):
            # each snapshot is checked against the store's chain hash by itself.
            tt = TimeTravel(store, readdb, snapshot_every=5) if bound else _unbound(store, readdb)
            for version in range(base, base + 13):
                expected = f"ORIG-{version - base - 1}" if version > base else None
                name = tt.state_at(sid, version=version).state["name"]
                assert expected is None or name == expected, (version, name)
        readdb.close()


def _unbound(store: SQLiteEventStore, readdb: ReadDatabase) -> TimeTravel:
    tt = TimeTravel(store, None, snapshot_every=5)
    tt.readdb = readdb
    return tt


def test_a_read_database_made_before_the_check_is_rebuilt_once(pair: tuple[Path, Path]) -> None:
    orig, copy = pair
    with SQLiteEventStore.open(orig, read_only=True) as store:
        readdb = ReadDatabase.for_store(store.store_id)
        readdb.db.execute("DROP TABLE read_history")  # as an older version left it
        readdb.db.execute("DROP TABLE snapshots")
        readdb.db.execute("CREATE TABLE snapshots (stream_id TEXT NOT NULL, decider TEXT NOT NULL,"
                          " version INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (stream_id, decider, version))")
        readdb.db.execute("INSERT INTO snapshots VALUES ('x', 'Device:1', 100, '{}')")
        readdb.close()
        readdb = ReadDatabase.for_store(store.store_id)  # the old snapshot table goes
        assert readdb.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
        assert readdb.bind(store) is True  # read models of an unknown history: rebuilt
        assert readdb.bind(store) is False
        runner = runner_for(store, readdb)
        assert {s.checkpoint for s in runner.status()} == {0}
        runner.catch_up()
        assert {s.checkpoint for s in runner.status()} == {store.head().position}
        assert BookmarkStore(readdb).pairs() == [(10, "looked at this")]
        readdb.close()
