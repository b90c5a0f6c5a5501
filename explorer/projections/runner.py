"""The projection runner: feeds events in position order to read models in the read database.

A projection (read model) is a name, a version, the event types it handles, `setup(tx)` and
`apply(batch, tx)`. Its tables live in the read database (never in the event store) under a
per-generation prefix (`registry_g3_devices`), so a rebuild builds a new generation beside the
live one and swaps it in one transaction: readers keep the old model until the new one is complete.

The checkpoint of a generation is written in the same transaction as the batch it applied, so a
kill at any moment resumes with nothing applied twice and nothing missed.

Projections get `Fact`s, not `RecordedEvent`s: the runner reads the store's raw rows and decodes
only each event's data, once for every projection (a build spends most of its time per event, and
the metadata, the datetime and the 11-field record are what the read models never look at).

A projection's secondary indexes (`Projection.indexes`, e.g. (device_key, position)) are made at
the end of a build from nothing, not kept up to date row by row: per-device keys take their inserts
at thousands of places in the index, which cost SQLite about three times the insert of the row
itself; one CREATE INDEX after the load is a sort. A generation therefore has its indexes except
while one run builds it from position 1, or after such a run was stopped or killed (a stop ends at
once, e.g. at app close): the next run makes them before it applies anything, because resuming
reads through them. Queries check `has_indexes`
and answer an unindexed generation with one scan instead of a seek per device.

Every write transaction of the read database starts as `BEGIN IMMEDIATE`: it takes the write lock
first, waiting on the busy handler while another connection (the app's snapshot writes, a second
runner) holds it. A transaction that starts as a read and then writes would get SQLITE_BUSY at once
instead - SQLite does not wait for a lock upgrade, to avoid deadlock - in the middle of a
projection's apply. A busy or locked read database is a transient condition of the database, never
an event's failure: the batch rolls back and is tried again, and if the lock stays taken the run
ends with `ReadDatabaseBusy` (the runner's error) and nothing recorded against any projection.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, TypeVar

import apsw
import orjson

from explorer.store.base import EventStore
from explorer.store.readdb import ReadDatabase, write_transaction
from explorer.store.sqlite import from_us, to_us

log = logging.getLogger(__name__)

BATCH_SIZE = 20000
# Tries of one write transaction while the read database is locked; each waits the connection's
# busy timeout (5 s by default) for the lock, so a run gives up after about 15 s of a lock held throughout.
BUSY_ATTEMPTS = 3
T = TypeVar("T")
Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS projection_generations (
    name TEXT NOT NULL,
    generation INTEGER NOT NULL,
    version INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('live', 'building')),
    checkpoint INTEGER NOT NULL DEFAULT 0,
    checkpoint_recorded_us INTEGER,
    failed_position INTEGER,
    failed_type TEXT,
    failed_error TEXT,
    started_us INTEGER NOT NULL,
    PRIMARY KEY (name, generation)
)
"""

LIVE, CATCHING_UP, REBUILDING, FAILED, EMPTY = "live", "catching-up", "rebuilding", "failed", "not built"


class Fact(NamedTuple):
    """What a projection gets of one event (a tuple: hot loops unpack it).

    Attributes:
        position: the event's place in the store.
        stream_id / type: its stream and event type.
        recorded_us: when the store took it, microseconds since the Unix epoch (UTC).
        data: the decoded data object ({} when the stored data is not a JSON object).
    """

    position: int
    stream_id: str
    type: str
    recorded_us: int
    data: dict[str, Any]

    @property
    def recorded_at(self) -> datetime:
        return from_us(self.recorded_us)


_new_fact = tuple.__new__  # Fact(...) calls a Python-level __new__; this makes the same tuple faster


