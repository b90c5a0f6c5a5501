"""Issue 2 benchmarks: append, single-command latency, state_at, replay, the eventsourcing library, demo rate.

Every figure comes with a baseline measured in the same run (the machine is shared and noisy):
- batch append of the 1M-event demo store's events vs raw apsw executemany of the same rows into
  the same schema (goal >= 0.5);
- single-command append latency p50/p99 (goal p99 <= 5 ms) vs a raw one-row transaction;
- state_at at random versions of a 100,000- and a 1,000,000-event stream, with and without
  snapshots (goal p99 <= 10 ms at 1M);
- replay throughput of our fold vs a bare apsw + orjson + evolve loop over the same rows (goal >= 0.8);
- the eventsourcing library rebuilding one 100,000-event aggregate vs our state_at (ratio);
- the demo generator's rate (events/s).

Run: `python3 tasks.py bench store` (about 5-8 minutes; the first run also builds a cached
single-stream store in /tmp/explorer-bench).
"""

from __future__ import annotations

import importlib.metadata
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apsw
import orjson

from benchmarks.stores import BENCH_DIR, cached_store, demo_store, percentile
from explorer.demo import generate_demo
from explorer.domain.iot import device as dev
from explorer.store.base_types import ANY, NO_STREAM
from explorer.store.readdb import ReadDatabase
from explorer.store.records import AppendRequest, NewEvent
from explorer.store.sqlite import SQLiteEventStore, from_us
from explorer.timetravel import SNAPSHOT_EVERY, TimeTravel

PAGE = 10_000
BIG, MID = 1_000_000, 100_000
BIG_STREAM, MID_STREAM = "device-big-stream", "device-mid-stream"
START = datetime(2026, 1, 1, tzinfo=UTC)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# -- 1. batch append vs raw executemany ----------------------------------------------------------


def _pages(source: SQLiteEventStore, head: int) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(1, head + 1, PAGE):
        yield list(source.read_raw(start, min(head, start + PAGE - 1)))


