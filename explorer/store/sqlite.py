"""The native event store on one SQLite file, through apsw.

One connection per instance: give each thread its own (`clone()`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apsw
import orjson

from explorer.store import chain
from explorer.store.base import Head, VerifyResult
from explorer.store.base_types import ANY, NO_STREAM, ExpectedVersion
from explorer.store.errors import (
    ConcurrencyError,
    StoreError,
    StoreLockedError,
    StoreOpenError,
    StoreReadOnlyError,
)
from explorer.store.records import (
    AppendRequest,
    AppendResult,
    EventFilter,
    NewEvent,
    RecordedEvent,
    StreamInfo,
)
from explorer.store.schema import APPLICATION_ID, MIGRATIONS, USER_VERSION

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_BUSY_TIMEOUT_MS = 5000

Clock = Callable[[], datetime]


def to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware (or UTC-naive) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _ONE_US  # timedelta // timedelta: an exact int


def from_us(value: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch (exact, no float rounding)."""
    return EPOCH + timedelta(microseconds=value)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_EVENT_COLUMNS = (
    "e.position, s.stream_id, s.stream_type, e.version, e.type, e.recorded_at, "
    "e.data, e.metadata, e.event_id, e.chain_hash"
)


def _decode_row(row: tuple[Any, ...]) -> RecordedEvent:
    position, stream_id, stream_type, version, event_type, recorded_at, data, metadata, event_id, chash = row
    problem = None
    try:
        decoded_data = orjson.loads(data)
        if not isinstance(decoded_data, dict):
            raise ValueError("data is not a JSON object")
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        decoded_data, problem = {}, f"event data is not valid JSON ({exc})"
    try:
        decoded_meta = orjson.loads(metadata)
        if not isinstance(decoded_meta, dict):
            raise ValueError("metadata is not a JSON object")
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        decoded_meta = {}
        problem = problem or f"event metadata is not valid JSON ({exc})"
    return RecordedEvent(
        position=position,
        stream_id=stream_id,
        stream_type=stream_type,
        version=version,
        type=event_type,
        recorded_at=from_us(recorded_at),
        data=decoded_data,
        metadata=decoded_meta,
        event_id=event_id,
        chain_hash=chash,
        problem=problem,
    )