def facts_of(rows: Iterable[tuple[Any, ...]]) -> list[Fact]:
    """Facts of raw store rows (position, stream_id, stream_type, version, type, recorded_us,
    event_id, data, metadata, chain_hash), decoding only the data, as `read_all` does: data that
    is not a JSON object becomes {}."""
    out: list[Fact] = []
    append, loads = out.append, orjson.loads
    for position, stream_id, _stype, _version, etype, recorded_us, _eid, data, _meta, _hash in rows:
        try:
            value = loads(data)
        except (orjson.JSONDecodeError, TypeError):
            value = {}
        if value.__class__ is not dict:
            value = {}
        append(_new_fact(Fact, (position, stream_id, etype, recorded_us, value)))
    return out


class Projection:
    """A read model's definition; subclasses set the class attributes and the two methods.

    The runner makes one instance per generation with the table prefix of that generation;
    every table name the projection uses starts with `self.prefix`.

    Attributes:
        name: stable id, also the table name stem.
        title: words for people.
        version: bump when the code changes what the tables hold: the runner then rebuilds.
        event_types: the event types `apply` gets (others only move the checkpoint).
        tables: the table names (without prefix) `drop` removes.
        indexes: secondary indexes, name -> "table (columns)" (without prefix), that `setup` does
            not make: the runner makes them (`create_indexes`) once a build from nothing is done.
        prefix: this generation's table prefix.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    version: ClassVar[int] = 1
    event_types: ClassVar[tuple[str, ...]] = ()
    tables: ClassVar[tuple[str, ...]] = ()
    indexes: ClassVar[dict[str, str]] = {}

    def __init__(self, *, prefix: str) -> None:
        self.prefix = prefix

    def setup(self, tx: apsw.Connection) -> None:
        """Create this generation's tables (idempotent)."""
        raise NotImplementedError

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        """Apply events (already filtered to `event_types`, in position order) inside the
        runner's transaction."""
        raise NotImplementedError

    def create_indexes(self, tx: apsw.Connection) -> None:
        """Make the `indexes` this generation lacks."""
        missing = set(self.indexes) - _index_names(tx, self.prefix)
        for name in sorted(missing):
            tx.execute(f"CREATE INDEX IF NOT EXISTS {self.prefix}{name} ON {self.prefix}{self.indexes[name]}")

    def discard_caches(self) -> None:
        """Forget in-memory caches (the runner calls it after a rollback)."""

    def drop(self, tx: apsw.Connection) -> None:
        for table in self.tables:
            tx.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}")
        # Whatever is left under the prefix (e.g. the content table SQLite 3.54 keeps after dropping
        # an FTS5 table made with contentless_unindexed=1) goes too: nothing of a dropped generation stays.
        pattern = self.prefix.replace("_", "\\_") + "%"
        for (table,) in tx.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'",
                                   (pattern,)).fetchall():
            tx.execute(f'DROP TABLE IF EXISTS "{table}"')


def prefix_of(name: str, generation: int) -> str:
    return f"{name}_g{generation}_"


