"""The device registry read model: every device's attributes, valid over position intervals.

Each event of a device closes the device's current row (`valid_to` = the event's position) and
opens a new one (`valid_from` = that position), so "the registry as of P" is one indexed query:
for each device, the row with the greatest `valid_from <= P`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import apsw

from explorer.domain.iot import device as dev
from explorer.projections.runner import Projection, live_prefix
from explorer.store.readdb import ReadDatabase
from explorer.store.records import RecordedEvent
from explorer.store.sqlite import EPOCH, from_us

ONE_US = timedelta(microseconds=1)

# name, kind, owner, status, connections, calls_in, calls_out, last_call_at, last_call_number,
# last_call_direction, last_seen_us
_FIELDS = ("name", "kind", "owner", "status", "connections", "calls_in", "calls_out", "last_call_at",
           "last_call_number", "last_call_direction", "last_seen_us")


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
        valid_from / valid_to: the positions between which this row holds (valid_to None: still).
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


class DeviceRegistry(Projection):
    """The device registry with validity intervals."""

    name = "registry"
    title = "Device registry"
    version = 3
    event_types = dev.EVENT_TYPES
    tables = ("devices", "registry", "peers", "names")

    def __init__(self, *, prefix: str) -> None:
        super().__init__(prefix=prefix)
        self._cache: dict[str, tuple[list[Any], set[str]]] = {}  # stream id -> newest row, peers

    def setup(self, tx: apsw.Connection) -> None:
        p = self.prefix
        tx.execute(f"""
            CREATE TABLE IF NOT EXISTS {p}devices (
                device_key INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE, device_id TEXT NOT NULL);
            -- valid_from is the rowid: rows arrive in position order, so inserts append to the
            -- table's last page; only the small (device_key, valid_from) index takes random inserts.
            CREATE TABLE IF NOT EXISTS {p}registry (
                device_key INTEGER NOT NULL, valid_from INTEGER PRIMARY KEY, valid_to INTEGER,
                name TEXT, kind TEXT, owner TEXT, status TEXT, connections INTEGER, calls_in INTEGER,
                calls_out INTEGER, last_call_at TEXT, last_call_number TEXT, last_call_direction TEXT,
                last_seen_us INTEGER);
            CREATE INDEX IF NOT EXISTS {p}registry_device ON {p}registry (device_key, valid_from);
            CREATE TABLE IF NOT EXISTS {p}peers (
                device_key INTEGER NOT NULL, peer_id TEXT NOT NULL, PRIMARY KEY (device_key, peer_id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS {p}names (
                name TEXT NOT NULL COLLATE NOCASE, device_key INTEGER NOT NULL,
                PRIMARY KEY (name, device_key)) WITHOUT ROWID;
        """)

    def discard_caches(self) -> None:
        self._cache.clear()

    def _load(self, tx: apsw.Connection, stream_id: str, device_id: str) -> tuple[list[Any], set[str]]:
        """The device's newest row ([key, valid_from, valid_to, *fields]) and peers, from the tables."""
        p = self.prefix
        row = tx.execute(f"SELECT device_key FROM {p}devices WHERE stream_id = ?", (stream_id,)).fetchone()
        if row is None:
            tx.execute(f"INSERT INTO {p}devices (stream_id, device_id) VALUES (?, ?)", (stream_id, device_id))
            entry: tuple[list[Any], set[str]] = ([tx.last_insert_rowid(), 0, None, *([None] * len(_FIELDS))], set())
        else:
            key = row[0]
            last = tx.execute(
                f"SELECT device_key, valid_from, valid_to, {', '.join(_FIELDS)} FROM {p}registry"
                " WHERE device_key = ? ORDER BY valid_from DESC LIMIT 1", (key,)).fetchone()
            peers = {r[0] for r in tx.execute(f"SELECT peer_id FROM {p}peers WHERE device_key = ?", (key,))}
            entry = (list(last) if last else [key, 0, None, *([None] * len(_FIELDS))], peers)
        self._cache[stream_id] = entry
        return entry

    def apply(self, batch: Sequence[RecordedEvent], tx: apsw.Connection) -> None:
        p = self.prefix
        closes: list[tuple[int, int]] = []  # (valid_to, valid_from) of rows open before the batch
        inserts: list[list[Any]] = []
        fresh: set[int] = set()  # devices whose newest row is one of `inserts`
        peer_changes: dict[tuple[int, str], bool] = {}  # net effect of the batch: connected or not
        names: list[tuple[str, int]] = []
        cache, load = self._cache, self._load
        call = dev.CALL_REPORTED
        for event in batch:
            sid = event.stream_id
            old, peers = cache.get(sid) or load(tx, sid, dev.device_id_of(sid))
            key = old[0]
            data, etype = event.data, event.type
            row = old.copy()  # [key, valid_from, valid_to, name, kind, owner, status, connections,
            #                    calls_in, calls_out, last_call_at, last_call_number, last_call_direction, seen]
            if etype == call:  # most events: the short path first
                direction = data.get("direction")
                if direction == "in":
                    row[8] = (row[8] or 0) + 1
                else:
                    row[9] = (row[9] or 0) + 1
                row[10], row[11], row[12] = data.get("occurred_at"), data.get("number"), direction
            elif etype == dev.DEVICE_REGISTERED:
                row[3], row[4], row[5], row[6] = data.get("name", ""), data.get("kind", ""), data.get("owner", ""), "active"
                row[7], row[8], row[9] = row[7] or 0, row[8] or 0, row[9] or 0
                names.append((row[3], key))
            elif etype == dev.DEVICE_RENAMED:
                row[3] = data.get("name", "")
                names.append((row[3], key))
            elif etype == dev.DEVICE_CONNECTED:
                peer = data["peer_id"]
                if peer not in peers:
                    peers = peers | {peer}
                    peer_changes[(key, peer)] = True
            elif etype == dev.DEVICE_DISCONNECTED:
                peer = data["peer_id"]
                if peer in peers:
                    peers = peers - {peer}
                    peer_changes[(key, peer)] = False
            elif etype == dev.DEVICE_DECOMMISSIONED:
                row[6] = "decommissioned"
            else:
                continue
            position = event.position
            row[1], row[2], row[7], row[13] = position, None, len(peers), (event.recorded_at - EPOCH) // ONE_US
            if key in fresh:
                old[2] = position  # still in `inserts`: close it there
            elif old[1]:
                closes.append((position, old[1]))
            fresh.add(key)
            inserts.append(row)
            cache[sid] = (row, peers)
        if closes:
            tx.executemany(f"UPDATE {p}registry SET valid_to = ? WHERE valid_from = ?", closes)
        if inserts:
            tx.executemany(f"INSERT INTO {p}registry (device_key, valid_from, valid_to, {', '.join(_FIELDS)})"
                           f" VALUES ({', '.join('?' * (3 + len(_FIELDS)))})", inserts)
        if peer_changes:
            tx.executemany(f"INSERT OR IGNORE INTO {p}peers VALUES (?, ?)", [k for k, on in peer_changes.items() if on])
            tx.executemany(f"DELETE FROM {p}peers WHERE device_key = ? AND peer_id = ?",
                           [k for k, on in peer_changes.items() if not on])
        if names:
            tx.executemany(f"INSERT OR IGNORE INTO {p}names VALUES (?, ?)", names)


_SELECT = ("d.stream_id, d.device_id, r.name, r.kind, r.owner, r.status, r.connections, r.calls_in, r.calls_out,"
           " r.last_call_at, r.last_call_number, r.last_call_direction, r.last_seen_us, r.valid_from, r.valid_to")


def _row(values: tuple[Any, ...]) -> RegistryRow:
    (sid, did, name, kind, owner, status, conns, cin, cout, lca, lcn, lcd, seen, vf, vt) = values
    seen_text = from_us(seen).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if seen is not None else ""
    return RegistryRow(sid, did, name or "", kind or "", owner or "", status or "unregistered", conns or 0,
                       cin or 0, cout or 0, lca or "", lcn or "", lcd or "", seen_text, vf, vt)


def registry_at(readdb: ReadDatabase, position: int | None = None) -> list[RegistryRow]:
    """Every registered device as of `position` (None: as of the checkpoint), ordered by name."""
    p = live_prefix(readdb, DeviceRegistry.name)
    if p is None:
        return []
    at = position if position is not None else 1 << 62
    sql = (
        f"SELECT {_SELECT} FROM {p}devices d JOIN {p}registry r ON r.device_key = d.device_key"
        f" AND r.valid_from = (SELECT max(valid_from) FROM {p}registry x WHERE x.device_key = d.device_key"
        " AND x.valid_from <= ?) WHERE r.status IS NOT NULL ORDER BY r.name COLLATE NOCASE, d.stream_id"
    )
    return [_row(v) for v in readdb.db.execute(sql, (at,))]


def device_at(readdb: ReadDatabase, stream_id: str, position: int | None = None) -> RegistryRow | None:
    """One device as of `position`, or None when it was not registered yet."""
    p = live_prefix(readdb, DeviceRegistry.name)
    if p is None:
        return None
    at = position if position is not None else 1 << 62
    values = readdb.db.execute(
        f"SELECT {_SELECT} FROM {p}devices d JOIN {p}registry r ON r.device_key = d.device_key"
        " WHERE d.stream_id = ? AND r.valid_from <= ? ORDER BY r.valid_from DESC LIMIT 1",
        (stream_id, at)).fetchone()
    return None if values is None or values[5] is None else _row(values)


def names_at(readdb: ReadDatabase, position: int | None = None) -> dict[str, str]:
    """stream id -> name as of `position` (labels for the graph)."""
    return {r.stream_id: r.name for r in registry_at(readdb, position)}


class DeviceNotFound(LookupError):
    """No device, or more than one, answers to the text given."""


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
    raise DeviceNotFound(f"{len(found)} devices have had the name {text!r}; give its stream id instead "
                         f"({', '.join(sorted(found)[:3])}{' ...' if len(found) > 3 else ''})")