def bench_append(work: Path) -> SQLiteEventStore:
    """Re-append the cached 1M demo store's events; the copy must end with the same digest."""
    source = SQLiteEventStore.open(demo_store(1_000_000), read_only=True)
    head = source.head()
    keys = dict(source._db.execute("SELECT stream_id, stream_key FROM streams"))
    ours = SQLiteEventStore.create(work / "ours.evstore")
    raw_store = SQLiteEventStore.create(work / "raw.evstore")
    raw = raw_store._db
    with raw:
        raw.executemany(
            "INSERT INTO streams (stream_key, stream_id, stream_type, version, first_position, last_position)"
            " SELECT ?, ?, 'Device', 0, 0, 0",
            [(k, s) for s, k in keys.items()],
        )
    insert = ("INSERT INTO events (position, stream_key, version, type, recorded_at, data, metadata,"
              " event_id, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    t_ours = t_raw = 0.0
    loads = orjson.loads
    for page in _pages(source, head.position):
        rows = [(p, keys[sid], v, et, rec, data, meta, eid, chash)
                for p, sid, _st, v, et, rec, eid, data, meta, chash in page]
        requests = [
            AppendRequest(sid, st, (NewEvent(et, loads(data), loads(meta), eid),),
                          v - 1 if v > 1 else NO_STREAM, from_us(rec))
            for _p, sid, st, v, et, rec, eid, data, meta, _c in page
        ]
        started = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(insert, rows)
        raw.execute("COMMIT")
        t_raw += time.perf_counter() - started
        started = time.perf_counter()
        ours.append_batch(requests)
        t_ours += time.perf_counter() - started
    n = head.position
    assert ours.head().chain_hash == head.chain_hash, "the re-appended store must have the same digest"
    print(f"batch append of {n:,} demo events ({PAGE:,} per transaction):")
    print(f"  ours  {t_ours:7.1f} s  {n / t_ours:10,.0f} events/s")
    print(f"  raw   {t_raw:7.1f} s  {n / t_raw:10,.0f} events/s  (apsw executemany, same schema, precomputed rows)")
    print(f"  ratio ours/raw = {t_raw / t_ours:.2f}  (goal >= 0.5); digest identical: yes")
    source.close()
    raw_store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    bench_latency(ours, raw_store, keys)
    raw_store.close()
    return ours


# -- 2. single-command append latency ------------------------------------------------------------


def bench_latency(ours: SQLiteEventStore, raw_store: SQLiteEventStore, keys: dict[str, int]) -> None:
    rng = random.Random(5)
    streams = [s.stream_id for s in ours.streams(limit=200)]
    versions = {s: ours.stream_info(s).version for s in streams}  # type: ignore[union-attr]
    raw = raw_store._db
    next_position = raw.execute("SELECT max(position) FROM events").fetchone()[0] + 1
    ours_t: list[float] = []
    raw_t: list[float] = []
    for i in range(600):
        sid = rng.choice(streams)
        event = NewEvent(dev.CALL_REPORTED, {"direction": "in", "number": "+44 20 7946 0000",
                                             "duration_s": i, "occurred_at": "2026-12-01T00:00:00Z"},
                         {"actor": "bench", "command_id": str(uuid.uuid4())})
        started = time.perf_counter()
        result = ours.append(sid, dev.STREAM_TYPE, [event], versions[sid])
        ours_t.append(time.perf_counter() - started)
        versions[sid] = result.version
        row = (next_position, keys[sid], 10**6 + i, dev.CALL_REPORTED, 0, orjson.dumps(event.data).decode(),
               "{}", str(uuid.uuid4()), "0" * 64)
        next_position += 1
        started = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("INSERT INTO events (position, stream_key, version, type, recorded_at, data, metadata,"
                    " event_id, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        raw.execute("COMMIT")
        raw_t.append(time.perf_counter() - started)
    ours_t, raw_t = ours_t[100:], raw_t[100:]  # the first 100 warm the page cache
    print(f"single-command append latency ({len(ours_t)} appends of one event, expected version, 1M-event store):")
    print(f"  ours  p50 {ms(percentile(ours_t, 50))}  p99 {ms(percentile(ours_t, 99))}  (goal p99 <= 5 ms)")
    print(f"  raw   p50 {ms(percentile(raw_t, 50))}  p99 {ms(percentile(raw_t, 99))}  (BEGIN IMMEDIATE + INSERT + COMMIT)")
    print(f"  ratio raw/ours at p50 = {percentile(raw_t, 50) / percentile(ours_t, 50):.2f}, "
          f"at p99 = {percentile(raw_t, 99) / percentile(ours_t, 99):.2f}")


# -- 3./4. state_at and replay on single big streams ---------------------------------------------


def _stream_events(n: int, seed: int) -> Iterator[NewEvent]:
    rng = random.Random(seed)
    peers: list[str] = []
    yield NewEvent(dev.DEVICE_REGISTERED, {"device_id": str(uuid.UUID(int=rng.getrandbits(128))),
                                           "name": "busy-gateway", "kind": "gateway", "owner": "globex"})
    for i in range(1, n):
        roll = rng.random()
        if roll < 0.9:
            data = {"direction": rng.choice(("in", "out")), "number": f"+44 20 7946 {rng.randrange(10000):04d}",
                    "duration_s": rng.randint(0, 600), "occurred_at": "2026-01-01T00:00:00Z"}
            yield NewEvent(dev.CALL_REPORTED, data, {"actor": "ingest-gateway"})
        elif roll < 0.95 and (len(peers) < 40 or not peers):  # a busy gateway keeps a few dozen peers
            peer = str(uuid.UUID(int=rng.getrandbits(128)))
            peers.append(peer)
            yield NewEvent(dev.DEVICE_CONNECTED, {"peer_id": peer}, {"actor": "ops-bot"})
        elif roll < 0.998 and peers:
            yield NewEvent(dev.DEVICE_DISCONNECTED, {"peer_id": peers.pop(rng.randrange(len(peers)))},
                           {"actor": "ops-bot"})
        else:
            yield NewEvent(dev.DEVICE_RENAMED, {"name": f"gateway-{i}"}, {"actor": "alice"})


def single_stream_store() -> Path:
    """A cached store holding one 1,000,000-event and one 100,000-event Device stream."""

    def fill(store: SQLiteEventStore) -> None:
        for stream, n, seed in ((MID_STREAM, MID, 1), (BIG_STREAM, BIG, 2)):
            chunk: list[NewEvent] = []
            at = START
            for event in _stream_events(n, seed):
                chunk.append(event)
                if len(chunk) == PAGE:
                    store.append_batch([AppendRequest(stream, dev.STREAM_TYPE, tuple(chunk), ANY, at)])
                    chunk, at = [], at + timedelta(hours=1)
            if chunk:
                store.append_batch([AppendRequest(stream, dev.STREAM_TYPE, tuple(chunk), ANY, at)])

    return cached_store(f"single-streams-v2-{BIG}-{MID}", fill)


def _bare_state_at(events: apsw.Connection, snapshots: apsw.Connection, key: int, stream: str, decider: str,
                   target: int) -> dict[str, Any]:
    """The physical limit of the snapshot approach: one snapshot row, one range scan, evolve."""
    row = snapshots.execute("SELECT version, state FROM snapshots WHERE stream_id = ? AND decider = ? AND version <= ?"
                            " ORDER BY version DESC LIMIT 1", (stream, decider, target)).fetchone()
    base, state = (row[0], orjson.loads(row[1])) if row else (0, dev.initial_state())
    evolve, loads = dev.evolve, orjson.loads
    for event_type, data in events.execute("SELECT type, data FROM events WHERE stream_key = ? AND version > ?"
                                           " AND version <= ? ORDER BY version", (key, base, target)):
        state = evolve(state, event_type, loads(data))
    return state


def bench_state_at(store: SQLiteEventStore, work: Path) -> None:
    rng = random.Random(9)
    print(f"state_at at random versions (p50 / p99; snapshots every {SNAPSHOT_EVERY} versions):")
    readdb = ReadDatabase(work / "snapshots.sqlite")
    cached = TimeTravel(store, readdb)
    cold = TimeTravel(store, None)
    bare_events = apsw.Connection(f"file:{store.path}?mode=ro", flags=apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READONLY)
    bare_snaps = apsw.Connection(str(readdb.path))
    for stream, n, cold_samples in ((MID_STREAM, MID, 15), (BIG_STREAM, BIG, 5)):
        key = bare_events.execute("SELECT stream_key FROM streams WHERE stream_id = ?", (stream,)).fetchone()[0]
        started = time.perf_counter()
        cached.state_at(stream)  # one full fold writes the snapshots
        warm = time.perf_counter() - started
        times, bare = [], []
        for _ in range(300):
            version = rng.randint(1, n)
            started = time.perf_counter()
            ours = cached.state_at(stream, version=version).state
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            theirs = _bare_state_at(bare_events, bare_snaps, key, stream, "Device:1", version)
            bare.append(time.perf_counter() - started)
            assert ours == theirs
        cold_times = []
        for _ in range(cold_samples):
            version = rng.randint(1, n)
            started = time.perf_counter()
            cold.state_at(stream, version=version)
            cold_times.append(time.perf_counter() - started)
        print(f"  {n:>9,}-event stream  with snapshots:    p50 {ms(percentile(times, 50))}  "
              f"p99 {ms(percentile(times, 99))}  (300 versions; first fold writing them {warm:.1f} s)")
        print(f"  {'':>9}  bare snapshot+range loop: p50 {ms(percentile(bare, 50))}  p99 {ms(percentile(bare, 99))}"
              f"  -> ratio bare/ours at p50 {percentile(bare, 50) / percentile(times, 50):.2f}")
        print(f"  {n:>9,}-event stream  without snapshots: p50 {ms(percentile(cold_times, 50))}  "
              f"p99 {ms(percentile(cold_times, 99))}  ({cold_samples} versions); "
              f"snapshots buy {percentile(cold_times, 50) / percentile(times, 50):,.0f}x at p50")
    bare_events.close()
    bare_snaps.close()
    readdb.close()


def _bare_replay(db: apsw.Connection, stream_id: str) -> dict[str, Any]:
    key = db.execute("SELECT stream_key FROM streams WHERE stream_id = ?", (stream_id,)).fetchone()[0]
    state = dev.initial_state()
    evolve, loads = dev.evolve, orjson.loads
    for event_type, data in db.execute("SELECT type, data FROM events WHERE stream_key = ? ORDER BY version", (key,)):
        state = evolve(state, event_type, loads(data))
    return state


def bench_replay(store: SQLiteEventStore) -> None:
    cold = TimeTravel(store, None)
    bare = apsw.Connection(f"file:{store.path}?mode=ro", flags=apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READONLY)
    ours_t: list[float] = []
    bare_t: list[float] = []
    for _ in range(3):
        started = time.perf_counter()
        a = cold.state_at(BIG_STREAM).state
        ours_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        b = _bare_replay(bare, BIG_STREAM)
        bare_t.append(time.perf_counter() - started)
        assert a == b
    bare.close()
    o, r = statistics.median(ours_t), statistics.median(bare_t)
    print(f"replay of the {BIG:,}-event stream (median of 3, no snapshots):")
    print(f"  ours (state_at -> read_stream_data -> fold)  {o:5.2f} s  {BIG / o:9,.0f} events/s")
    print(f"  bare apsw + orjson + evolve loop           {r:5.2f} s  {BIG / r:9,.0f} events/s")
    print(f"  ratio ours/bare = {r / o:.2f}  (goal >= 0.8)")


# -- 5. the eventsourcing library -----------------------------------------------------------------


def bench_eventsourcing(store: SQLiteEventStore, work: Path) -> None:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Device(Aggregate):  # the same state as our Device decider, in the library's idiom
        def __init__(self, device_id: str, name: str, kind: str, owner: str) -> None:
            self.device_id, self.name, self.kind, self.owner = device_id, name, kind, owner
            self.status, self.peers = "active", []
            self.calls_in = self.calls_out = self.call_seconds = 0
            self.last_call: dict[str, Any] | None = None

        @event(dev.CALL_REPORTED)
        def report_call(self, direction: str, number: str, duration_s: int, occurred_at: str) -> None:
            if direction == "in":
                self.calls_in += 1
            else:
                self.calls_out += 1
            self.call_seconds += duration_s
            self.last_call = {"direction": direction, "number": number, "duration_s": duration_s,
                              "occurred_at": occurred_at}

        @event(dev.DEVICE_CONNECTED)
        def connect(self, peer_id: str) -> None:
            self.peers = sorted({*self.peers, peer_id})

        @event(dev.DEVICE_DISCONNECTED)
        def disconnect(self, peer_id: str) -> None:
            self.peers = [p for p in self.peers if p != peer_id]

        @event(dev.DEVICE_RENAMED)
        def rename(self, name: str) -> None:
            self.name = name

    app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                           "SQLITE_DBNAME": str(work / "eventsourcing.sqlite")})
    events = iter(store.read_stream_data(MID_STREAM))
    _v, _t, first = next(events)
    aggregate = Device(**first)
    methods = {dev.CALL_REPORTED: aggregate.report_call, dev.DEVICE_CONNECTED: aggregate.connect,
               dev.DEVICE_DISCONNECTED: aggregate.disconnect, dev.DEVICE_RENAMED: aggregate.rename}
    for _v, event_type, data in events:
        methods[event_type](**data)
    app.save(aggregate)
    theirs_t, ours_t, snap_t = [], [], []
    cold = TimeTravel(store, None)
    warm = TimeTravel(store, ReadDatabase(work / "snapshots-es.sqlite"))
    warm.state_at(MID_STREAM)
    for _ in range(3):
        started = time.perf_counter()
        rebuilt = app.repository.get(aggregate.id)
        theirs_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        ours = cold.state_at(MID_STREAM)
        ours_t.append(time.perf_counter() - started)
    for _ in range(31):  # sub-millisecond: many samples, or one scheduler hiccup decides the median
        started = time.perf_counter()
        warm.state_at(MID_STREAM, version=MID - 1)
        snap_t.append(time.perf_counter() - started)
    assert rebuilt.version == MID and rebuilt.calls_in == ours.state["calls_in"]
    t, o, s = statistics.median(theirs_t), statistics.median(ours_t), statistics.median(snap_t)
    print(f"one aggregate of {MID:,} events rebuilt (median of 3):")
    print(f"  eventsourcing {importlib.metadata.version('eventsourcing')} (its SQLite store, no snapshots) "
          f"{t:6.2f} s  {MID / t:9,.0f} events/s")
    print(f"  ours, state_at without snapshots  {o:6.2f} s  {MID / o:9,.0f} events/s  -> {t / o:.1f}x faster")
    print(f"  ours, state_at with snapshots     {ms(s)} (median of 31)  -> {t / s:,.0f}x faster")


# -- 6. the demo generator --------------------------------------------------------------------------


def bench_demo(work: Path) -> None:
    n = 100_000
    with SQLiteEventStore.create(work / "demo.evstore") as store:
        started = time.perf_counter()
        summary = generate_demo(store, devices=500, events=n, days=30, seed=1)
        took = time.perf_counter() - started
    print(f"demo generator: {summary.events:,} events in {took:.1f} s = {summary.events / took:,.0f} events/s "
          f"(1M events: about {1_000_000 / (summary.events / took) / 60:.1f} min)")


def main(argv: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=BENCH_DIR if BENCH_DIR.exists() else None))
    try:
        print(f"# command: python3 tasks.py bench store   ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", flush=True)
        bench_demo(work)
        ours = bench_append(work)
        ours.close()
        for name in ("ours.evstore", "raw.evstore"):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{work / name}{suffix}").unlink(missing_ok=True)
        with SQLiteEventStore.open(single_stream_store(), read_only=True) as store:
            bench_state_at(store, work)
            bench_replay(store)
            bench_eventsourcing(store, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