def check_sqlite_file(path: Path) -> None:
    """Raise StoreOpenError unless `path` is a whole SQLite file (cheap: reads 100 bytes).

    Not a regular file (a FIFO, a socket, a device) is refused before it is read: reading a FIFO
    blocks until some writer comes, before SQLite could say a word.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise StoreOpenError(f"{path}: no such file") from None
    except OSError as exc:
        raise StoreOpenError(f"{path}: cannot be looked at ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise StoreOpenError(f"{path}: is a directory, not an event store file")
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")
        raise StoreOpenError(f"{path}: is {kind}, not a regular file; a store is an SQLite file")
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except PermissionError:
        raise StoreOpenError(f"{path}: permission denied (the file cannot be read)") from None
    except OSError as exc:
        raise StoreOpenError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(header) == 0:
        raise StoreOpenError(f"{path}: the file is empty, not an event store")
    if not header.startswith(SQLITE_MAGIC):
        raise StoreOpenError(f"{path}: not an SQLite database, so not an event store")
    if len(header) < 100:
        raise StoreOpenError(f"{path}: the SQLite file is truncated (damaged)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter = header[24:28]
    page_count = int.from_bytes(header[28:32], "big")
    # The in-header size is valid only when "version-valid-for" equals the change counter.
    if header[92:96] == change_counter and page_count:
        if path.stat().st_size < page_size * page_count:
            raise StoreOpenError(
                f"{path}: the SQLite file is truncated (damaged): {path.stat().st_size} bytes "
                f"of the {page_size * page_count} its header promises"
            )


class SQLiteEventStore:
    """An event store in one SQLite file.

    Attributes:
        path: the store file.
        read_only: True when opened read-only (no write will ever reach the file).
        immutable: True when opened with SQLite's immutable flag (no live writer may exist).
    """

    def __init__(
        self,
        path: Path,
        connection: apsw.Connection,
        *,
        read_only: bool,
        immutable: bool = False,
        clock: Clock = _utc_now,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        self.path = path
        self._db = connection
        self.read_only = read_only
        self.immutable = immutable
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Clock = _utc_now,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> SQLiteEventStore:
        """Make a new, empty store at `path` (which must not exist)."""
        path = Path(path)
        if path.exists():
            raise StoreOpenError(f"{path}: already exists; refusing to overwrite it")
        if not path.parent.is_dir():
            raise StoreOpenError(f"{path.parent}: no such directory")
        try:
            db = apsw.Connection(str(path))
        except apsw.Error as exc:
            raise StoreOpenError(f"{path}: cannot create the store ({exc})") from None
        db.setbusytimeout(busy_timeout_ms)
        db.execute("PRAGMA journal_mode = WAL")
        with db:
            for version in sorted(MIGRATIONS):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("store_id", str(uuid.uuid4())),
                    ("created_at", chain_time(clock())),
                    ("schema_version", str(USER_VERSION)),
                ],
            )
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {USER_VERSION}")
        db.execute("PRAGMA synchronous = NORMAL")
        return cls(path, db, read_only=False, clock=clock, busy_timeout_ms=busy_timeout_ms)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        migrate: bool = False,
        clock: Clock = _utc_now,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> SQLiteEventStore:
        """Open an existing store; raise StoreOpenError with one clear sentence when it is not one.

        A store of an older schema opens only with `migrate=True` (never when read-only);
        the file is copied to `<name>.bak-v<old>` before it is migrated.
        """
        path = Path(path)
        check_sqlite_file(path)
        if not read_only and not is_writable_location(path):
            raise StoreOpenError(
                f"{path}: the file or its folder is read-only for this user, so nothing can be written to the store"
                " (reading it works)"
            )
        db, immutable = _connect(path, read_only=read_only, busy_timeout_ms=busy_timeout_ms)
        try:
            app_id, user_version = _identify(db, path)
            if user_version > USER_VERSION:
                raise StoreOpenError(
                    f"{path}: the store has schema version {user_version}, newer than the "
                    f"{USER_VERSION} this version of Event Explorer knows; upgrade Event Explorer"
                )
            if user_version < USER_VERSION:
                if read_only or not migrate:
                    raise StoreOpenError(
                        f"{path}: the store has the older schema version {user_version} "
                        f"(current: {USER_VERSION}); run `event-explorer migrate {path}` to upgrade it"
                    )
                db.close()
                _migrate(path, user_version, busy_timeout_ms)
                db, immutable = _connect(path, read_only=False, busy_timeout_ms=busy_timeout_ms)
            if not read_only:
                db.execute("PRAGMA synchronous = NORMAL")
            return cls(path, db, read_only=read_only, immutable=immutable, clock=clock,
                       busy_timeout_ms=busy_timeout_ms)
        except StoreOpenError:
            db.close()
            raise
        except (apsw.BusyError, apsw.LockedError):
            db.close()
            raise StoreLockedError(_held_by_another(path, busy_timeout_ms)) from None
        except apsw.Error as exc:
            db.close()
            raise StoreOpenError(f"{path}: cannot be read as an event store ({_sqlite_message(exc)})") from None

    def clone(self) -> SQLiteEventStore:
        """Another connection to the same store, for another thread."""
        db, immutable = _connect(self.path, read_only=self.read_only, busy_timeout_ms=self._busy_timeout_ms)
        return SQLiteEventStore(self.path, db, read_only=self.read_only, immutable=immutable,
                                clock=self._clock, busy_timeout_ms=self._busy_timeout_ms)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteEventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identity ------------------------------------------------------------------------

    @property
    def store_id(self) -> str:
        return self._meta["store_id"]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def created_at(self) -> str:
        return self._meta.get("created_at", "")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchall()[0][0])

    def data_version(self) -> int:
        """A counter that changes when another connection commits (SQLite's PRAGMA data_version)."""
        return int(self._db.execute("PRAGMA data_version").fetchall()[0][0])

    # -- writing ---------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        stream_type: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion,
    ) -> AppendResult:
        """Append `events` to one stream in one transaction, or raise ConcurrencyError."""
        return self.append_batch([AppendRequest(stream_id, stream_type, tuple(events), expected_version)])[0]

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        """Append to several streams in one transaction: every request is stored or none."""
        if self.read_only:
            raise StoreReadOnlyError(f"{self.path}: the store is open read-only; nothing was written")
        for request in requests:
            _validate_request(request)
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except apsw.BusyError:
            raise StoreLockedError(
                f"{self.path}: another process has held the store's write lock for more than "
                f"{self._busy_timeout_ms / 1000:g} s; nothing was written"
            ) from None
        try:
            results = self._append_in_transaction(requests)
            db.execute("COMMIT")
            return results
        except BaseException as exc:
            db.execute("ROLLBACK")
            if isinstance(exc, apsw.BusyError):
                raise StoreLockedError(f"{self.path}: the store stayed locked; nothing was written") from None
            if isinstance(exc, apsw.Error):
                raise StoreError(f"{self.path}: the append failed ({_sqlite_message(exc)}); nothing was written") from None
            if isinstance(exc, orjson.JSONEncodeError):
                raise StoreError(f"an event's data or metadata cannot be stored as JSON ({exc}); "
                                 "nothing was written") from None
            raise

    def _append_in_transaction(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        db = self._db
        row = db.execute(
            "SELECT position, chain_hash, recorded_at FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        position, chash, last_us = row if row else (0, chain.GENESIS, 0)
        clock_us = to_us(self._clock())
        rows: list[tuple[Any, ...]] = []
        stream_updates: dict[int, tuple[int, int, int]] = {}  # one UPDATE per stream, not per request
        # The batch's view of stream versions: read once for all its streams, then kept current.
        new_streams: dict[str, tuple[int, str, int]] = self._stream_rows({r.stream_id for r in requests})
        results: list[AppendResult] = []
        # The chain of chain.py, inlined: this loop is the append path's hot spot (docs/benchmarks.md).
        # Bytes hashed = previous digest + chain.event_bytes(...); tests check both agree.
        dumps, sort_keys, sha256, new_uuid = orjson.dumps, orjson.OPT_SORT_KEYS, hashlib.sha256, uuid.uuid4
        digest = bytes.fromhex(chash)
        for request in requests:
            stream_id = request.stream_id
            stream_key, stream_type, version = new_streams.get(stream_id, (0, request.stream_type, 0))
            wanted_us = clock_us if request.recorded_at is None else to_us(request.recorded_at)
            if wanted_us > last_us:
                last_us = wanted_us
            now_us = last_us
            if request.expected_version is not ANY:
                _check_expected(stream_id, request.expected_version, version, exists=version > 0)
            if version > 0 and stream_type != request.stream_type:
                raise StoreError(
                    f"stream {stream_id!r} is of type {stream_type!r}, not {request.stream_type!r}"
                )
            if not request.events:
                results.append(AppendResult(stream_id, position + 1, position, version))
                continue
            first_position = position + 1
            if stream_key == 0:
                stream_key = db.execute(
                    "INSERT INTO streams (stream_id, stream_type, version, first_position, last_position)"
                    " VALUES (?, ?, 0, ?, ?) RETURNING stream_key",
                    (stream_id, request.stream_type, first_position, first_position),
                ).fetchone()[0]
            for event in request.events:
                position += 1
                version += 1
                event_id = event.event_id or str(new_uuid())
                data_bytes = dumps(event.data, option=sort_keys)
                meta_bytes = dumps(event.metadata, option=sort_keys)
                head = dumps([position, stream_id, stream_type, version, event.type, now_us, event_id])
                digest = sha256(b"".join((digest, head, b"\n", data_bytes, b"\n", meta_bytes))).digest()
                rows.append((position, stream_key, version, event.type, now_us, data_bytes.decode(),
                             meta_bytes.decode(), event_id, digest.hex()))
            new_streams[request.stream_id] = (stream_key, stream_type, version)
            stream_updates[stream_key] = (version, position, stream_key)
            results.append(AppendResult(request.stream_id, first_position, position, version))
        db.executemany(
            "INSERT INTO events (position, stream_key, version, type, recorded_at, data, metadata,"
            " event_id, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "UPDATE streams SET version = ?, last_position = ? WHERE stream_key = ?", stream_updates.values()
        )
        return results

    def _stream_rows(self, stream_ids: set[str]) -> dict[str, tuple[int, str, int]]:
        found: dict[str, tuple[int, str, int]] = {}
        ids = list(stream_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for sid, key, stype, version in self._db.execute(
                "SELECT stream_id, stream_key, stream_type, version FROM streams"
                f" WHERE stream_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                found[sid] = (key, stype, version)
        return found

    # -- reading ---------------------------------------------------------------------------

    def head(self) -> Head:
        row = self._db.execute(
            "SELECT position, chain_hash, recorded_at FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return Head(0, chain.GENESIS, None)
        return Head(row[0], row[1], from_us(row[2]))

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> Iterator[RecordedEvent]:
        """The stream's events with from_version <= version <= to_version, in order."""
        upper = to_version if to_version is not None else 2**62
        cursor = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM streams s JOIN events e ON e.stream_key = s.stream_key"
            " WHERE s.stream_id = ? AND e.version BETWEEN ? AND ? ORDER BY e.version",
            (stream_id, from_version, upper),
        )
        for row in cursor:
            yield _decode_row(row)

    def read_stream_data(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """The fast path of a fold: (version, type, data) only, data decoded."""
        upper = to_version if to_version is not None else 2**62
        key = self._stream_key(stream_id)
        if key is None:
            return
        loads = orjson.loads
        for version, event_type, data in self._db.execute(
            "SELECT version, type, data FROM events WHERE stream_key = ? AND version BETWEEN ? AND ?"
            " ORDER BY version",
            (key, from_version, upper),
        ):
            try:
                decoded = loads(data)
            except orjson.JSONDecodeError:
                decoded = {}
            yield version, event_type, decoded if isinstance(decoded, dict) else {}

    def read_all(
        self,
        from_position: int = 1,
        to_position: int | None = None,
        limit: int | None = None,
        filters: EventFilter | None = None,
    ) -> Iterator[RecordedEvent]:
        """Events in position order from `from_position`, filtered, at most `limit` of them."""
        where, params = _filter_sql(from_position, to_position, filters)
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM events e JOIN streams s ON s.stream_key = e.stream_key"
            f" WHERE {where} ORDER BY e.position"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for row in self._db.execute(sql, params):
            yield _decode_row(row)

    def positions(
        self,
        from_position: int = 1,
        to_position: int | None = None,
        filters: EventFilter | None = None,
        limit: int | None = None,
    ) -> list[int]:
        """Only the positions that match: what a lazy table model holds."""
        where, params = _filter_sql(from_position, to_position, filters)
        join = " JOIN streams s ON s.stream_key = e.stream_key" if filters and (
            filters.stream_types or filters.stream_ids) else ""
        sql = f"SELECT e.position FROM events e{join} WHERE {where} ORDER BY e.position"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [row[0] for row in self._db.execute(sql, params)]

    def events_at(self, positions: Sequence[int]) -> list[RecordedEvent]:
        """The events at the given positions (one page of a lazy table), in position order."""
        if not positions:
            return []
        marks = ",".join("?" * len(positions))
        return [
            _decode_row(row)
            for row in self._db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events e JOIN streams s ON s.stream_key = e.stream_key"
                f" WHERE e.position IN ({marks}) ORDER BY e.position",
                tuple(positions),
            )
        ]

    def streams(
        self, stream_type: str | None = None, offset: int = 0, limit: int | None = None, prefix: str = ""
    ) -> list[StreamInfo]:
        """Streams ordered by id, optionally of one type and starting with `prefix`, paged."""
        clauses, params = [], []
        if stream_type is not None:
            clauses.append("stream_type = ?")
            params.append(stream_type)
        if prefix:
            clauses.append("stream_id >= ? AND stream_id < ?")
            params += [prefix, prefix + "\U0010ffff"]
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        sql = (
            "SELECT stream_id, stream_type, version, first_position, last_position FROM streams"
            f"{where} ORDER BY stream_id LIMIT ? OFFSET ?"
        )
        params += [limit if limit is not None else -1, offset]
        return [StreamInfo(*row) for row in self._db.execute(sql, params)]

    def stream_info(self, stream_id: str) -> StreamInfo | None:
        row = self._db.execute(
            "SELECT stream_id, stream_type, version, first_position, last_position FROM streams"
            " WHERE stream_id = ?",
            (stream_id,),
        ).fetchone()
        if row is None:
            return None
        times = self._db.execute(
            "SELECT (SELECT recorded_at FROM events WHERE position = ?),"
            " (SELECT recorded_at FROM events WHERE position = ?)",
            (row[3], row[4]),
        ).fetchone()
        return StreamInfo(*row, first_recorded_at=from_us(times[0]) if times[0] is not None else None,
                          last_recorded_at=from_us(times[1]) if times[1] is not None else None)

    def count_streams(self, stream_type: str | None = None) -> int:
        if stream_type is None:
            return int(self._db.execute("SELECT count(*) FROM streams").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM streams WHERE stream_type = ?",
                                    (stream_type,)).fetchone()[0])

    def count_events_of(self, stream_ids: Sequence[str], from_position: int, to_position: int) -> int:
        """How many events of `stream_ids` lie in [from_position, to_position] (one covering-index
        search per stream; unknown streams count nothing)."""
        keys = [k for k in (self._stream_key(s) for s in stream_ids) if k is not None]
        if not keys or to_position < from_position:
            return 0
        return int(self._db.execute(
            f"SELECT count(*) FROM events WHERE stream_key IN ({','.join('?' * len(keys))})"
            " AND position BETWEEN ? AND ?", [*keys, from_position, to_position]).fetchone()[0])

    def counts_by_stream_type(self) -> dict[str, tuple[int, int]]:
        """stream type -> (streams, events)."""
        return {
            t: (n, e)
            for t, n, e in self._db.execute(
                "SELECT stream_type, count(*), sum(version) FROM streams GROUP BY stream_type ORDER BY stream_type"
            )
        }

    def counts_by_event_type(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT type, count(*) FROM events GROUP BY type ORDER BY type"))

    def types_between(self, first: int, last: int) -> tuple[set[str], set[str]]:
        """(event types, stream types) of the events at positions first..last: one pass over the
        range's index entries in SQLite, no event read into Python."""
        rows = self._db.execute(
            "SELECT DISTINCT e.type, s.stream_type FROM events e JOIN streams s ON s.stream_key = e.stream_key"
            " WHERE e.position BETWEEN ? AND ?", (first, last)).fetchall()
        return {r[0] for r in rows}, {r[1] for r in rows}

    def time_span(self) -> tuple[datetime, datetime] | None:
        row = self._db.execute(
            "SELECT (SELECT recorded_at FROM events ORDER BY position LIMIT 1),"
            " (SELECT recorded_at FROM events ORDER BY position DESC LIMIT 1)"
        ).fetchone()
        if row[0] is None:
            return None
        return from_us(row[0]), from_us(row[1])

    def histogram(self, start: datetime, end: datetime, buckets: int) -> list[int]:
        """Events per equal time bucket between start and end (one indexed GROUP BY)."""
        lo, hi = to_us(start), to_us(end)
        width = max(1, -(-(hi - lo + 1) // buckets))
        counts = [0] * buckets
        for bucket, n in self._db.execute(
            "SELECT (recorded_at - ?) / ?, count(*) FROM events WHERE recorded_at BETWEEN ? AND ? GROUP BY 1",
            (lo, width, lo, hi),
        ):
            if 0 <= bucket < buckets:
                counts[bucket] += n
        return counts

    def position_at_time(self, when: datetime) -> int:
        """The last position recorded at or before `when` (0 before the first event)."""
        row = self._db.execute(
            "SELECT position FROM events WHERE recorded_at <= ? ORDER BY recorded_at DESC, position DESC LIMIT 1",
            (to_us(when),),
        ).fetchone()
        return int(row[0]) if row else 0

    def stream_version_at(self, stream_id: str, position: int) -> int:
        """The stream's version as of `position` (0 if it had no event yet).

        Versions grow with positions inside a stream, so a binary search over the
        (stream, version) index answers in ~log2(n) point lookups.
        """
        row = self._db.execute(
            "SELECT stream_key, version, first_position, last_position FROM streams WHERE stream_id = ?",
            (stream_id,),
        ).fetchone()
        if row is None:
            return 0
        key, version, first_position, last_position = row
        if position >= last_position:
            return int(version)
        if position < first_position:
            return 0
        lo, hi = 1, int(version)  # invariant: position_of(lo) <= position < position_of(hi)
        query = "SELECT position FROM events WHERE stream_key = ? AND version = ?"
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._db.execute(query, (key, mid)).fetchone()[0] <= position:
                lo = mid
            else:
                hi = mid
        return lo

    def _stream_key(self, stream_id: str) -> int | None:
        row = self._db.execute("SELECT stream_key FROM streams WHERE stream_id = ?", (stream_id,)).fetchone()
        return None if row is None else int(row[0])

    # -- checking --------------------------------------------------------------------------

    def read_raw(
        self, from_position: int = 1, to_position: int | None = None, stream_ids: Sequence[str] | None = None
    ) -> Iterator[tuple[int, str, str, int, str, int, str, str, str, str]]:
        """Events exactly as stored, for hashing: (position, stream_id, stream_type, version, type,
        recorded_at_us, event_id, data_text, metadata_text, chain_hash), in position order.

        Audit reports hash these bytes (never a decoded and re-encoded copy), so any change to a
        stored byte shows. `stream_ids` limits the rows to those streams (None: every stream).
        """
        clauses, params = ["e.position >= ?"], [from_position]
        if to_position is not None:
            clauses.append("e.position <= ?")
            params.append(to_position)
        if stream_ids is not None:
            keys = [k for k in (self._stream_key(s) for s in stream_ids) if k is not None]
            if not keys:
                return
            clauses.append(f"e.stream_key IN ({','.join('?' * len(keys))})")
            params += keys
        cursor = self._db.execute(
            "SELECT e.position, s.stream_id, s.stream_type, e.version, e.type, e.recorded_at,"
            " e.event_id, e.data, e.metadata, e.chain_hash"
            " FROM events e JOIN streams s ON s.stream_key = e.stream_key"
            f" WHERE {' AND '.join(clauses)} ORDER BY e.position",
            params,
        )
        for position, sid, stype, version, etype, rec_us, eid, data, meta, chash in cursor:
            yield position, sid, stype, version, etype, rec_us, eid, str(data), str(meta), chash

    def chain_hash_at(self, position: int) -> str | None:
        """The stored chain hash of `position` (the genesis hash for 0), or None if there is none."""
        if position <= 0:
            return chain.GENESIS
        row = self._db.execute("SELECT chain_hash FROM events WHERE position = ?", (position,)).fetchone()
        return None if row is None else str(row[0])

    def chain_hashes_in_stream(self, stream_id: str, versions: Sequence[int]) -> dict[int, tuple[int, str]]:
        """{version: (position, chain hash)} of the stream's events at `versions` (one query;
        versions it does not have are left out). Snapshots record these to be checked later."""
        key = self._stream_key(stream_id)
        if key is None or not versions:
            return {}
        rows = self._db.execute(
            "SELECT version, position, chain_hash FROM events WHERE stream_key = ?"
            " AND version IN (SELECT value FROM json_each(?))",
            (key, orjson.dumps([int(v) for v in versions]).decode()),
        )
        return {int(version): (int(position), str(chash)) for version, position, chash in rows}

    def recorded_at_of(self, position: int) -> datetime | None:
        """When `position` was recorded, or None if there is no such event (one indexed lookup)."""
        row = self._db.execute("SELECT recorded_at FROM events WHERE position = ?", (position,)).fetchone()
        return None if row is None else from_us(row[0])

    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyResult:
        """Run SQLite's integrity_check, then recompute the chain; name the first bad position."""
        try:
            return self._verify(progress)
        except (apsw.CorruptError, apsw.NotADBError) as exc:  # too damaged for integrity_check to finish
            return VerifyResult(False, 0, "", None, f"SQLite integrity_check failed: {_sqlite_message(exc)}")

    def _verify(self, progress: Callable[[int, int], None] | None) -> VerifyResult:
        problems = [r[0] for r in self._db.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            return VerifyResult(False, 0, "", None, "SQLite integrity_check failed: " + "; ".join(problems[:3]))
        head = self.head().position
        expected = 1
        chash = chain.GENESIS
        cursor = self._db.execute(
            "SELECT e.position, s.stream_id, s.stream_type, e.version, e.type, e.recorded_at,"
            " e.event_id, e.data, e.metadata, e.chain_hash"
            " FROM events e JOIN streams s ON s.stream_key = e.stream_key ORDER BY e.position"
        )
        event_bytes, next_hash = chain.event_bytes, chain.next_hash
        for position, sid, stype, version, etype, rec_us, eid, data, meta, stored in cursor:
            if position != expected:
                return VerifyResult(False, expected - 1, chash, expected,
                                    f"position {expected} is missing (the next event is at {position})")
            chash = next_hash(chash, event_bytes(position, sid, stype, version, etype, rec_us, eid,
                                                 str(data), str(meta)))
            if chash != stored:
                return VerifyResult(False, position - 1, chash, position,
                                    f"the chain hash of position {position} does not match its content")
            if progress is not None and position % 50_000 == 0:
                progress(position, head)
            expected += 1
        return VerifyResult(True, expected - 1, chash, None, "")

    def meta(self) -> dict[str, str]:
        return dict(self._meta)


def chain_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- helpers of this module ---------------------------------------------------------------


def _connect(path: Path, *, read_only: bool, busy_timeout_ms: int) -> tuple[apsw.Connection, bool]:
    """Open a connection; a read-only open falls back to `immutable=1` where `mode=ro` cannot work."""
    uri = f"file:{_quote(path.resolve().as_posix())}"
    if not read_only or is_writable_location(path):
        try:
            db = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READWRITE)
        except apsw.Error as exc:
            raise StoreOpenError(f"{path}: cannot be opened ({_sqlite_message(exc)})") from None
        db.setbusytimeout(busy_timeout_ms)
        if not read_only:
            return db, False
        # Where the user may write anyway, a read-only open is a read-write connection that refuses
        # every change (query_only): SQLite then removes its -wal and -shm files when the last
        # connection closes, so reading leaves the folder as it was. `mode=ro` cannot remove them.
        db.execute("PRAGMA query_only = ON")
        try:
            return _schema_read(db, path, busy_timeout_ms), False
        except (apsw.ReadOnlyError, apsw.CantOpenError):
            pass  # e.g. a -shm another user left: read as below
    try:
        db = apsw.Connection(f"{uri}?mode=ro", flags=apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READONLY)
        db.setbusytimeout(busy_timeout_ms)
        return _schema_read(db, path, busy_timeout_ms), False
    except (apsw.ReadOnlyError, apsw.CantOpenError):
        # WAL store in a read-only place with no -shm beside it: only an immutable open reads it
        # without creating files. Safe as long as no writer is live, which a read-only place implies.
        pass
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # An immutable open reads the main file only: events committed into the -wal (a writer
        # that ended without a checkpoint) would be silently missing. Refuse rather than answer wrong.
        raise StoreOpenError(
            f"{path}: its -wal file holds changes that cannot be read in a read-only folder without its -shm "
            "file; open it once where the folder is writable (SQLite then merges the -wal), or copy the store "
            "with its -wal and -shm files")
    try:
        db = apsw.Connection(f"{uri}?mode=ro&immutable=1", flags=apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READONLY)
        db.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return db, True
    except apsw.Error as exc:
        raise StoreOpenError(f"{path}: cannot be opened read-only ({_sqlite_message(exc)})") from None


def _schema_read(db: apsw.Connection, path: Path, busy_timeout_ms: int) -> apsw.Connection:
    """`db` once it has read the schema, so a locked or damaged file shows at the open: a
    StoreLockedError or StoreOpenError, or apsw's ReadOnlyError / CantOpenError for the caller to
    try another way (`db` is closed on every error)."""
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return db
    except BaseException as exc:
        db.close()
        if isinstance(exc, apsw.BusyError | apsw.LockedError):
            raise StoreLockedError(_held_by_another(path, busy_timeout_ms)) from None
        if isinstance(exc, apsw.Error) and not isinstance(exc, apsw.ReadOnlyError | apsw.CantOpenError):
            raise StoreOpenError(f"{path}: the SQLite file is damaged ({_sqlite_message(exc)})") from None
        raise


def _held_by_another(path: Path, busy_timeout_ms: int) -> str:
    return (f"{path}: locked by another process for more than {busy_timeout_ms / 1000:g} s (it holds the whole "
            "file, e.g. an exclusive lock or a VACUUM); nothing was read or written, try again when it is done")


def _quote(path: str) -> str:
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _identify(db: apsw.Connection, path: Path) -> tuple[int, int]:
    try:
        app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
        user_version = int(db.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except (apsw.NotADBError, apsw.CorruptError):
        raise StoreOpenError(f"{path}: the SQLite file is damaged (not a readable database)") from None
    if app_id != APPLICATION_ID:
        if not tables:
            raise StoreOpenError(f"{path}: an empty SQLite database, not an event store")
        raise StoreOpenError(
            f"{path}: an SQLite database, but not an Event Explorer store (its tables: "
            f"{', '.join(sorted(tables)[:5])})"
        )
    if user_version >= 1 and not {"events", "streams", "meta"} <= tables:
        raise StoreOpenError(f"{path}: marked as an event store, but its tables are missing (damaged)")
    return app_id, user_version


def _migrate(path: Path, from_version: int, busy_timeout_ms: int) -> None:
    backup = path.with_name(f"{path.name}.bak-v{from_version}")
    db = apsw.Connection(str(path))
    db.setbusytimeout(busy_timeout_ms)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy2(path, backup)
        with db:
            for version in range(from_version + 1, USER_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                           (str(version),))
            db.execute(f"PRAGMA user_version = {USER_VERSION}")
    except apsw.Error as exc:
        raise StoreOpenError(f"{path}: migration failed ({_sqlite_message(exc)}); the store is unchanged") from None
    finally:
        db.close()


def _validate_request(request: AppendRequest) -> None:
    ev = request.expected_version
    if request.stream_id and request.stream_type and (type(ev) is int and ev >= 0 or ev is ANY or ev is NO_STREAM):
        # the common case, cheaply (this runs once per request on the append path)
        for event in request.events:
            if not (event.type and type(event.data) is dict and type(event.metadata) is dict):
                break
        else:
            return
    if not request.stream_id:
        raise StoreError("a stream id must not be empty")
    if not request.stream_type:
        raise StoreError(f"stream {request.stream_id!r}: a stream type must not be empty")
    ev = request.expected_version
    if not (ev is ANY or ev is NO_STREAM or (isinstance(ev, int) and not isinstance(ev, bool) and ev >= 0)):
        raise StoreError(f"expected_version must be an int >= 0, NO_STREAM or ANY, not {ev!r}")
    for event in request.events:
        if not event.type:
            raise StoreError(f"stream {request.stream_id!r}: an event type must not be empty")
        if not isinstance(event.data, dict) or not isinstance(event.metadata, dict):
            raise StoreError(f"stream {request.stream_id!r}: data and metadata must be JSON objects")


def _check_expected(stream_id: str, expected: ExpectedVersion, actual: int, *, exists: bool) -> None:
    if expected is ANY:
        return
    if expected is NO_STREAM:
        if exists:
            raise ConcurrencyError(stream_id, expected, actual)
        return
    if expected != actual:
        raise ConcurrencyError(stream_id, expected, actual)


def _filter_sql(
    from_position: int, to_position: int | None, filters: EventFilter | None
) -> tuple[str, list[Any]]:
    clauses = ["e.position >= ?"]
    params: list[Any] = [from_position]
    if to_position is not None:
        clauses.append("e.position <= ?")
        params.append(to_position)
    if filters is not None:
        if filters.stream_types:
            clauses.append(f"s.stream_type IN ({','.join('?' * len(filters.stream_types))})")
            params += filters.stream_types
        if filters.stream_ids:
            clauses.append(f"s.stream_id IN ({','.join('?' * len(filters.stream_ids))})")
            params += filters.stream_ids
        if filters.event_types:
            clauses.append(f"e.type IN ({','.join('?' * len(filters.event_types))})")
            params += filters.event_types
        if filters.since is not None:
            clauses.append("e.recorded_at >= ?")
            params.append(to_us(filters.since))
        if filters.until is not None:
            clauses.append("e.recorded_at <= ?")
            params.append(to_us(filters.until))
    return " AND ".join(clauses), params


def _sqlite_message(exc: BaseException) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def is_writable_location(path: Path) -> bool:
    """True when both the file and its directory accept writes (WAL needs both)."""
    try:
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    except OSError:
        return False

