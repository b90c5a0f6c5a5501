"""The call analytics read model: calls per device per hour, in/out, unknown numbers, night share,
connection bursts, and a "suspicious" score, all as of any position.

Definitions (all times UTC, calls by the time the device says they occurred):
- night: a call whose occurred_at hour is 00:00-05:59.
- unknown number: a number the device had not exchanged any call with before this call (its usual
  contacts are the numbers it has already called or been called by).
- burst: the most connections the device opened within any 60 minutes (by recorded time).
- suspicious score (0-3) = night + unknown + burst, each 0-1:
  night = how far the device's night share exceeds the typical (median) device's, in percentage
  points / 30 (30 points above typical scores 1); unknown = the same for its unknown-number share;
  both need at least MIN_CALLS calls;
  burst = (burst - 3) / 5 clamped to 0-1 (eight or more connections within an hour score 1).

Every call and connection is one row carrying the device's running totals, so a device's totals as
of P are one index seek (the last row at or before P) and the hourly series one index range.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apsw

from explorer.domain.iot import device as dev
from explorer.projections.runner import Fact, Projection, has_indexes, live_prefix
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import to_us

NIGHT_HOURS = range(0, 6)
NIGHT_END = NIGHT_HOURS.stop
MIN_CALLS = 5
BURST_FREE = 3
BURST_FULL = 8
FULL_EXCESS = 0.30  # a share this far above the typical device's scores 1
CALL, CONNECT = 0, 1

HOUR_US = 3_600_000_000
_CUM = ("cum_calls", "cum_in", "cum_out", "cum_unknown", "cum_night", "cum_connects", "burst")


_HOURS: dict[str, int] = {}


def _hour_of(occurred_at: Any, fallback_us: int) -> int:
    """Hours since the epoch of an ISO time (the store's recorded time when it cannot be read)."""
    if isinstance(occurred_at, str) and len(occurred_at) == 20 and occurred_at[-1] == "Z":
        # The decider's form (2026-10-01T01:23:45Z): one dict lookup per call, not a parse.
        hour = _HOURS.get(occurred_at[:13])
        if hour is not None:
            return hour
        try:
            value = datetime.fromisoformat(occurred_at[:13] + ":00:00+00:00")
        except ValueError:
            value = None
        if value is not None:
            hour = _HOURS[occurred_at[:13]] = to_us(value) // HOUR_US
            return hour
    if isinstance(occurred_at, str):
        try:
            value = datetime.fromisoformat(occurred_at)
        except ValueError:
            value = None
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return to_us(value) // 3_600_000_000
    return fallback_us // 3_600_000_000


class _DeviceTotals:
    __slots__ = ("key", "cum", "numbers", "recent")

    def __init__(self, key: int, cum: list[int], numbers: set[str], recent: deque[int]) -> None:
        self.key, self.cum, self.numbers, self.recent = key, cum, numbers, recent


class CallAnalytics(Projection):
    """Per-device call and connection activity with running totals."""

    name = "analytics"
    title = "Call analytics"
    version = 2
    event_types = (dev.CALL_REPORTED, dev.DEVICE_CONNECTED)
    tables = ("devices", "activity", "numbers")
    indexes = {"activity_device": "activity (device_key, position)"}  # made by the runner

    def __init__(self, *, prefix: str) -> None:
        super().__init__(prefix=prefix)
        self._devices: dict[str, _DeviceTotals] = {}

    def setup(self, tx: apsw.Connection) -> None:
        p = self.prefix
        tx.execute(f"""
            CREATE TABLE IF NOT EXISTS {p}devices (device_key INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS {p}activity (
                position INTEGER PRIMARY KEY, device_key INTEGER NOT NULL, hour INTEGER NOT NULL,
                kind INTEGER NOT NULL, direction TEXT, unknown INTEGER NOT NULL, night INTEGER NOT NULL,
                in_hour INTEGER NOT NULL, at_us INTEGER NOT NULL, {', '.join(c + ' INTEGER NOT NULL' for c in _CUM)});
            CREATE TABLE IF NOT EXISTS {p}numbers (
                device_key INTEGER NOT NULL, number TEXT NOT NULL, PRIMARY KEY (device_key, number)) WITHOUT ROWID;
        """)

    def discard_caches(self) -> None:
        self._devices.clear()

    def _load(self, tx: apsw.Connection, stream_id: str) -> _DeviceTotals:
        p = self.prefix
        row = tx.execute(f"SELECT device_key FROM {p}devices WHERE stream_id = ?", (stream_id,)).fetchone()
        if row is None:
            tx.execute(f"INSERT INTO {p}devices (stream_id) VALUES (?)", (stream_id,))
            totals = _DeviceTotals(tx.last_insert_rowid(), [0] * len(_CUM), set(), deque())
        else:
            key = row[0]
            last = tx.execute(f"SELECT {', '.join(_CUM)} FROM {p}activity WHERE device_key = ?"
                              " ORDER BY position DESC LIMIT 1", (key,)).fetchone()
            # The connections of the last hour before its newest one: the sliding burst window.
            recent = deque(r[0] for r in tx.execute(
                f"SELECT at_us FROM {p}activity WHERE device_key = ?1 AND kind = {CONNECT} AND at_us >"
                f" (SELECT max(at_us) FROM {p}activity WHERE device_key = ?1 AND kind = {CONNECT}) - {HOUR_US}"
                " ORDER BY position", (key,)))
            numbers = {r[0] for r in tx.execute(f"SELECT number FROM {p}numbers WHERE device_key = ?", (key,))}
            totals = _DeviceTotals(key, list(last) if last else [0] * len(_CUM), numbers, recent)
        self._devices[stream_id] = totals
        return totals

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        p = self.prefix
        rows: list[tuple[Any, ...]] = []
        new_numbers: list[tuple[int, str]] = []
        devices, load, hours, call = self._devices, self._load, _HOURS, dev.CALL_REPORTED
        for position, sid, etype, recorded_us, data in batch:
            totals = devices.get(sid) or load(tx, sid)
            cum = totals.cum
            if etype == call:
                occurred = data.get("occurred_at")
                # The decider's form (2026-10-01T01:23:45Z) is the hot path: one dict lookup.
                hour = (hours.get(occurred[:13]) if occurred.__class__ is str and len(occurred) == 20
                        and occurred[19] == "Z" else None)
                if hour is None:
                    hour = _hour_of(occurred, recorded_us)
                number = data.get("number", "")
                if number.__class__ is not str:
                    number = str(number)
                numbers = totals.numbers
                if number in numbers:
                    unknown = 0
                else:
                    unknown = 1
                    numbers.add(number)
                    new_numbers.append((totals.key, number))
                night = 1 if hour % 24 < NIGHT_END else 0
                cum[0] += 1
                if data.get("direction") == "in":
                    direction = "in"
                    cum[1] += 1
                else:
                    direction = "out"
                    cum[2] += 1
                cum[3] += unknown
                cum[4] += night
                rows.append((position, totals.key, hour, CALL, direction, unknown, night, 0, 0, *cum))
            else:
                recent = totals.recent
                recent.append(recorded_us)
                while recent[0] <= recorded_us - HOUR_US:
                    recent.popleft()
                cum[5] += 1
                if len(recent) > cum[6]:
                    cum[6] = len(recent)
                rows.append((position, totals.key, recorded_us // HOUR_US, CONNECT, None, 0, 0, len(recent),
                             recorded_us, *cum))
        if rows:
            tx.executemany(f"INSERT INTO {p}activity VALUES ({', '.join('?' * (9 + len(_CUM)))})", rows)
        if new_numbers:
            tx.executemany(f"INSERT OR IGNORE INTO {p}numbers VALUES (?, ?)", new_numbers)


@dataclass(frozen=True, slots=True)
class DeviceActivity:
    """A device's call and connection totals as of a position, and its suspicious score.

    Attributes:
        stream_id: the device.
        calls / calls_in / calls_out / unknown / night: call counts.
        connects: connections it opened; burst: the most within one clock hour.
        night_share / unknown_share: night / calls and unknown / calls (0 without calls).
        score: 0-3, the sum of night_score, unknown_score and burst_score (see the module doc).
        reasons: why the score is what it is, for people.
    """

    stream_id: str
    calls: int
    calls_in: int
    calls_out: int
    unknown: int
    night: int
    connects: int
    burst: int
    night_share: float
    unknown_share: float
    night_score: float = 0.0
    unknown_score: float = 0.0
    burst_score: float = 0.0
    reasons: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        return self.night_score + self.unknown_score + self.burst_score

    def to_json(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]
        out["score"] = round(self.score, 4)
        out["reasons"] = list(self.reasons)
        return out


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def activity_at(readdb: ReadDatabase, position: int | None = None) -> list[DeviceActivity]:
    """Every device with calls or connections as of `position`, scored, most suspicious first."""
    p = live_prefix(readdb, CallAnalytics.name)
    if p is None:
        return []
    at = position if position is not None else 1 << 62
    columns = f"SELECT d.stream_id, {', '.join('a.' + c for c in _CUM)}"
    if has_indexes(readdb, p, CallAnalytics):  # one seek per device
        sql = (f"{columns} FROM {p}devices d JOIN {p}activity a ON a.position = (SELECT max(position)"
               f" FROM {p}activity x WHERE x.device_key = d.device_key AND x.position <= ?)")
    else:  # a build from nothing under way: one pass over the rows up to P, grouped by device
        sql = (f"{columns} FROM (SELECT device_key, max(position) AS newest FROM {p}activity WHERE position <= ?"
               f" GROUP BY device_key) l JOIN {p}devices d ON d.device_key = l.device_key"
               f" JOIN {p}activity a ON a.position = l.newest")
    raw = [(sid, *cum) for sid, *cum in readdb.db.execute(sql, (at,))]
    callers = [r for r in raw if r[1] >= MIN_CALLS]
    base_night = statistics.median(r[5] / r[1] for r in callers) if callers else 0.0
    base_unknown = statistics.median(r[4] / r[1] for r in callers) if callers else 0.0
    out = []
    for sid, calls, cin, cout, unknown, night, connects, burst in raw:
        night_share = night / calls if calls else 0.0
        unknown_share = unknown / calls if calls else 0.0
        reasons = []
        ns = us = 0.0
        if calls >= MIN_CALLS:
            ns = _clamp((night_share - base_night) / FULL_EXCESS)
            us = _clamp((unknown_share - base_unknown) / FULL_EXCESS)
            if ns >= 0.5:
                reasons.append(f"{night_share:.0%} of its calls at night (typical {base_night:.0%})")
            if us >= 0.5:
                reasons.append(f"{unknown_share:.0%} of its calls with unknown numbers (typical {base_unknown:.0%})")
        bs = _clamp((burst - BURST_FREE) / (BURST_FULL - BURST_FREE))
        if bs > 0:
            reasons.append(f"opened {burst} connections within one hour")
        out.append(DeviceActivity(sid, calls, cin, cout, unknown, night, connects, burst, night_share,
                                  unknown_share, ns, us, bs, tuple(reasons)))
    out.sort(key=lambda a: (-a.score, a.stream_id))
    return out


@dataclass(frozen=True, slots=True)
class HourBucket:
    """One hour of one device's calls (hour: its start, UTC)."""

    hour: datetime
    calls_in: int
    calls_out: int
    unknown: int
    night: int


def hourly(readdb: ReadDatabase, stream_id: str, position: int | None = None) -> list[HourBucket]:
    """A device's calls per hour (by occurred time), counting calls recorded at or before `position`."""
    p = live_prefix(readdb, CallAnalytics.name)
    if p is None:
        return []
    at = position if position is not None else 1 << 62
    rows = readdb.db.execute(
        f"SELECT a.hour, sum(a.direction = 'in'), sum(a.direction = 'out'), sum(a.unknown), sum(a.night)"
        f" FROM {p}devices d JOIN {p}activity a ON a.device_key = d.device_key"
        f" WHERE d.stream_id = ? AND a.position <= ? AND a.kind = {CALL} GROUP BY a.hour ORDER BY a.hour",
        (stream_id, at))
    return [HourBucket(datetime.fromtimestamp(h * 3600, UTC), i, o, u, n) for h, i, o, u, n in rows]
