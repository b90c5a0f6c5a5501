"""The SQLite adapter: the shared contract plus what only a file on disk can show.

Immutability triggers, two writers in two processes, a held write lock, tampering, schema
versions and migrations, damaged rows.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw
import pytest

from explorer.store import (
    NO_STREAM,
    EventFilter,
    NewEvent,
    StoreLockedError,
    StoreOpenError,
    StoreReadOnlyError,
)
from explorer.store import schema
from explorer.store import sqlite as sqlite_module
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers import store_workers
from tests.helpers.stores import StepClock
from tests.store.contract import EventStoreContract, T0


class TestSQLiteEventStore(EventStoreContract):
    def make_store(self, directory: Path, clock: Any = None) -> SQLiteEventStore:
        path = directory / "contract.evstore"
        if clock is None:
            return SQLiteEventStore.create(path)
        return SQLiteEventStore.create(path, clock=clock)


del EventStoreContract  # collected only through its subclasses


def small_store(path: Path, events: int = 6) -> SQLiteEventStore:
    store = SQLiteEventStore.create(path, clock=StepClock(T0))
    for i in range(events):
        store.append(f"device-{i % 2}", "Device", [NewEvent("Happened", {"n": i})], i // 2 if i // 2 else NO_STREAM)
    return store


def raw(path: Path) -> apsw.Connection:
    return apsw.Connection(str(path))


# -- the physical design -------------------------------------------------------------------------


def test_update_and_delete_of_events_abort_with_a_clear_message(tmp_path: Path) -> None:
    small_store(tmp_path / "s.evstore").close()
    db = raw(tmp_path / "s.evstore")
    with pytest.raises(apsw.ConstraintError, match="events are immutable.*UPDATE"):
        db.execute("UPDATE events SET data = '{}' WHERE position = 1")
    with pytest.raises(apsw.ConstraintError, match="events are immutable.*DELETE"):
        db.execute("DELETE FROM events WHERE position = 1")
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 6
    db.close()


def test_a_stream_cannot_hold_one_version_twice(tmp_path: Path) -> None:
    small_store(tmp_path / "s.evstore").close()
    db = raw(tmp_path / "s.evstore")
    with pytest.raises(apsw.ConstraintError, match="UNIQUE"):
        db.execute("INSERT INTO events (position, stream_key, version, type, recorded_at, data, metadata,"
                   " event_id, chain_hash) SELECT 99, stream_key, 1, 'X', 0, '{}', '{}', 'x', 'x' FROM streams LIMIT 1")
    db.close()


def test_schema_marks_the_file(tmp_path: Path) -> None:
    small_store(tmp_path / "s.evstore").close()
    db = raw(tmp_path / "s.evstore")
    assert db.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.USER_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(db.execute("SELECT key, value FROM meta"))["schema_version"] == str(schema.USER_VERSION)
    db.close()
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        assert store.schema_version == schema.USER_VERSION
        assert len(store.store_id) == 36 and store.created_at.endswith("Z")


def test_create_never_overwrites(tmp_path: Path) -> None:
    small_store(tmp_path / "s.evstore").close()
    before = (tmp_path / "s.evstore").read_bytes()
    with pytest.raises(StoreOpenError, match="already exists"):
        SQLiteEventStore.create(tmp_path / "s.evstore")
    with pytest.raises(StoreOpenError, match="no such directory"):
        SQLiteEventStore.create(tmp_path / "missing" / "s.evstore")
    assert (tmp_path / "s.evstore").read_bytes() == before


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    small_store(tmp_path / "s.evstore").close()
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        with pytest.raises(StoreReadOnlyError, match="read-only"):
            store.append("device-0", "Device", [NewEvent("X", {})], 3)
        assert store.head().position == 6
        clone = store.clone()
        assert clone.read_only and clone.head() == store.head()
        clone.close()


def test_clone_sees_the_other_connections_commits(tmp_path: Path) -> None:
    store = small_store(tmp_path / "s.evstore")
    other = store.clone()
    seen = other.data_version()
    store.append("device-9", "Device", [NewEvent("X", {})], NO_STREAM)
    assert other.data_version() != seen
    assert other.head().position == 7
    other.close()
    store.close()


# -- two processes -------------------------------------------------------------------------------


def test_two_processes_same_expected_version_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    with SQLiteEventStore.create(path) as store:
        store.append("device-1", "Device", [NewEvent("Registered", {})], NO_STREAM)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    children = [ctx.Process(target=store_workers.append_at_barrier, args=(str(path), 1, barrier, results, name))
                for name in ("first", "second")]
    for child in children:
        child.start()
    outcomes = sorted([results.get(timeout=60) for _ in children], key=lambda r: r[1])
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    kinds = [o[1] for o in outcomes]
    assert kinds == ["conflict", "ok"], outcomes
    assert outcomes[0][2] == ("device-1", 1, 2)  # stream, expected, actual
    assert outcomes[1][2] == 2
    with SQLiteEventStore.open(path, read_only=True) as store:
        events = list(store.read_stream("device-1"))
        assert [e.version for e in events] == [1, 2]
        assert events[1].data["by"] == outcomes[1][0]
        assert store.verify().ok


@contextmanager
def held_by_another_process(hold: Callable[..., None], path: Path) -> Iterator[Callable[[], None]]:
    """A child process holding the store (`hold`: tests/helpers/store_workers.py) until the
    yielded function lets go (or the block ends)."""
    ctx = multiprocessing.get_context("spawn")
    locked, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=hold, args=(str(path), locked, release))
    holder.start()

    def let_go() -> None:
        release.set()
        holder.join(timeout=30)

    try:
        assert locked.wait(timeout=60), "the child never took the lock"
        yield let_go
    finally:
        let_go()
    assert holder.exitcode == 0


def test_a_held_write_lock_gives_a_clear_error_within_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    with held_by_another_process(store_workers.hold_write_lock, path) as let_go, \
            SQLiteEventStore.open(path, busy_timeout_ms=300) as store:
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as err:
            store.append("device-0", "Device", [NewEvent("X", {})], 3)
        waited = time.monotonic() - started
        assert 0.25 <= waited < 5, waited
        assert "write lock" in str(err.value) and "nothing was written" in str(err.value)
        assert store.head().position == 6  # reads still work while another process writes
        let_go()
        # once the lock is free the same connection appends normally
        assert store.append("device-0", "Device", [NewEvent("X", {})], 3).version == 4


# -- verify ----------------------------------------------------------------------------------------


def test_verify_names_the_tampered_position(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    store = small_store(path)
    digest = store.verify().digest
    store.close()
    db = raw(path)
    db.execute("DROP TRIGGER events_are_immutable_update")
    db.execute("UPDATE events SET data = replace(data, '4', '5') WHERE position = 5")  # one byte
    db.close()
    with SQLiteEventStore.open(path, read_only=True) as store:
        result = store.verify()
    assert not result.ok and result.first_bad_position == 5 and result.checked == 4
    assert "position 5" in result.message and result.digest != digest


def test_verify_names_a_missing_position(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    db = raw(path)
    db.execute("DROP TRIGGER events_are_immutable_delete")
    db.execute("DELETE FROM events WHERE position = 3")
    db.close()
    with SQLiteEventStore.open(path, read_only=True) as store:
        result = store.verify()
    assert not result.ok and result.first_bad_position == 3 and "missing" in result.message


def test_verify_runs_sqlite_integrity_check(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    db = raw(path)
    # Redefine an index without rebuilding it: the file stays readable, integrity_check objects.
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_schema SET sql = 'CREATE INDEX events_by_type ON events (event_id)'"
               " WHERE name = 'events_by_type'")
    db.execute("PRAGMA writable_schema = OFF")
    db.close()
    with SQLiteEventStore.open(path, read_only=True) as store:
        result = store.verify()
    assert not result.ok and "integrity_check" in result.message


# -- damaged rows ------------------------------------------------------------------------------------


def test_a_row_with_malformed_json_is_reported_and_the_rest_stays_readable(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    db = raw(path)
    db.execute("DROP TRIGGER events_are_immutable_update")
    db.execute("UPDATE events SET data = '{\"n\": 3' WHERE position = 4")
    db.execute("UPDATE events SET metadata = '[1]' WHERE position = 5")
    db.close()
    with SQLiteEventStore.open(path, read_only=True) as store:
        events = list(store.read_all())
        assert [e.position for e in events] == [1, 2, 3, 4, 5, 6]
        assert [e.position for e in events if e.problem] == [4, 5]
        assert "not valid JSON" in events[3].problem and events[3].data == {}  # type: ignore[operator]
        assert "metadata" in events[4].problem  # type: ignore[operator]
        assert events[5].data == {"n": 5}
        assert [d for _v, _t, d in store.read_stream_data("device-1")] == [{"n": 1}, {}, {"n": 5}]
        assert [e.position for e in store.read_all(filters=EventFilter(stream_ids=("device-1",)))] == [2, 4, 6]


# -- opening -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("hello, I am a text file\n" * 10), "not an SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x10"), "truncated"),
    ],
    ids=["missing", "directory", "empty", "text", "short-header"],
)
def test_open_bad_paths(tmp_path: Path, make: Any, message: str) -> None:
    path = tmp_path / "bad.evstore"
    make(path)
    for read_only in (True, False):
        with pytest.raises(StoreOpenError, match=message):
            SQLiteEventStore.open(path, read_only=read_only)


def test_open_a_truncated_store(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path, events=300).close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreOpenError, match="truncated"):
        SQLiteEventStore.open(path, read_only=True)


def test_open_an_sqlite_file_that_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = raw(path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreOpenError, match="not an Event Explorer store.*customers"):
        SQLiteEventStore.open(path, read_only=True)
    with pytest.raises(StoreOpenError, match="not an Event Explorer store"):
        SQLiteEventStore.open(path)
    assert path.read_bytes() == before


# -- schema versions ------------------------------------------------------------------------------------


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    db = raw(path)
    db.execute(f"PRAGMA user_version = {schema.USER_VERSION + 1}")
    db.close()
    for read_only, migrate in ((True, False), (False, False), (False, True)):
        with pytest.raises(StoreOpenError, match=f"schema version {schema.USER_VERSION + 1}, newer.*upgrade"):
            SQLiteEventStore.open(path, read_only=read_only, migrate=migrate)


def use_schema_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the code knows a schema version 2 that adds a table and an index."""
    migrations = dict(schema.MIGRATIONS)
    migrations[2] = ("CREATE TABLE annotations (position INTEGER PRIMARY KEY, note TEXT NOT NULL)",
                     "CREATE INDEX events_by_id ON events (event_id)")
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(sqlite_module, "USER_VERSION", 2)


