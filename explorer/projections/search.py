"""The search read model: SQLite FTS5 over device names, owners and kinds, and event summaries.

Prefix search as the user types: every word typed matches the start of a word indexed
("nig cal" finds "night-caller"). Device hits come first (name matches, then owner or kind
matches), then event hits (newest first, from three characters typed); each hit names its stream
and a position to jump to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apsw

from explorer.domain.iot import device as dev
from explorer.projections.runner import Fact, Projection, live_prefix
from explorer.store.readdb import ReadDatabase

_WORD = re.compile(r"\w+", re.UNICODE)
EVENT_MIN_CHARS = 3


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    Attributes:
        kind: "device" (a device's name/owner/kind matched) or "event" (an event's summary matched).
        stream_id: the device's stream.
        position: where to jump: the event, or for a device its latest registration/rename.
        text: what matched, for people (plain text).
    """

    kind: str
    stream_id: str
    position: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "stream_id": self.stream_id, "position": self.position, "text": self.text}


class SearchIndex(Projection):
    """FTS5 tables: devices (name, owner, kind) and event summaries (contentless, one row per event)."""

    name = "search"
    title = "Full-text search"
    version = 4
    event_types = dev.EVENT_TYPES
    tables = ("devices", "device_text", "event_text")

    def __init__(self, *, prefix: str) -> None:
        super().__init__(prefix=prefix)
        self._names: dict[str, tuple[int, str]] = {}  # stream id -> (key, name)
        self._tx: apsw.Connection | None = None

    def setup(self, tx: apsw.Connection) -> None:
        p = self.prefix
        tx.execute(f"""
            CREATE TABLE IF NOT EXISTS {p}devices (
                device_key INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '');
            CREATE VIRTUAL TABLE IF NOT EXISTS {p}device_text USING fts5(
                name, owner, kind, stream_id UNINDEXED, position UNINDEXED, prefix='1 2 3');
            -- Hits come in position order (never ranked), so no column sizes are kept (columnsize=0).
            CREATE VIRTUAL TABLE IF NOT EXISTS {p}event_text USING fts5(
                summary, stream_id UNINDEXED, shown UNINDEXED,
                content='', contentless_unindexed=1, detail=none, columnsize=0);
        """)
        # Fewer, larger merges while bulk-loading (the default merges after every 4 segments).
        tx.execute(f"INSERT INTO {p}event_text ({p}event_text, rank) VALUES ('automerge', 8)")

    def discard_caches(self) -> None:
        self._names.clear()

    def _device(self, tx: apsw.Connection, stream_id: str) -> tuple[int, str]:
        found = self._names.get(stream_id)
        if found is None:
            p = self.prefix
            row = tx.execute(f"SELECT device_key, name FROM {p}devices WHERE stream_id = ?", (stream_id,)).fetchone()
            if row is None:
                tx.execute(f"INSERT INTO {p}devices (stream_id) VALUES (?)", (stream_id,))
                found = (tx.last_insert_rowid(), "")
            else:
                found = (row[0], row[1])
            self._names[stream_id] = found
        return found

    def _name_of(self, stream_id: str) -> str:
        found = self._names.get(stream_id)
        if found is None and self._tx is not None:
            # Not cached (e.g. after a restart): the table knows every device seen so far. Unseen
            # devices are not added here, so device keys stay the same however runs are split.
            row = self._tx.execute(f"SELECT device_key, name FROM {self.prefix}devices WHERE stream_id = ?",
                                   (stream_id,)).fetchone()
            if row is not None:
                found = self._names[stream_id] = (row[0], row[1])
        return found[1] if found else ""

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        p = self.prefix
        rows: list[tuple[int, str, str, str]] = []
        # Device text changes, applied once per device after the loop: key -> the newest values.
        registered: dict[int, list[Any]] = {}  # registrations: [key, name, owner, kind, stream id, position]
        renamed: dict[int, tuple[str, int, int]] = {}  # renames of devices not registered in this batch
        named: dict[int, str] = {}  # key -> stream id of every device whose name changed
        describe, name_of, device, names = dev.describe, self._name_of, self._device, self._names
        call, registration, rename = dev.CALL_REPORTED, dev.DEVICE_REGISTERED, dev.DEVICE_RENAMED
        self._tx = tx
        for position, sid, etype, _recorded_us, data in batch:
            key, name = names.get(sid) or device(tx, sid)
            if etype == call:
                # Calls are most events: index only what tells them apart (direction word and
                # number); the device's name is found by its device hit, the sentence is kept to show.
                number, seconds = data.get("number", "?"), data.get("duration_s", "?")
                me = name or dev.device_id_of(sid)[:8]
                if data.get("direction") == "in":
                    rows.append((position, f"incoming call {data.get('number', '')}", sid,
                                 f"Incoming call from {number} on {me}, {seconds} s"))
                else:
                    rows.append((position, f"outgoing call {data.get('number', '')}", sid,
                                 f"Outgoing call to {number} on {me}, {seconds} s"))
                continue
            if etype == registration or etype == rename:
                name = str(data.get("name", ""))
                names[sid] = (key, name)
                named[key] = sid
                if etype == registration:
                    registered[key] = [key, name, str(data.get("owner", "")), str(data.get("kind", "")), sid, position]
                elif key in registered:
                    registered[key][1], registered[key][5] = name, position
                else:
                    renamed[key] = (name, position, key)
            text = describe(etype, data, sid, name_of)
            rows.append((position, text, sid, text))
        if renamed:  # before the registrations: a registration later in the batch replaces the row
            tx.executemany(f"UPDATE {p}device_text SET name = ?, position = ? WHERE rowid = ?", renamed.values())
        if registered:
            tx.executemany(f"INSERT OR REPLACE INTO {p}device_text (rowid, name, owner, kind, stream_id, position)"
                           " VALUES (?, ?, ?, ?, ?, ?)", registered.values())
        if named:
            tx.executemany(f"UPDATE {p}devices SET name = ? WHERE device_key = ?",
                           [(names[sid][1], key) for key, sid in named.items()])
        if rows:
            tx.executemany(f"INSERT INTO {p}event_text (rowid, summary, stream_id, shown) VALUES (?, ?, ?, ?)", rows)


