"""The projection runner: checkpoints, catching up, failures, rebuild beside + swap, versions, and
crash-resume after a real SIGKILL of a child process mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import apsw
import pytest

from explorer.demo import DemoSummary
from explorer.domain.iot import device as dev
from explorer.projections import READ_MODELS, runner_for
from explorer.projections.analytics import activity_at, hourly
from explorer.projections.graph import graph_at
from explorer.projections.registry import DeviceRegistry, device_at, registry_at
from explorer.projections.runner import (
    CATCHING_UP,
    EMPTY,
    FAILED,
    LIVE,
    REBUILDING,
    Projection,
    ProjectionRunner,
    Fact,
    ReadDatabaseBusy,
    RebuildCancelled,
    facts_of,
    has_indexes,
    live_prefix,
)
from explorer.store.base_types import NO_STREAM
from explorer.store.readdb import ReadDatabase
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore

REPO = Path(__file__).resolve().parents[2]


def dump(readdb: ReadDatabase) -> dict[str, list[tuple[Any, ...]]]:
    """Every live read model's rows, by table name without the generation prefix."""
    out = {}
    for model in READ_MODELS:
        prefix = live_prefix(readdb, model.name)
        assert prefix is not None
        for table in model.tables:
            rows = readdb.db.execute(f"SELECT rowid, * FROM {prefix}{table}" if "text" in table
                                     else f"SELECT * FROM {prefix}{table}").fetchall()
            out[f"{model.name}.{table}"] = sorted(rows, key=repr)
    return out


def fresh_dump(store: SQLiteEventStore, path: Path) -> dict[str, list[tuple[Any, ...]]]:
    runner = runner_for(store, ReadDatabase(path))
    runner.catch_up()
    return dump(runner.readdb)