def test_an_older_schema_opens_only_when_the_user_asks_to_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()  # made by the version-1 code
    use_schema_v2(monkeypatch)
    before = path.read_bytes()

    with pytest.raises(StoreOpenError, match="older schema version 1.*event-explorer migrate"):
        SQLiteEventStore.open(path)
    with pytest.raises(StoreOpenError, match="older schema version 1"):
        SQLiteEventStore.open(path, read_only=True, migrate=True)  # never on a read-only open
    assert path.read_bytes() == before and not Path(f"{path}.bak-v1").exists()

    with SQLiteEventStore.open(path, migrate=True) as store:
        assert store.schema_version == 2
        assert store.head().position == 6 and store.verify().ok
        assert store._db.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0
        assert store._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    backup = Path(f"{path}.bak-v1")
    assert backup.exists()
    db = apsw.Connection(str(backup))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 6
    db.close()
    with SQLiteEventStore.open(path, read_only=True) as store:  # migrated: opens without asking
        assert store.schema_version == 2
        assert store.head().position == 6


def test_a_new_store_gets_every_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_schema_v2(monkeypatch)
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        assert store.schema_version == 2
        assert store._db.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0


@pytest.mark.parametrize("read_only", [True, False])
def test_a_store_held_whole_by_another_process_is_said_to_be_locked_not_damaged(tmp_path: Path,
                                                                              read_only: bool) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    with held_by_another_process(store_workers.hold_whole_file, path), \
            pytest.raises(StoreLockedError, match="locked by another process for more than 0.2 s"):
        SQLiteEventStore.open(path, read_only=read_only, busy_timeout_ms=200)
    with SQLiteEventStore.open(path, read_only=read_only) as store:  # once let go, it opens
        assert store.head().position == 6


