"""The device registry read model: every device's attributes, valid over position intervals.

Two append-only tables, both keyed by position, hold a device's history:
- `registry`: one row per event other than a call (registration, rename, connection,
  disconnection, decommission) with the attributes after it (name, kind, owner, status,
  connection count);
- `calls`: one narrow row per call with the device's running call counts and that call's details.
Calls are most events (86% of the demo store), so they do not repeat the attributes, and nothing
is ever updated: a row holds from its position until the device's next row in either table.
"The registry as of P" is one indexed query: per device, the newest row of each table at or
before P (and, for `valid_to`, the oldest after P).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apsw

from explorer.domain.iot import device as dev
from explorer.projections.runner import Fact, Projection, has_indexes, live_prefix
from explorer.store.readdb import ReadDatabase

FAR = 1 << 62  # "no position": later than any


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One device as of a position.

    Attributes:
        stream_id / device_id: the device's stream and id.
        name, kind, owner, status: from its registration, renames and decommission.
        connections: how many peers it is connected to (its own connections).
        calls_in / calls_out: calls reported so far.
        last_call_at: occurred_at of the last call ("" when none); last_call_number likewise.
        last_seen: recorded_at (ISO, UTC) of its last event.
        valid_from / valid_to: the positions between which this row holds: the device's last event
            at or before the as-of position, and its next event (None: none yet).
    """

    stream_id: str
    device_id: str
    name: str
    kind: str
    owner: str
    status: str
    connections: int
    calls_in: int
    calls_out: int
    last_call_at: str
    last_call_number: str
    last_call_direction: str
    last_seen: str
    valid_from: int
    valid_to: int | None

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


# A device's running state in the build: [key, name, kind, owner, status, peers, calls_in, calls_out]
KEY, NAME, KIND, OWNER, STATUS, PEERS, CALLS_IN, CALLS_OUT = range(8)