def test_status_before_and_after_catching_up(demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    runner = runner_for(store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.batch_size = 500
    head = store.head().position
    before = runner.status()
    assert {s.state for s in before} == {EMPTY} and all(s.lag_events == head for s in before)
    runner.catch_up(cancelled=iter([False, True]).__next__)  # one batch, then stop
    middle = runner.status()
    assert all(s.state == CATCHING_UP and 0 < s.checkpoint < head for s in middle)
    assert indexed(runner.readdb) == {"registry": False, "analytics": False}  # a stop ends at once
    assert all(s.lag_events == head - s.checkpoint and s.lag_seconds > 0 for s in middle)
    seen: list[tuple[int, int]] = []
    runner.catch_up(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (head, head) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    after = runner.status()
    assert all(s.state == LIVE and s.checkpoint == head and s.lag_events == 0 for s in after)
    assert indexed(runner.readdb) == {"registry": True, "analytics": True}
    assert all(s.events_per_second > 0 for s in after)
    assert runner.checkpoints() == {m.name: head for m in READ_MODELS}


def _grow(store: SQLiteEventStore, n: int) -> None:
    """Append n new devices, each connected to the previous one."""
    last = None
    for i in range(n):
        device_id = f"00000000-0000-4000-8000-{i:012d}"
        events = [NewEvent(dev.DEVICE_REGISTERED, {"device_id": device_id, "name": f"late-{i}", "kind": "sensor",
                                                   "owner": "tests"})]
        if last:
            events.append(NewEvent(dev.DEVICE_CONNECTED, {"peer_id": last}))
        store.append(dev.device_stream(device_id), dev.STREAM_TYPE, events, NO_STREAM)
        last = device_id


def test_catching_up_with_new_events_equals_a_fresh_build(demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    path = tmp_path / "grow.evstore"
    path.write_bytes(demo[0].read_bytes())
    store = SQLiteEventStore.open(path)
    runner = runner_for(store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.catch_up()
    edges_before = len(graph_at(runner.readdb).edges)  # fills the graph's device-name cache
    _grow(store, 7)
    assert {s.lag_events for s in runner.status()} == {13}
    runner.catch_up()
    assert dump(runner.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")
    assert any(r.name == "late-6" and r.connections == 1 for r in registry_at(runner.readdb))
    after = graph_at(runner.readdb)
    assert len(after.edges) == edges_before + 6
    assert (dev.device_stream("00000000-0000-4000-8000-000000000006"),
            dev.device_stream("00000000-0000-4000-8000-000000000005")) in after.edges


@pytest.mark.parametrize(("source", "batch_size"), [("demo", 97), ("odd", 1), ("odd", 3)])
def test_a_run_split_anywhere_with_restarts_gives_the_same_tables(
        demo: tuple[Path, DemoSummary], odd_store: Path, tmp_path: Path, source: str, batch_size: int) -> None:
    """One batch per runner (a new process each time: every in-memory cache reloaded from the
    tables) leaves the same rows as one run in one batch."""
    store = SQLiteEventStore.open(demo[0] if source == "demo" else odd_store, read_only=True)
    whole = runner_for(store, ReadDatabase(tmp_path / "whole.sqlite"))
    whole.batch_size = 100_000
    whole.catch_up()
    path = tmp_path / "split.sqlite"
    runs = 0
    while True:
        runner = runner_for(store, ReadDatabase(path))
        runner.batch_size = batch_size
        runner.catch_up(cancelled=iter([False, True]).__next__)  # one batch, then stop
        runs += 1
        if all(s.state == LIVE for s in runner.status()):
            break
    assert runs >= store.head().position // batch_size
    assert dump(ReadDatabase(path)) == dump(whole.readdb)


class Stop(Exception):
    pass


def indexed(readdb: ReadDatabase) -> dict[str, bool]:
    return {m.name: has_indexes(readdb, live_prefix(readdb, m.name) or "", m) for m in READ_MODELS if m.indexes}


def test_a_build_from_nothing_makes_its_indexes_at_the_end_and_answers_meanwhile(
        built: ProjectionRunner, tmp_path: Path) -> None:
    """Indexes come after the bulk load; queries on the half-built, unindexed live generation (a
    run stopped by an error, as a kill would) still give the answers of a complete build."""
    runner = runner_for(built.store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.batch_size = 500
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done >= 1500:
            raise Stop

    with pytest.raises(Stop):
        runner.catch_up(progress=progress)
    assert {s.checkpoint for s in runner.status()} == {1500}
    assert indexed(runner.readdb) == {"registry": False, "analytics": False}
    half, done = runner.readdb, built.readdb
    for position in (0, 1, 700, 1499, 1500):
        # valid_to: the next event the model knows of; the half-built one knows none after 1500.
        assert registry_at(half, position) == [
            replace(r, valid_to=r.valid_to if r.valid_to and r.valid_to <= 1500 else None)
            for r in registry_at(done, position)]
        assert activity_at(half, position) == activity_at(done, position)
    sid = registry_at(done, 1500)[0].stream_id
    assert device_at(half, sid, 1500) == replace(device_at(done, sid, 1500), valid_to=None)
    assert hourly(half, sid, 1500) == hourly(done, sid, 1500)
    runner = runner_for(built.store, ReadDatabase(tmp_path / "r.sqlite"))  # resumes: indexes first
    runner.catch_up()
    assert indexed(runner.readdb) == {"registry": True, "analytics": True}
    assert dump(runner.readdb) == dump(built.readdb)


def test_facts_decode_only_the_data_and_damaged_data_becomes_empty() -> None:
    raw = [(1, "device-a", "device", 1, "T", 10, "id1", '{"x": 1}', "{broken", "h1"),
           (2, "device-a", "device", 2, "T", 20, "id2", "not json", "{}", "h2"),
           (3, "device-b", "device", 1, "U", 30, "id3", "[1, 2]", "{}", "h3")]
    facts = facts_of(raw)
    assert facts == [(1, "device-a", "T", 10, {"x": 1}), (2, "device-a", "T", 20, {}), (3, "device-b", "U", 30, {})]
    assert facts[0].position == 1 and facts[2].type == "U" and facts[1].recorded_at.microsecond == 20
    assert isinstance(facts[0], Fact)


class Fragile(Projection):
    """Fails on the 5th DeviceRenamed event it sees."""

    name = "fragile"
    title = "Fragile"
    event_types = (dev.DEVICE_RENAMED,)
    tables = ("seen",)
    fail_at = 0

    def setup(self, tx: apsw.Connection) -> None:
        tx.execute(f"CREATE TABLE IF NOT EXISTS {self.prefix}seen (position INTEGER PRIMARY KEY)")

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        for event in batch:
            tx.execute(f"INSERT INTO {self.prefix}seen VALUES (?)", (event.position,))
            if event.position == Fragile.fail_at:
                raise ValueError("cannot handle this one")


def test_a_failing_event_stops_only_its_projection(demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    renames = [e.position for e in store.read_all() if e.type == dev.DEVICE_RENAMED]
    Fragile.fail_at = renames[4]
    runner = ProjectionRunner(store=store, readdb=ReadDatabase(tmp_path / "r.sqlite"),
                              projections=[DeviceRegistry, Fragile])
    runner.catch_up()
    status = {s.name: s for s in runner.status()}
    assert status["registry"].state == LIVE
    fragile = status["fragile"]
    assert fragile.state == FAILED
    assert fragile.failure is not None
    assert (fragile.failure.position, fragile.failure.type) == (renames[4], dev.DEVICE_RENAMED)
    assert "cannot handle this one" in fragile.failure.error
    assert fragile.checkpoint == renames[4] - 1  # everything before the failing event, nothing of it
    prefix = live_prefix(runner.readdb, "fragile")
    rows = [r[0] for r in runner.readdb.db.execute(f"SELECT position FROM {prefix}seen ORDER BY position")]
    assert rows == renames[:4]
    # A later run leaves it stopped; a rebuild with fixed code recovers it.
    runner.catch_up()
    assert {s.name: s.state for s in runner.status()}["fragile"] == FAILED
    Fragile.fail_at = 0
    runner.rebuild(["fragile"])
    assert {s.name: s.state for s in runner.status()}["fragile"] == LIVE


def test_rebuild_builds_beside_keeps_the_old_model_readable_then_swaps(built: ProjectionRunner,
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    runner = runner_for(built.store, ReadDatabase(path))
    runner.batch_size = 500
    runner.catch_up()
    old_prefix = live_prefix(runner.readdb, "registry")
    expected = registry_at(runner.readdb)
    reader = ReadDatabase(path)  # another connection, as a view's worker would have
    during: list[tuple[str, str | None, int]] = []

    def progress(done: int, total: int) -> None:
        states = {s.name: s.state for s in runner.status()}
        during.append((states["registry"], live_prefix(reader, "registry"), len(registry_at(reader))))
        assert registry_at(reader) == expected

    runner.rebuild(["registry"], progress=progress)
    assert during and during[0][0] == REBUILDING and during[0][1] == old_prefix
    new_prefix = live_prefix(reader, "registry")
    assert new_prefix != old_prefix
    assert new_prefix is not None and has_indexes(reader, new_prefix, DeviceRegistry)  # swapped in complete
    assert registry_at(reader) == expected
    tables = {r[0] for r in runner.readdb.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(t.startswith(old_prefix) for t in tables)  # the old generation was dropped


def test_a_rebuild_of_one_read_model_gives_only_that_one_a_rate(built: ProjectionRunner, tmp_path: Path) -> None:
    runner = runner_for(built.store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.catch_up()
    assert all(runner.rates.get(m.name, 0) > 0 for m in READ_MODELS)  # each was fed by that run
    runner.rates.clear()
    runner.rebuild(["graph"])
    rates = {s.name: s.events_per_second for s in runner.status()}
    assert rates["graph"] > 0 and [n for n, r in rates.items() if r] == ["graph"], rates


def test_a_runner_whose_batches_another_process_applied_meanwhile_skips_them(
        demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    """Two runners on one read database (the app's child and a CLI command): while one is between
    batches, the other catches up to the head. The first must go on from the table's checkpoint, not
    its own: applied again, the events failed the search index (a duplicate rowid), for good."""
    store = SQLiteEventStore.open(demo[0], read_only=True)
    path = tmp_path / "r.sqlite"
    first, other = runner_for(store, ReadDatabase(path)), runner_for(store.clone(), ReadDatabase(path))
    first.batch_size = 400
    calls: list[int] = []

    def meanwhile(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:  # after the first batch: the other runner takes everything to the head
            other.catch_up()

    first.catch_up(progress=meanwhile)
    assert len(calls) >= 3
    for runner in (first, other):
        assert {s.name: (s.state, s.checkpoint) for s in runner.status()} == {
            m.name: (LIVE, store.head().position) for m in READ_MODELS}
    generations = first.readdb.db.execute("SELECT name, count(*) FROM projection_generations GROUP BY name")
    assert dict(generations.fetchall()) == {m.name: 1 for m in READ_MODELS}
    assert dump(first.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")


def test_first_builds_started_together_by_several_processes_make_one_read_model_each(
        demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    commands = [subprocess.Popen([sys.executable, "-m", "explorer", "project", str(demo[0]), "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
                for _ in range(4)]
    results = [(c.wait(timeout=120), *c.communicate()) for c in commands]
    assert [code for code, _out, _err in results] == [0] * 4, results
    assert all(err == "" for _code, _out, err in results), results
    readdb = ReadDatabase.for_store(store.store_id)
    rows = readdb.db.execute("SELECT name, role, checkpoint, failed_position FROM projection_generations").fetchall()
    assert sorted(rows) == sorted((m.name, "live", store.head().position, None) for m in READ_MODELS)
    assert dump(readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")


def test_cancelled_rebuild_leaves_the_live_model_alone(built: ProjectionRunner, tmp_path: Path) -> None:
    runner = runner_for(built.store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.batch_size = 500
    runner.catch_up()
    before = dump(runner.readdb)
    with pytest.raises(RebuildCancelled):
        runner.rebuild(cancelled=iter([False, False, True, True, True]).__next__)
    assert all(s.state == LIVE and s.rebuild_checkpoint is None for s in runner.status())
    assert dump(runner.readdb) == before
    tables = [r[0] for r in runner.readdb.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert not any("_g2_" in t for t in tables)


def test_a_new_projection_version_triggers_a_rebuild(built: ProjectionRunner, tmp_path: Path) -> None:
    runner = runner_for(built.store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.catch_up()
    old = live_prefix(runner.readdb, "registry")

    class RegistryV2(DeviceRegistry):
        version = DeviceRegistry.version + 1

    upgraded = ProjectionRunner(store=built.store, readdb=runner.readdb, projections=[RegistryV2])
    assert upgraded.status()[0].stale_version
    upgraded.catch_up()
    (status,) = upgraded.status()
    assert status.state == LIVE and status.version == RegistryV2.version and not status.stale_version
    assert live_prefix(runner.readdb, "registry") != old


CHILD = textwrap.dedent("""
    import sys
    from explorer.projections import runner_for
    from explorer.projections.analytics import CallAnalytics
    from explorer.store.readdb import ReadDatabase
    from explorer.store.sqlite import SQLiteEventStore

    store_path, read_path, mode, stop_batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    original = CallAnalytics.apply
    calls = [0]

    def apply(self, batch, tx):
        original(self, batch, tx)
        calls[0] += 1
        if calls[0] == stop_batch:
            # Mid-transaction: the other read models' parts of this batch are written, not committed.
            sys.stdout.write("in-batch\\n")
            sys.stdout.flush()
            sys.stdin.read()  # blocks until the parent kills us

    CallAnalytics.apply = apply
    runner = runner_for(SQLiteEventStore.open(store_path, read_only=True), ReadDatabase(read_path))
    runner.batch_size = 300
    if mode == "rebuild":
        runner.rebuild()
    else:
        runner.catch_up()
    sys.stdout.write("finished\\n")
""")


@pytest.mark.parametrize("mode", ["catch_up", "rebuild"])
def test_sigkill_mid_batch_then_resume_has_no_duplicate_or_missing_effect(
        demo: tuple[Path, DemoSummary], tmp_path: Path, mode: str) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    read_path = tmp_path / "r.sqlite"
    if mode == "rebuild":
        runner_for(store, ReadDatabase(read_path)).catch_up()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(demo[0]), str(read_path), mode, "4"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == "in-batch\n", line
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    runner = runner_for(store, ReadDatabase(read_path))
    statuses = runner.status()
    if mode == "rebuild":
        assert all(s.state == REBUILDING and s.rebuild_checkpoint for s in statuses)
        assert all(s.checkpoint == store.head().position for s in statuses)  # old model intact meanwhile
        assert registry_at(runner.readdb) == registry_at(ReadDatabase(read_path))
        assert len(registry_at(runner.readdb)) == 30
        runner.rebuild()  # resumes the generation the killed process was building
    else:
        assert all(0 < s.checkpoint < store.head().position for s in statuses)
        assert indexed(runner.readdb) == {"registry": False, "analytics": False}  # killed mid-build
        runner.catch_up()
    assert all(s.state == LIVE for s in runner.status())
    assert indexed(runner.readdb) == {"registry": True, "analytics": True}
    assert dump(runner.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")



# -- a locked read database is the runner's condition, never an event's failure ------------------


def _grown_copy(demo: tuple[Path, DemoSummary], tmp_path: Path) -> tuple[SQLiteEventStore, ProjectionRunner]:
    """A writable copy of the demo store with its read models caught up (indexes made), then 7 new
    devices appended: the next catch-up has exactly one batch to apply, and only that one writes."""
    path = tmp_path / "busy.evstore"
    path.write_bytes(demo[0].read_bytes())
    store = SQLiteEventStore.open(path)
    runner = runner_for(store, ReadDatabase(tmp_path / "r.sqlite"))
    runner.catch_up()
    _grow(store, 7)
    return store, runner


def _trace_begins(runner: ProjectionRunner) -> threading.Event:
    """Set when the runner's connection starts `BEGIN IMMEDIATE` (it then waits for the lock)."""
    began = threading.Event()

    def trace(_cursor: apsw.Cursor, sql: str, _bindings: Any) -> bool:
        if sql.lstrip().upper().startswith("BEGIN IMMEDIATE"):
            began.set()
        return True

    runner.readdb.db.exec_trace = trace
    return began


def _hold_write_lock(path: Path) -> apsw.Connection:
    """Another connection that takes the read database's write lock and writes under it (as the
    app's snapshot cache does): a read transaction of the runner could not become a write after it."""
    other = apsw.Connection(str(path))
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO snapshots VALUES ('device-x', 'Device', 1, '{}', 1, 'x')")
    return other


def test_a_locked_read_database_makes_the_batch_wait_and_then_succeed(
        demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    store, runner = _grown_copy(demo, tmp_path)
    runner.readdb.db.setbusytimeout(30_000)  # the test releases the lock itself, long before
    began = _trace_begins(runner)
    other = _hold_write_lock(runner.readdb.path)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["read"] = runner.catch_up()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    try:
        thread.start()
        assert began.wait(20), "the runner never began its batch as a write transaction"
        assert thread.is_alive()  # it cannot have applied anything: the lock is ours
        reader = apsw.Connection(str(runner.readdb.path), flags=apsw.SQLITE_OPEN_READONLY)
        assert {r[0] for r in reader.execute("SELECT checkpoint FROM projection_generations")} == {
            store.head().position - 13}
    finally:
        other.execute("COMMIT")  # a real write lands between the runner's start and its batch
    thread.join(60)
    assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
    assert outcome["read"] == 13
    head = store.head().position
    assert all(s.state == LIVE and s.failure is None and s.checkpoint == head for s in runner.status())
    assert dump(runner.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")


def test_a_lock_that_stays_ends_the_run_with_the_runners_error_and_no_failure(
        demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    store, runner = _grown_copy(demo, tmp_path)
    before = runner.checkpoints()
    runner.readdb.db.setbusytimeout(100)  # each of the BUSY_ATTEMPTS tries waits this long
    began = _trace_begins(runner)
    other = _hold_write_lock(runner.readdb.path)
    try:
        with pytest.raises(ReadDatabaseBusy, match="stayed locked by another connection") as raised:
            runner.catch_up()
    finally:
        other.execute("ROLLBACK")
    assert began.is_set() and isinstance(raised.value, apsw.BusyError)  # callers' `except BusyError` still hold
    assert runner.checkpoints() == before
    assert all(s.failure is None and s.state == CATCHING_UP for s in runner.status())
    runner.catch_up()  # the lock is gone: the same run now succeeds
    assert all(s.state == LIVE and s.failure is None for s in runner.status())
    assert dump(runner.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")


class Interrupted(DeviceRegistry):
    """The registry, whose apply meets a busy or locked read database on its `hit`-th call and the
    one after (a batch tried again, or one event of it), after the projections before it in the
    batch applied their part (and filled their caches)."""

    error: type[apsw.Error] = apsw.BusyError
    hit = 2
    calls = 0

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        Interrupted.calls += 1
        super().apply(batch, tx)  # half done: its own caches saw the batch too
        if Interrupted.calls in (Interrupted.hit, Interrupted.hit + 1):
            raise Interrupted.error("database is locked")


@pytest.mark.parametrize("error", [apsw.BusyError, apsw.LockedError])
def test_busy_or_locked_inside_an_apply_is_retried_never_recorded_as_a_failure(
        demo: tuple[Path, DemoSummary], tmp_path: Path, error: type[apsw.Error]) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    Interrupted.error, Interrupted.calls = error, 0
    models = [Interrupted if m is DeviceRegistry else m for m in READ_MODELS]
    runner = ProjectionRunner(store=store, readdb=ReadDatabase(tmp_path / "r.sqlite"), projections=models,
                              batch_size=700)
    runner.catch_up()
    assert Interrupted.calls > Interrupted.hit + 1  # it met the error twice, and the batch was applied again
    head = store.head().position
    assert all(s.state == LIVE and s.failure is None and s.checkpoint == head for s in runner.status())
    assert dump(runner.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")  # nothing twice, nothing missed


def test_a_run_cancelled_while_the_read_database_is_busy_stops_with_the_batch_rolled_back(
        demo: tuple[Path, DemoSummary], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    Interrupted.error, Interrupted.calls = apsw.BusyError, 0
    models = [Interrupted if m is DeviceRegistry else m for m in READ_MODELS]
    runner = ProjectionRunner(store=store, readdb=ReadDatabase(tmp_path / "r.sqlite"), projections=models,
                              batch_size=700)
    with caplog.at_level("WARNING", logger="explorer.projections.runner"):
        read = runner.catch_up(cancelled=lambda: Interrupted.calls >= Interrupted.hit)  # true once busy
    assert read == 700  # the first batch; the second rolled back when the cancel came
    assert "read database busy" not in caplog.text  # stopped, not tried again
    assert all(s.state == CATCHING_UP and s.failure is None and s.checkpoint == 700 for s in runner.status())
    runner.catch_up()  # the next run applies the rolled-back batch (busy once more, then through)
    head = store.head().position
    assert all(s.state == LIVE and s.failure is None and s.checkpoint == head for s in runner.status())
    assert dump(runner.readdb) == fresh_dump(store, tmp_path / "fresh.sqlite")


def test_a_batch_tried_again_after_a_rollback_first_makes_the_indexes_its_caches_reload_through(
        demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    store = SQLiteEventStore.open(demo[0], read_only=True)
    Interrupted.error, Interrupted.calls = apsw.BusyError, 0
    models = [Interrupted if m is DeviceRegistry else m for m in READ_MODELS]
    runner = ProjectionRunner(store=store, readdb=ReadDatabase(tmp_path / "r.sqlite"), projections=models,
                              batch_size=700)
    # A build from nothing: batch 1, batch 2 busy twice then through on its third try, then a stop.
    runner.catch_up(cancelled=lambda: Interrupted.calls > Interrupted.hit + 1)
    assert all(s.state == CATCHING_UP and s.checkpoint == 1400 for s in runner.status())
    assert indexed(runner.readdb) == {"registry": True, "analytics": True}  # a plain stop leaves them out