def test_a_damaged_schema_is_a_clear_open_error(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    small_store(path).close()
    db = raw(path)
    root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'events_by_time'").fetchone()[0]
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_schema SET rootpage = ? WHERE name = 'events_by_type'", (root,))
    db.close()
    for read_only in (True, False):
        with pytest.raises(StoreOpenError, match="damaged"):
            SQLiteEventStore.open(path, read_only=read_only)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """The app opens stores through here too: reading a FIFO's header would block forever."""
    fifo = tmp_path / "p.evstore"
    os.mkfifo(fifo)
    with pytest.raises(StoreOpenError, match="named pipe"):
        SQLiteEventStore.open(fifo, read_only=True)


def test_types_between(tmp_path: Path) -> None:
    store = SQLiteEventStore.create(tmp_path / "t.evstore")
    store.append("a-1", "Alpha", [NewEvent("Made", {}), NewEvent("Changed", {})], NO_STREAM)
    store.append("b-1", "Beta", [NewEvent("Made", {})], NO_STREAM)
    store.append("b-1", "Beta", [NewEvent("Closed", {})], 1)
    assert store.types_between(1, 4) == ({"Made", "Changed", "Closed"}, {"Alpha", "Beta"})
    assert store.types_between(3, 4) == ({"Made", "Closed"}, {"Beta"})
    assert store.types_between(5, 9) == (set(), set())
