"""Browsing never writes into a store: the file's bytes (and its -wal) are the same after a session of reads.

As root, SQLite's `mode=ro` silently makes an empty -wal and a -shm beside the store (DESIGN.md
section 3), which hides the real problem; so the read-only directory case runs as `nobody`.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from explorer.store import EventFilter, NewEvent
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel, diff
from tests.helpers.cli import can_run_as, run_cli_batch
from tests.helpers.stores import make_demo


def snapshot_bytes(path: Path) -> tuple[bytes, bytes]:
    """The store's bytes and its -wal's (an absent -wal reads as empty: it holds no data)."""
    wal = Path(f"{path}-wal")
    return path.read_bytes(), wal.read_bytes() if wal.exists() else b""


def api_session(path: Path) -> None:
    """Everything a browsing user does, through the API."""
    with SQLiteEventStore.open(path, read_only=True) as store:
        head = store.head()
        assert head.position > 0
        stream = store.streams(limit=1)[0].stream_id
        list(store.read_all(limit=500))
        list(store.read_all(filters=EventFilter(event_types=("DeviceConnected",))))
        list(store.read_stream(stream))
        store.positions(limit=100)
        store.events_at([1, 2, head.position])
        store.stream_info(stream)
        store.counts_by_event_type()
        store.counts_by_stream_type()
        span = store.time_span()
        assert span is not None
        store.histogram(span[0], span[1], 20)
        store.position_at_time(span[0])
        store.stream_version_at(stream, head.position // 2)
        assert store.verify().ok
        tt = TimeTravel(store, ReadDatabase.for_store(store.store_id), snapshot_every=5)
        a = tt.state_at(stream, version=1)
        b = tt.state_at(stream)
        diff(a.state, b.state)
        tt.history(stream, "name")
        clone = store.clone()
        clone.head()
        clone.close()


def cli_session(path: Path, stream: str, extra: list[list[str]] | None = None,
                **kw: Any) -> list[tuple[int, str, str]]:
    """The reading sub-commands, then `extra` ones, in one fresh process (as `user` when given).

    Asserts the reading ones succeed; returns the results of the extra ones.
    """
    commands = [["info", str(path)], ["info", str(path), "--json"], ["events", str(path), "--limit", "50"],
                ["events", str(path), "--json", "--type", "DeviceRenamed"], ["state", str(path), stream, "--json"],
                ["diff", str(path), stream, "--from-version", "1", "--to-version", "3"],
                ["history", str(path), stream, "peers"], ["verify", str(path)]]
    results = run_cli_batch(commands + (extra or []), **kw)
    for args, (code, _out, err) in zip(commands, results):
        assert code == 0, (args, err)
    return results[len(commands):]


def one_error_line(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert (code, out) == (2, "") and err.count("\n") == 1 and err.startswith("error: "), result
    return err.strip()


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ro") / "demo.evstore"
    make_demo(path, devices=12, events=600)
    yield path


def test_a_session_of_reads_leaves_a_closed_store_byte_for_byte(demo_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "demo.evstore"
    shutil.copy(demo_file, path)
    with SQLiteEventStore.open(path, read_only=True) as store:
        stream = store.streams(limit=1)[0].stream_id
    before = snapshot_bytes(path)
    for sidecar in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        sidecar.unlink(missing_ok=True)
    api_session(path)
    cli_session(path, stream)
    assert snapshot_bytes(path) == before
    # Where the user may write, reads leave no -wal/-shm behind (mode=ro left both)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.evstore"]


def test_a_session_of_reads_leaves_a_live_wal_byte_for_byte(demo_file: Path, tmp_path: Path) -> None:
    """A writer is open with committed frames in the -wal: readers must not checkpoint or touch them."""
    path = tmp_path / "demo.evstore"
    shutil.copy(demo_file, path)
    writer = SQLiteEventStore.open(path)
    writer._db.execute("PRAGMA wal_autocheckpoint = 0")  # keep the frames in the -wal
    stream = writer.streams(limit=1)[0].stream_id
    version = writer.stream_info(stream).version  # type: ignore[union-attr]
    writer.append(stream, "Device", [NewEvent("DeviceRenamed", {"name": "renamed-live"})], version)
    try:
        before = snapshot_bytes(path)
        assert len(before[1]) > 0, "the -wal should hold the writer's frames"
        api_session(path)
        cli_session(path, stream)
        assert snapshot_bytes(path) == before
        with SQLiteEventStore.open(path, read_only=True) as reader:  # readers see the -wal's events
            assert reader.head().position == writer.head().position
    finally:
        writer.close()


def test_snapshots_of_a_read_only_store_go_to_the_cache(demo_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "demo.evstore"
    shutil.copy(demo_file, path)
    before = snapshot_bytes(path)
    with SQLiteEventStore.open(path, read_only=True) as store:
        readdb = ReadDatabase.for_store(store.store_id)
        stream = max(store.streams(), key=lambda s: s.version).stream_id
        TimeTravel(store, readdb, snapshot_every=5).state_at(stream)
        assert readdb.db.execute("SELECT count(*) FROM snapshots").fetchone()[0] > 0
        readdb.close()
    assert snapshot_bytes(path) == before


# -- as an unprivileged user --------------------------------------------------------------------


def _nobody_dirs() -> tuple[Path, Path]:
    """A folder nobody may read (for the store) and one nobody may write (its cache)."""
    store_dir = Path(tempfile.mkdtemp(prefix="explorer-ro-"))
    cache_dir = Path(tempfile.mkdtemp(prefix="explorer-cache-"))
    store_dir.chmod(0o755)
    cache_dir.chmod(0o777)
    return store_dir, cache_dir


NOBODY_SKIP = can_run_as("nobody") if os.name == "posix" else "not a POSIX system"


@pytest.mark.skipif(NOBODY_SKIP is not None, reason=f"needs runuser and the nobody user: {NOBODY_SKIP}")
def test_as_nobody_a_store_in_a_read_only_folder_reads_and_creates_nothing(demo_file: Path) -> None:
    store_dir, cache_dir = _nobody_dirs()
    try:
        path = store_dir / "demo.evstore"
        shutil.copy(demo_file, path)
        path.chmod(0o444)
        store_dir.chmod(0o555)
        with SQLiteEventStore.open(demo_file, read_only=True) as store:
            stream = store.streams(limit=1)[0].stream_id
        before = snapshot_bytes(path)
        listing = sorted(os.listdir(store_dir))
        env = {"EXPLORER_CACHE_DIR": str(cache_dir), "EXPLORER_DATA_DIR": str(cache_dir / "data"),
               "EXPLORER_CONFIG_DIR": str(cache_dir / "config"), "EXPLORER_LOG_DIR": str(cache_dir / "log")}
        info, migrate, demo = cli_session(
            path, stream,
            [["info", str(path), "--json"], ["migrate", str(path)],
             ["demo", str(store_dir / "new.evstore"), "--events", "100", "--devices", "5"]],
            user="nobody", env=env, cwd=store_dir)
        assert json.loads(info[1])["read_only"] is True
        assert sorted(os.listdir(store_dir)) == listing == ["demo.evstore"]
        assert snapshot_bytes(path) == before
        assert "read-only" in one_error_line(migrate)  # writing commands say why they cannot, in one line
        assert "new.evstore" in one_error_line(demo)
        assert sorted(os.listdir(store_dir)) == ["demo.evstore"]
    finally:
        for d in (store_dir, cache_dir):
            d.chmod(0o755)
            shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(NOBODY_SKIP is not None, reason=f"needs runuser and the nobody user: {NOBODY_SKIP}")
def test_as_nobody_a_read_only_file_reads_and_refuses_writes(demo_file: Path) -> None:
    store_dir, cache_dir = _nobody_dirs()
    try:
        path = store_dir / "demo.evstore"
        shutil.copy(demo_file, path)
        path.chmod(0o444)
        store_dir.chmod(0o777)  # the folder is writable, the file is not
        with SQLiteEventStore.open(demo_file, read_only=True) as store:
            stream = store.streams(limit=1)[0].stream_id
        before = snapshot_bytes(path)
        env = {"EXPLORER_CACHE_DIR": str(cache_dir)}
        (migrate,) = cli_session(path, stream, [["migrate", str(path)]], user="nobody", env=env, cwd=store_dir)
        assert "read-only for this user, so nothing can be written" in one_error_line(migrate)  # no advice it cannot follow
        assert snapshot_bytes(path) == before
        db = apsw.Connection(str(path))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    finally:
        for d in (store_dir, cache_dir):
            d.chmod(0o755)
            shutil.rmtree(d, ignore_errors=True)


_CRASHED_WRITER = """
import os, sys
from explorer.store import NewEvent
from explorer.store.sqlite import SQLiteEventStore
store = SQLiteEventStore.open(sys.argv[1])
info = store.streams(limit=1)[0]
store.append(info.stream_id, info.stream_type, [NewEvent("DeviceRenamed", {"name": "only-in-the-wal"})],
             info.version)