def fts_query(text: str) -> str:
    """The FTS5 query of what the user typed: every word as a prefix, all required."""
    words = _WORD.findall(text)
    return " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)


def search(readdb: ReadDatabase, text: str, limit: int = 50) -> list[Hit]:
    """Devices, then events, whose words start with the words of `text`; at most `limit` hits."""
    p = live_prefix(readdb, SearchIndex.name)
    query = fts_query(text)
    if p is None or not query or limit <= 0:
        return []
    db = readdb.db
    hits = [
        Hit("device", sid, int(pos or 0), f"{name} ({kind}, owner {owner or '-'})")
        for name, owner, kind, sid, pos in db.execute(
            # Names first (a name match beats an owner or kind match), each in registration order:
            # rowid order lets FTS5 stop at the limit instead of ranking every match of a short prefix.
            f"SELECT name, owner, kind, stream_id, position FROM {p}device_text WHERE {p}device_text MATCH ?"
            " ORDER BY rowid LIMIT ?", (f"{{name}} : ({query})", limit))
    ]
    if len(hits) < limit:
        seen = {h.stream_id for h in hits}
        hits += [
            Hit("device", sid, int(pos or 0), f"{name} ({kind}, owner {owner or '-'})")
            for name, owner, kind, sid, pos in db.execute(
                f"SELECT name, owner, kind, stream_id, position FROM {p}device_text WHERE {p}device_text MATCH ?"
                " ORDER BY rowid LIMIT ?", (query, limit))
            if sid not in seen
        ][: limit - len(hits)]
    # Event summaries from three characters on: a one- or two-letter prefix matches most of a big
    # store's words, and the device hits answer those keystrokes.
    if len(hits) < limit and len(text.strip()) >= EVENT_MIN_CHARS:
        hits += [
            Hit("event", sid, int(pos), shown)
            for pos, sid, shown in db.execute(
                f"SELECT rowid, stream_id, shown FROM {p}event_text WHERE {p}event_text MATCH ?"
                " ORDER BY rowid DESC LIMIT ?", (query, limit - len(hits)))
        ]
    return hits