class DeviceRegistry(Projection):
    """The device registry with validity intervals."""

    name = "registry"
    title = "Device registry"
    version = 4
    event_types = dev.EVENT_TYPES
    tables = ("devices", "registry", "calls", "peers", "names")
    indexes = {"registry_device": "registry (device_key, valid_from)", "calls_device": "calls (device_key, position)"}

    def __init__(self, *, prefix: str) -> None:
        super().__init__(prefix=prefix)
        self._cache: dict[str, list[Any]] = {}  # stream id -> running state (see KEY ... CALLS_OUT)

    def setup(self, tx: apsw.Connection) -> None:
        p = self.prefix
        # The position is each history table's rowid: rows arrive in position order, so inserts
        # append to the table's last page. The (device_key, position) indexes (`indexes`) are made
        # by the runner: at the end of a build from nothing, before that whenever it resumes.
        tx.execute(f"""
            CREATE TABLE IF NOT EXISTS {p}devices (
                device_key INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE, device_id TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS {p}registry (
                valid_from INTEGER PRIMARY KEY, device_key INTEGER NOT NULL,
                name TEXT, kind TEXT, owner TEXT, status TEXT, connections INTEGER NOT NULL,
                seen_us INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS {p}calls (
                position INTEGER PRIMARY KEY, device_key INTEGER NOT NULL,
                calls_in INTEGER NOT NULL, calls_out INTEGER NOT NULL,
                occurred_at TEXT, number TEXT, direction TEXT, seen_us INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS {p}peers (
                device_key INTEGER NOT NULL, peer_id TEXT NOT NULL, PRIMARY KEY (device_key, peer_id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS {p}names (
                name TEXT NOT NULL COLLATE NOCASE, device_key INTEGER NOT NULL,
                PRIMARY KEY (name, device_key)) WITHOUT ROWID;
        """)

    def discard_caches(self) -> None:
        self._cache.clear()

    def _load(self, tx: apsw.Connection, stream_id: str) -> list[Any]:
        """A device's running state, from the tables (a new device gets its key)."""
        p = self.prefix
        row = tx.execute(f"SELECT device_key FROM {p}devices WHERE stream_id = ?", (stream_id,)).fetchone()
        if row is None:
            tx.execute(f"INSERT INTO {p}devices (stream_id, device_id) VALUES (?, ?)",
                       (stream_id, dev.device_id_of(stream_id)))
            state: list[Any] = [tx.last_insert_rowid(), None, None, None, None, set(), 0, 0]
        else:
            key = row[0]
            attrs = tx.execute(f"SELECT name, kind, owner, status FROM {p}registry WHERE device_key = ?"
                               " ORDER BY valid_from DESC LIMIT 1", (key,)).fetchone() or (None,) * 4
            calls = tx.execute(f"SELECT calls_in, calls_out FROM {p}calls WHERE device_key = ?"
                               " ORDER BY position DESC LIMIT 1", (key,)).fetchone() or (0, 0)
            peers = {r[0] for r in tx.execute(f"SELECT peer_id FROM {p}peers WHERE device_key = ?", (key,))}
            state = [key, *attrs, peers, *calls]
        self._cache[stream_id] = state
        return state

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        p = self.prefix
        rows: list[tuple[Any, ...]] = []  # registry rows
        calls: list[tuple[Any, ...]] = []
        peer_changes: dict[tuple[int, str], bool] = {}  # net effect of the batch: connected or not
        names: list[tuple[str, int]] = []
        cache, load = self._cache, self._load
        call = dev.CALL_REPORTED
        for position, sid, etype, recorded_us, data in batch:
            state = cache.get(sid) or load(tx, sid)
            if etype == call:  # most events: the short path first
                direction = data.get("direction")
                if direction == "in":
                    state[CALLS_IN] += 1
                else:
                    state[CALLS_OUT] += 1
                calls.append((position, state[KEY], state[CALLS_IN], state[CALLS_OUT], data.get("occurred_at"),
                              data.get("number"), direction, recorded_us))
                continue
            if etype == dev.DEVICE_REGISTERED:
                state[NAME], state[KIND], state[OWNER] = data.get("name", ""), data.get("kind", ""), data.get("owner", "")
                state[STATUS] = "active"
                names.append((state[NAME], state[KEY]))
            elif etype == dev.DEVICE_RENAMED:
                state[NAME] = data.get("name", "")
                names.append((state[NAME], state[KEY]))
            elif etype == dev.DEVICE_CONNECTED:
                peer = data["peer_id"]
                if peer not in state[PEERS]:
                    state[PEERS].add(peer)
                    peer_changes[(state[KEY], peer)] = True
            elif etype == dev.DEVICE_DISCONNECTED:
                peer = data["peer_id"]
                if peer in state[PEERS]:
                    state[PEERS].discard(peer)
                    peer_changes[(state[KEY], peer)] = False
            elif etype == dev.DEVICE_DECOMMISSIONED:
                state[STATUS] = "decommissioned"
            else:
                continue
            rows.append((position, state[KEY], state[NAME], state[KIND], state[OWNER], state[STATUS],
                         len(state[PEERS]), recorded_us))
        if rows:
            tx.executemany(f"INSERT INTO {p}registry VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if calls:
            tx.executemany(f"INSERT INTO {p}calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)", calls)
        if peer_changes:
            tx.executemany(f"INSERT OR IGNORE INTO {p}peers VALUES (?, ?)", [k for k, on in peer_changes.items() if on])
            tx.executemany(f"DELETE FROM {p}peers WHERE device_key = ? AND peer_id = ?",
                           [k for k, on in peer_changes.items() if not on])
        if names:
            tx.executemany(f"INSERT OR IGNORE INTO {p}names VALUES (?, ?)", names)


def _select(p: str, where: str, *, indexed: bool = True) -> str:
    """Each device's newest registry row and newest call row at or before :at, and its next event
    after :at (valid_to), for the devices `where` picks.

    With the (device_key, position) indexes: four seeks per device. Without them (a build from
    nothing under way): one pass over each table, grouped by device, instead of scans per device.
    """
    columns = (
        "SELECT d.stream_id, d.device_id, r.name, r.kind, r.owner, r.status, r.connections,"
        " c.calls_in, c.calls_out, c.occurred_at, c.number, c.direction,"
        " CASE WHEN c.position > r.valid_from THEN c.seen_us ELSE r.seen_us END,"
        " max(r.valid_from, coalesce(c.position, 0)),"
    )
    if indexed:
        return (
            f"{columns} min(coalesce((SELECT min(valid_from) FROM {p}registry x WHERE x.device_key = d.device_key"
            f"  AND x.valid_from > :at), {FAR}),"
            f"  coalesce((SELECT min(position) FROM {p}calls y WHERE y.device_key = d.device_key"
            f"  AND y.position > :at), {FAR}))"
            f" FROM {p}devices d"
            f" JOIN {p}registry r ON r.valid_from = (SELECT max(valid_from) FROM {p}registry x"
            "  WHERE x.device_key = d.device_key AND x.valid_from <= :at)"
            f" LEFT JOIN {p}calls c ON c.position = (SELECT max(position) FROM {p}calls y"
            "  WHERE y.device_key = d.device_key AND y.position <= :at)"
            f" WHERE r.status IS NOT NULL AND {where}"
        )
    return (
        f"{columns} min(coalesce(nr.next, {FAR}), coalesce(nc.next, {FAR}))"
        f" FROM (SELECT device_key, max(valid_from) AS newest FROM {p}registry WHERE valid_from <= :at"
        "  GROUP BY device_key) lr"
        f" JOIN {p}devices d ON d.device_key = lr.device_key"
        f" JOIN {p}registry r ON r.valid_from = lr.newest"
        f" LEFT JOIN (SELECT device_key, max(position) AS newest FROM {p}calls WHERE position <= :at"
        "  GROUP BY device_key) lc ON lc.device_key = d.device_key"
        f" LEFT JOIN {p}calls c ON c.position = lc.newest"
        f" LEFT JOIN (SELECT device_key, min(valid_from) AS next FROM {p}registry WHERE valid_from > :at"
        "  GROUP BY device_key) nr ON nr.device_key = d.device_key"
        f" LEFT JOIN (SELECT device_key, min(position) AS next FROM {p}calls WHERE position > :at"
        "  GROUP BY device_key) nc ON nc.device_key = d.device_key"
        f" WHERE r.status IS NOT NULL AND {where}"
    )


def _time_text(us: int) -> str:
    """ISO text (UTC, microseconds, "Z") of microseconds since the epoch; twice as fast as
    from_us(us).strftime(...), which counts when a registry of thousands is read per cursor move."""
    seconds, micro = divmod(us, 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{micro:06d}Z"


def _row(values: tuple[Any, ...]) -> RegistryRow:
    (sid, did, name, kind, owner, status, conns, cin, cout, lca, lcn, lcd, seen, vf, vt) = values
    seen_text = _time_text(seen) if seen is not None else ""
    return RegistryRow(sid, did, name or "", kind or "", owner or "", status or "unregistered", conns or 0,
                       cin or 0, cout or 0, lca or "", lcn or "", lcd or "", seen_text, vf,
                       None if vt >= FAR else vt)


def registry_at(readdb: ReadDatabase, position: int | None = None) -> list[RegistryRow]:
    """Every registered device as of `position` (None: as of the checkpoint), ordered by name."""
    p = live_prefix(readdb, DeviceRegistry.name)
    if p is None:
        return []
    at = position if position is not None else FAR - 1
    sql = (_select(p, "1", indexed=has_indexes(readdb, p, DeviceRegistry))
           + " ORDER BY r.name COLLATE NOCASE, d.stream_id")
    return [_row(v) for v in readdb.db.execute(sql, {"at": at})]


def device_at(readdb: ReadDatabase, stream_id: str, position: int | None = None) -> RegistryRow | None:
    """One device as of `position`, or None when it was not registered yet."""
    p = live_prefix(readdb, DeviceRegistry.name)
    if p is None:
        return None
    at = position if position is not None else FAR - 1
    # One device: the seek form is right either way (without the indexes each subquery is one
    # pass over the rows up to :at, by position).
    values = readdb.db.execute(_select(p, "d.stream_id = :sid"), {"at": at, "sid": stream_id}).fetchone()
    return None if values is None else _row(values)


def names_at(readdb: ReadDatabase, position: int | None = None) -> dict[str, str]:
    """stream id -> name as of `position` (labels for the graph)."""
    return {r.stream_id: r.name for r in registry_at(readdb, position)}


class DeviceNotFound(LookupError):
    """No device, or more than one, answers to the text given."""


class AmbiguousDevice(DeviceNotFound):
    """More than one device has had the name given."""


def resolve_device(readdb: ReadDatabase, text: str) -> str:
    """The stream id of a device given by stream id, device id or (any past) name."""
    p = live_prefix(readdb, DeviceRegistry.name)
    text = text.strip()
    if p is None:
        raise DeviceNotFound("the device registry is not built yet; run `event-explorer project STORE`")
    row = readdb.db.execute(f"SELECT stream_id FROM {p}devices WHERE stream_id = ? OR device_id = ?",
                            (text, text)).fetchone()
    if row is not None:
        return str(row[0])
    found = [r[0] for r in readdb.db.execute(
        f"SELECT DISTINCT d.stream_id FROM {p}names n JOIN {p}devices d ON d.device_key = n.device_key"
        " WHERE n.name = ?", (text,))]
    if len(found) == 1:
        return str(found[0])
    if not found:
        raise DeviceNotFound(f"no device has the stream id, device id or name {text!r}")
    raise AmbiguousDevice(f"{len(found)} devices have had the name {text!r}; give its stream id instead "
                         f"({', '.join(sorted(found)[:3])}{' ...' if len(found) > 3 else ''})")