os._exit(0)  # a writer that ends without closing: the event stays in the -wal, not checkpointed
"""


@pytest.mark.skipif(NOBODY_SKIP is not None, reason=f"needs runuser and the nobody user: {NOBODY_SKIP}")
def test_as_nobody_a_store_whose_wal_cannot_be_read_is_refused_not_read_without_its_events(
        demo_file: Path) -> None:
    """A read-only folder, a -wal holding a committed event and no -shm: an immutable open would
    read the main file only and answer with the event missing (and `verify` would say ok)."""
    import subprocess
    import sys

    store_dir, cache_dir = _nobody_dirs()
    try:
        path = store_dir / "demo.evstore"
        shutil.copy(demo_file, path)
        subprocess.run([sys.executable, "-c", _CRASHED_WRITER, str(path)], check=True)
        wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
        assert wal.stat().st_size > 0
        shm.unlink()  # e.g. a copy that took the store and its -wal only
        for f in (path, wal):
            f.chmod(0o444)
        store_dir.chmod(0o555)
        before = snapshot_bytes(path)
        env = {"EXPLORER_CACHE_DIR": str(cache_dir), "EXPLORER_DATA_DIR": str(cache_dir / "data"),
               "EXPLORER_CONFIG_DIR": str(cache_dir / "config"), "EXPLORER_LOG_DIR": str(cache_dir / "log")}
        info, verify = run_cli_batch([["info", str(path)], ["verify", str(path)]], user="nobody", env=env,
                                     cwd=store_dir)
        assert "its -wal file holds changes" in one_error_line(info)
        assert "its -wal file holds changes" in one_error_line(verify)
        assert snapshot_bytes(path) == before and sorted(os.listdir(store_dir)) == ["demo.evstore", "demo.evstore-wal"]
    finally:
        for d in (store_dir, cache_dir):
            d.chmod(0o755)
            shutil.rmtree(d, ignore_errors=True)