def _index_names(db: apsw.Connection, prefix: str) -> set[str]:
    """The names (without prefix) of the indexes of the tables under `prefix`."""
    pattern = prefix.replace("_", "\\_") + "%"
    return {r[0][len(prefix):] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE ? ESCAPE '\\'", (pattern,))}


def has_indexes(readdb: ReadDatabase, prefix: str, projection: type[Projection]) -> bool:
    """Whether the generation under `prefix` has every index of `projection` (it lacks them while
    a build from nothing is under way): queries pick a plan that suits either."""
    return set(projection.indexes) <= _index_names(readdb.db, prefix)


@dataclass(frozen=True, slots=True)
class Failure:
    """The event that stopped a projection."""

    position: int
    type: str
    error: str


def format_lag(seconds: float) -> str:
    """A lag in time for people: "42 s", "3.5 min", "2.0 h", "1.5 d"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """Where one read model stands.

    Attributes:
        name / title / version: the projection (version of the live generation's code).
        state: "live", "catching-up", "rebuilding", "failed" or "not built".
        checkpoint: last applied position of the live generation (0 when none).
        head: the store's head as last seen.
        lag_events: head - checkpoint.
        lag_seconds: recorded time of the head minus that of the checkpoint event.
        events_per_second: the rate of the last catch-up or rebuild run, 0 when idle.
        rebuild_checkpoint: the building generation's checkpoint, or None when not rebuilding.
        failure: the event that stopped it, or None.
        stale_version: True when the live generation was built by another version of the code.
    """

    name: str
    title: str
    version: int
    state: str
    checkpoint: int
    head: int
    lag_events: int
    lag_seconds: float
    events_per_second: float = 0.0
    rebuild_checkpoint: int | None = None
    failure: Failure | None = None
    stale_version: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "title": self.title, "version": self.version, "state": self.state,
            "checkpoint": self.checkpoint, "head": self.head, "lag_events": self.lag_events,
            "lag_seconds": round(self.lag_seconds, 3), "events_per_second": round(self.events_per_second, 1),
            "rebuild_checkpoint": self.rebuild_checkpoint, "stale_version": self.stale_version,
            "failure": None,
        }
        if self.failure is not None:
            out["failure"] = {"position": self.failure.position, "type": self.failure.type,
                              "error": self.failure.error}
        return out


@dataclass(slots=True)
class _Generation:
    projection: Projection
    generation: int
    role: str
    checkpoint: int
    failed: bool
    gone: bool = False  # another process dropped it (swapped out, or a rebuild cancelled): nothing to feed


class RebuildCancelled(Exception):
    """A rebuild was cancelled; the partial generation was dropped, the live one is untouched."""


class ReadDatabaseBusy(apsw.BusyError):
    """The read database stayed locked by another connection through every try: the run ended, the
    unfinished batch rolled back (nothing applied twice or missed next time), no projection failed.

    A subclass of apsw.BusyError, so callers that already retry a busy run keep doing so.
    """


class _CancelledWhileBusy(Exception):
    """The run was cancelled while a write waited for a busy read database: the try rolled back and
    is not made again."""


# SQLITE_BUSY (another connection holds the lock) and SQLITE_LOCKED (a conflict inside this
# connection or its shared cache): conditions of the read database, not of an event.
_TRANSIENT = (apsw.BusyError, apsw.LockedError)


def ensure_schema(readdb: ReadDatabase) -> None:
    readdb.db.execute(STATE_SCHEMA)


def live_prefix(readdb: ReadDatabase, name: str) -> str | None:
    """The table prefix of the live generation of `name`, or None when it was never built."""
    try:
        row = readdb.db.execute(
            "SELECT generation FROM projection_generations WHERE name = ? AND role = 'live'", (name,)
        ).fetchone()
    except apsw.SQLError:  # no state table yet: nothing was ever built
        return None
    return None if row is None else prefix_of(name, row[0])


def live_checkpoint(readdb: ReadDatabase, name: str) -> int:
    try:
        row = readdb.db.execute(
            "SELECT checkpoint FROM projection_generations WHERE name = ? AND role = 'live'", (name,)
        ).fetchone()
    except apsw.SQLError:
        return 0
    return 0 if row is None else int(row[0])


class ProjectionRunner:
    """Keeps a set of projections up to date with one store, in one read database.

    Attributes:
        store: the event store it reads (only reads).
        readdb: the read database it writes.
        projections: the projection classes, by name.
        rates: name -> events/s of the last run that advanced it.
        rate_history: name -> recent events/s samples (for a sparkline).
    """

    def __init__(self, *, store: EventStore, readdb: ReadDatabase,
                 projections: Iterable[type[Projection]], batch_size: int = BATCH_SIZE) -> None:
        self.store = store
        self.readdb = readdb
        self.projections: dict[str, type[Projection]] = {p.name: p for p in projections}
        self.batch_size = batch_size
        self.rates: dict[str, float] = {}
        self.rate_history: dict[str, deque[float]] = {n: deque(maxlen=60) for n in self.projections}
        # Read models are disposable: no fsync (a killed process still loses nothing committed to
        # the WAL; only a power cut could, and then a rebuild restores them).
        readdb.db.execute("PRAGMA synchronous = OFF")
        readdb.db.execute("PRAGMA cache_size = -65536")
        self._bind()

    def _bind(self) -> None:
        """Use the read database only for the history it was built from: if the store's chain hash
        at the position it remembers differs (a diverged copy of the store shares its id and so
        its read database), its read models are dropped and built again (`ReadDatabase.bind`).
        The check is one read; the write lock is taken only when it fails."""
        if not self.readdb.belongs_to(self.store):
            self._write(lambda: self.readdb.bind(self.store))  # logs when it empties the read database
        ensure_schema(self.readdb)

    # -- generations -----------------------------------------------------------------------

    def _rows(self) -> list[tuple[Any, ...]]:
        return self.readdb.db.execute(
            "SELECT name, generation, version, role, checkpoint, failed_position, failed_type, failed_error,"
            " checkpoint_recorded_us FROM projection_generations ORDER BY name, generation"
        ).fetchall()

    def _start_generation(self, name: str, role: str) -> _Generation:
        cls = self.projections[name]
        db = self.readdb.db

        def start() -> _Generation:
            # Another process (the app's child, a CLI command) may have started one since we looked:
            # under the write lock, join it rather than make a second of the same role.
            row = db.execute("SELECT generation, checkpoint, failed_position FROM projection_generations"
                             " WHERE name = ? AND role = ? ORDER BY generation DESC LIMIT 1", (name, role)).fetchone()
            if row is not None:
                return _Generation(cls(prefix=prefix_of(name, row[0])), row[0], role, row[1], row[2] is not None)
            row = db.execute("SELECT max(generation) FROM projection_generations WHERE name = ?",
                             (name,)).fetchone()
            generation = (row[0] or 0) + 1
            projection = cls(prefix=prefix_of(name, generation))
            projection.drop(db)  # leftovers of a generation whose row was lost
            projection.setup(db)
            db.execute(
                "INSERT INTO projection_generations (name, generation, version, role, checkpoint, started_us)"
                " VALUES (?, ?, ?, ?, 0, ?)",
                (name, generation, cls.version, role, int(time.time() * 1e6)),
            )
            return _Generation(projection, generation, role, 0, False)

        return self._write(start)

    def _generations(self, names: Iterable[str] | None = None) -> list[_Generation]:
        """The generations to feed: every live and building one (making missing ones)."""
        wanted = set(self.projections if names is None else names)
        found: list[_Generation] = []
        has_live: set[str] = set()
        for name, generation, version, role, checkpoint, failed, _t, _e, _r in self._rows():
            if name not in wanted or name not in self.projections:
                continue
            cls = self.projections[name]
            if role == "live":
                has_live.add(name)
            found.append(_Generation(cls(prefix=prefix_of(name, generation)), generation, role, checkpoint,
                                     failed is not None))
        for name in sorted(wanted - has_live):
            if name in self.projections:
                found.append(self._start_generation(name, "live"))
        # A live generation built by another version of the code is rebuilt beside.
        building = {g.projection.name for g in found if g.role == "building"}
        versions = {(name, gen): version for name, gen, version, *_ in self._rows()}
        for g in list(found):
            name = g.projection.name
            if (g.role == "live" and name not in building
                    and versions.get((name, g.generation)) != self.projections[name].version):
                found.append(self._start_generation(name, "building"))
                building.add(name)
        return found

    # -- status ----------------------------------------------------------------------------

    def status(self) -> list[ProjectionStatus]:
        """One status per projection, from the state table and the store's head."""
        self._bind()  # a checkpoint of another history (even one past the head) never shows as live
        head = self.store.head()
        head_us = _us(head.recorded_at)
        rows = self._rows()
        out = []
        for name, cls in self.projections.items():
            live = [r for r in rows if r[0] == name and r[3] == "live"]
            building = [r for r in rows if r[0] == name and r[3] == "building"]
            if not live:
                out.append(ProjectionStatus(name, cls.title, cls.version, EMPTY, 0, head.position,
                                            head.position, 0.0, self.rates.get(name, 0.0)))
                continue
            _n, _g, version, _role, checkpoint, fpos, ftype, ferr, cp_us = live[0]
            failure = Failure(fpos, ftype or "", ferr or "") if fpos is not None else None
            if failure is None and building and building[0][5] is not None:
                b = building[0]
                failure = Failure(b[5], b[6] or "", b[7] or "")
            lag_seconds = 0.0
            if head_us is not None and checkpoint < head.position:
                lag_seconds = max(0.0, (head_us - (cp_us if cp_us is not None else self._first_us())) / 1e6)
            if failure is not None:
                state = FAILED
            elif building:
                state = REBUILDING
            elif checkpoint < head.position:
                state = CATCHING_UP
            else:
                state = LIVE
            out.append(ProjectionStatus(
                name, cls.title, version, state, checkpoint, head.position, max(0, head.position - checkpoint),
                lag_seconds, self.rates.get(name, 0.0), building[0][4] if building else None, failure,
                version != cls.version,
            ))
        return out

    def _read(self, start: int, head: int) -> list[Fact]:
        """The events start..head, at most one batch of them."""
        raw = getattr(self.store, "read_raw", None)
        if raw is None:  # a store without raw rows: decode fully, keep what projections get
            return [_new_fact(Fact, (e.position, e.stream_id, e.type, to_us(e.recorded_at), e.data))
                    for e in self.store.read_all(start, to_position=head, limit=self.batch_size)]
        # Positions are gap-free, so a batch is a position range.
        return facts_of(raw(start, min(head, start + self.batch_size - 1)))

    def _first_us(self) -> int:
        for event in self.store.read_all(1, limit=1):
            return _us(event.recorded_at) or 0
        return 0

    def checkpoints(self) -> dict[str, int]:
        """name -> live checkpoint (what the timeline marks)."""
        return {r[0]: r[4] for r in self._rows() if r[3] == "live" and r[0] in self.projections}

    # -- running ---------------------------------------------------------------------------

    def catch_up(self, *, cancelled: Cancelled | None = None, progress: Progress | None = None,
                 names: Iterable[str] | None = None) -> int:
        """Apply every event up to the head to every live and building generation; return how many
        events were read. Building generations that reach the head are swapped in."""
        self._bind()
        gens = self._generations(names)
        return self._feed(gens, cancelled=cancelled, progress=progress)

    def rebuild(self, names: Iterable[str] | None = None, *, cancelled: Cancelled | None = None,
                progress: Progress | None = None) -> None:
        """Rebuild `names` (all by default) beside the live models, then swap each in.

        A rebuild already under way (e.g. one a killed process left) is resumed, not restarted.
        Cancelling drops the partial generations and raises RebuildCancelled.
        """
        names = list(self.projections if names is None else names)
        unknown = [n for n in names if n not in self.projections]
        if unknown:
            raise KeyError(f"no read model named {unknown[0]!r} (known: {', '.join(self.projections)})")
        self._bind()
        gens = self._generations()
        building = {g.projection.name for g in gens if g.role == "building"}
        for name in names:
            if name not in building:
                gens.append(self._start_generation(name, "building"))
        self._feed(gens, cancelled=cancelled, progress=progress, progress_of="building")
        if cancelled is not None and cancelled():
            self.cancel_rebuild(names)
            raise RebuildCancelled("the rebuild was cancelled; the read models are unchanged")

    def cancel_rebuild(self, names: Iterable[str] | None = None) -> None:
        """Drop the building generations of `names` (all by default)."""
        wanted = set(self.projections if names is None else names)
        db = self.readdb.db

        def cancel() -> None:
            for name, generation, *_rest in self._rows():
                if name in wanted and _rest[1] == "building":
                    self.projections[name](prefix=prefix_of(name, generation)).drop(db)
                    db.execute("DELETE FROM projection_generations WHERE name = ? AND generation = ?",
                               (name, generation))

        self._write(cancel)

    def reset_failure(self, name: str) -> None:
        """Forget a failure (after the code was fixed) so the projection runs again."""
        self._write(lambda: self.readdb.db.execute(
            "UPDATE projection_generations SET failed_position = NULL, failed_type = NULL,"
            " failed_error = NULL WHERE name = ?", (name,)))

    # -- write transactions ----------------------------------------------------------------

    def _write(self, body: Callable[[], T], *, rolled_back: Callable[[bool], None] | None = None,
               cancelled: Cancelled | None = None) -> T:
        """`body()` in one write transaction, tried again while the read database is busy or locked
        (each try waits the busy timeout for the lock); ReadDatabaseBusy when it stays so.

        After a try rolled back, `rolled_back(began)` undoes what the caller keeps in memory (`began`:
        whether the transaction had begun, so `body` may have run part way); then a `cancelled()` run
        raises _CancelledWhileBusy instead of waiting again.
        """
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            began = False
            try:
                with write_transaction(self.readdb.db):
                    began = True
                    return body()
            except _TRANSIENT as exc:
                if rolled_back is not None:
                    rolled_back(began)
                if cancelled is not None and cancelled():
                    raise _CancelledWhileBusy from exc
                self._busy(exc, attempt)
        raise AssertionError("unreachable")  # _busy raises on the last attempt

    def _busy(self, exc: apsw.Error, attempt: int) -> None:
        """After a try that found the read database busy or locked (and rolled back): raise
        ReadDatabaseBusy on the last try, else log it and wait a moment before the next."""
        if attempt >= BUSY_ATTEMPTS:
            timeout = self.readdb.db.execute("PRAGMA busy_timeout").fetchone()[0]
            raise ReadDatabaseBusy(
                f"the read database {self.readdb.path} stayed locked by another connection"
                f" ({attempt} tries, each waiting up to {timeout / 1000:g} s): {exc}") from exc
        log.info("read database busy (%s); trying again (%d of %d)", exc, attempt + 1, BUSY_ATTEMPTS)
        time.sleep(0.05 * attempt)  # the busy timeout already waited; this only spaces out LOCKED retries

    def _feed(self, gens: list[_Generation], *, cancelled: Cancelled | None, progress: Progress | None,
              progress_of: str = "any") -> int:
        read = 0
        stopped = False
        started = time.perf_counter()
        types = {g.projection.name: frozenset(g.projection.event_types) for g in gens}
        pool = [g for g in gens if g.role == "building"] if progress_of == "building" else gens
        # A generation that has applied something resumes through its indexes (its caches reload
        # through them): make any a killed build from nothing left missing. Fresh ones go without.
        for g in gens:
            if g.checkpoint > 0:
                self._index(g)
        if progress is not None:  # where it starts: a bar shows 0% (or how far a resumed run was)
            progress(min((g.checkpoint for g in pool), default=0), self.store.head().position)
        while True:
            active = [g for g in gens if not g.failed and not g.gone]
            if not active:
                break
            head = self.store.head().position
            start = min(g.checkpoint for g in active) + 1
            if start > head:
                break
            if cancelled is not None and cancelled():
                stopped = True
                break
            batch = self._read(start, head)
            if not batch:
                break
            last = batch[-1]
            fed = [g for g in active if g.checkpoint < last.position]  # a live model at the head only waits
            if not self._apply_batch(active, batch, types, cancelled):
                stopped = True  # cancelled while the read database was locked: the batch rolled back
                break
            read += len(batch)
            elapsed = time.perf_counter() - started
            rate = read / elapsed if elapsed > 0 else 0.0
            for g in fed:
                self.rates[g.projection.name] = rate
                self.rate_history.setdefault(g.projection.name, deque(maxlen=60)).append(rate)
            self._swap_finished(gens, head)
            if progress is not None:
                done = min((g.checkpoint for g in pool if not g.failed), default=last.position)
                progress(done, head)
        self._swap_finished(gens, self.store.head().position)
        if not stopped:  # a build from nothing is done: its indexes, one sort each
            for g in gens:  # (a stopped run ends at once, e.g. at app close: the next run makes them first)
                self._index(g)
        return read

    def _apply_batch(self, active: list[_Generation], batch: list[Fact], types: dict[str, frozenset[str]],
                     cancelled: Cancelled | None) -> bool:
        """Apply one batch to every active generation in one write transaction, again while the
        read database is busy or locked; False when cancelled while waiting (nothing applied)."""
        db = self.readdb.db
        last_us = batch[-1].recorded_us
        batch_types = {e.type for e in batch}
        before = [(g, g.checkpoint, g.failed, g.role, g.gone) for g in active]
        dirty = False  # a try rolled back after projections had applied part of it

        def apply() -> None:
            self._adopt_others_progress(active)
            for g in active:
                if g.gone or g.failed:
                    continue
                if dirty and g.checkpoint > 0:
                    g.projection.create_indexes(db)  # caches reload through them
                if g.checkpoint >= batch[-1].position:
                    continue
                wanted = types[g.projection.name]
                if g.checkpoint < batch[0].position and batch_types <= wanted:
                    todo = batch  # the usual case: the whole batch, no copy
                else:
                    todo = [e for e in batch if e.position > g.checkpoint and e.type in wanted]
                self._apply(g, todo, batch, last_us)
            hash_at = getattr(self.store, "chain_hash_at", None)
            if hash_at is not None:  # the history these read models are of (see _bind): once a batch
                self.readdb.advance_history(batch[-1].position, hash_at(batch[-1].position))

        def rolled_back(began: bool) -> None:
            # Checkpoints and failures as before the batch; caches that saw part of it are dropped
            # (they reload from the tables).
            nonlocal dirty
            for g, checkpoint, failed, role, gone in before:
                g.checkpoint, g.failed, g.role, g.gone = checkpoint, failed, role, gone
            if began:
                dirty = True
                for g in active:
                    g.projection.discard_caches()

        try:
            self._write(apply, rolled_back=rolled_back, cancelled=cancelled)
        except _CancelledWhileBusy:
            return False
        return True

    def _adopt_others_progress(self, gens: list[_Generation]) -> None:
        """Under the write lock: take each generation's checkpoint, failure and role as the table
        has them. Another process (the app's read-model child, a CLI command) may have applied
        batches, or swapped or dropped a generation, since this runner read them; applying from the
        older checkpoint would apply events twice (the search index failed on a duplicate rowid)."""
        db = self.readdb.db
        rows = {(name, generation): (role, checkpoint, failed) for name, generation, role, checkpoint, failed
                in db.execute("SELECT name, generation, role, checkpoint, failed_position FROM projection_generations")}
        for g in gens:
            row = rows.get((g.projection.name, g.generation))
            if row is None:
                g.gone = True
                continue
            role, checkpoint, failed = row
            g.role, g.failed = role, g.failed or failed is not None
            if checkpoint != g.checkpoint:
                g.checkpoint = checkpoint
                g.projection.discard_caches()  # they saw the tables before the other process's batches
                if checkpoint > 0:
                    g.projection.create_indexes(db)  # caches reload through them

    def _index(self, g: _Generation) -> None:
        projection = g.projection
        if projection.indexes and not set(projection.indexes) <= _index_names(self.readdb.db, projection.prefix):
            self._write(lambda: projection.create_indexes(self.readdb.db))

    def _apply(self, g: _Generation, todo: list[Fact], batch: list[Fact],
               last_us: int | None) -> None:
        db = self.readdb.db
        last_position = batch[-1].position
        try:
            with db:  # a savepoint: a failure undoes only this projection's part of the batch
                if todo:
                    g.projection.apply(todo, db)
                self._save_checkpoint(g, last_position, last_us)
            g.checkpoint = last_position
            return
        except _TRANSIENT:
            raise  # the read database's condition, not the batch's: the whole batch is tried again
        except Exception:  # noqa: BLE001 - find the event that fails, apply the ones before it
            g.projection.discard_caches()
            g.projection.create_indexes(db)  # caches reload through them
        for event in todo:
            try:
                with db:
                    g.projection.apply([event], db)
                    self._save_checkpoint(g, event.position, event.recorded_us)
                g.checkpoint = event.position
            except _TRANSIENT:
                raise  # never an event's failure (see _apply_batch)
            except Exception as exc:  # noqa: BLE001 - recorded and shown; other projections go on
                g.projection.discard_caches()
                # Everything before the failing event is applied (events it does not handle included).
                before = event.position - 1
                if before > g.checkpoint:
                    prior = batch[before - batch[0].position]
                    self._save_checkpoint(g, before, prior.recorded_us)
                    g.checkpoint = before
                log.warning("projection %s failed at position %s", g.projection.name, event.position,
                            exc_info=True)
                db.execute(
                    "UPDATE projection_generations SET failed_position = ?, failed_type = ?, failed_error = ?"
                    " WHERE name = ? AND generation = ?",
                    (event.position, event.type, f"{type(exc).__name__}: {exc}", g.projection.name, g.generation),
                )
                g.failed = True
                return
        # Every event applied alone: the failure came from the batch as a whole; move on.
        with db:  # inside the batch's transaction: a savepoint
            self._save_checkpoint(g, last_position, last_us)
        g.checkpoint = last_position

    def _save_checkpoint(self, g: _Generation, position: int, recorded_us: int | None) -> None:
        self.readdb.db.execute(
            "UPDATE projection_generations SET checkpoint = ?, checkpoint_recorded_us = ?"
            " WHERE name = ? AND generation = ?",
            (position, recorded_us, g.projection.name, g.generation),
        )

    def _swap_finished(self, gens: list[_Generation], head: int) -> None:
        """Swap in each building generation that reached the head (one transaction each)."""
        db = self.readdb.db
        for g in list(gens):
            if g.role != "building" or g.failed or g.gone or g.checkpoint < head:
                continue
            name = g.projection.name

            def swap(g: _Generation = g, name: str = name) -> str | None:
                # The table decides (another process may have swapped it in already): the building
                # generation must still be there, and every other live one of the name goes.
                row = db.execute("SELECT role FROM projection_generations WHERE name = ? AND generation = ?",
                                 (name, g.generation)).fetchone()
                if row is None or row[0] != "building":
                    return None if row is None else str(row[0])
                g.projection.create_indexes(db)  # readers get it complete, indexes included
                for (generation,) in db.execute(
                        "SELECT generation FROM projection_generations WHERE name = ? AND role = 'live'",
                        (name,)).fetchall():
                    self.projections[name](prefix=prefix_of(name, generation)).drop(db)
                    db.execute("DELETE FROM projection_generations WHERE name = ? AND generation = ?",
                               (name, generation))
                db.execute("UPDATE projection_generations SET role = 'live' WHERE name = ? AND generation = ?",
                           (name, g.generation))
                return "live"

            role = self._write(swap)
            if role is None:  # dropped by another process
                g.gone = True
                continue
            for old in [o for o in gens if o.projection.name == name and o is not g and o.role == "live"]:
                gens.remove(old)
            g.role = role


def _us(value: datetime | None) -> int | None:
    return None if value is None else to_us(value)

