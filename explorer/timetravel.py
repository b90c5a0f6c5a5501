"""Time travel: a stream's state as of any version, position or time; diffs; a field's history.

`state_at` starts from the nearest snapshot at or below the target and folds the rest.
Snapshots live in the read database (derived, disposable); without one, it folds from the start.
A snapshot keeps the position and chain hash of the event it was folded up to, and is used only
when the store's chain hash there is the same: a diverged copy of the store shares the read
database (it has the same store id), and its snapshots are of another history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import apsw
import orjson

from explorer.domain.decider import State
from explorer.domain.plugins import pack_for
from explorer.store.base import EventStore
from explorer.store.readdb import ReadDatabase

log = logging.getLogger(__name__)

SNAPSHOT_EVERY = 100  # a fold of at most 99 events after the snapshot: ~1 ms (docs/benchmarks.md)
_MISSING = object()


class StreamNotFound(LookupError):
    """No stream with that id in the store."""


@dataclass(frozen=True, slots=True)
class StateAt:
    """A stream's state as of a version.

    Attributes:
        stream_id / stream_type: the stream.
        version: the last event folded in (0: before the first event).
        state: the replayed state (plain JSON-able data).
    """

    stream_id: str
    stream_type: str
    version: int
    state: State


@dataclass(frozen=True, slots=True)
class Change:
    """One path that differs between two states: kind is "added", "removed" or "changed"."""

    path: str
    kind: str
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """An event that changed a field, with the value before and after."""

    position: int
    version: int
    recorded_at: datetime
    event_type: str
    old: Any
    new: Any


class TimeTravel:
    """State as of any point of one store, with a snapshot cache in its read database.

    Attributes:
        store: the event store (one connection; use `clone()` for another thread).
        readdb: the read database holding snapshots, or None to fold from the start every time.
        snapshot_every: a snapshot is kept every this many versions of a stream.
    """

    def __init__(self, store: EventStore, readdb: ReadDatabase | None, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.store = store
        self.readdb = readdb
        self.snapshot_every = snapshot_every
        # Snapshots need the store's chain hashes to be checked (see the module docstring).
        self._hash_at: Callable[[int], str | None] | None = getattr(store, "chain_hash_at", None)
        self._hashes_in_stream: Callable[[str, list[int]], dict[int, tuple[int, str]]] | None = getattr(
            store, "chain_hashes_in_stream", None)
        if readdb is not None:
            try:  # read models of another history go before anyone reads them through this database
                readdb.bind(store)
            except apsw.Error as exc:  # busy: the snapshots are checked one by one anyway
                log.warning("could not check the read database's history: %s", exc)

    # -- state -----------------------------------------------------------------------------

    def state_at(
        self,
        stream_id: str,
        *,
        version: int | None = None,
        position: int | None = None,
        time: datetime | None = None,
    ) -> StateAt:
        """The stream's state as of a version, a store position or a time (the head by default)."""
        info = self.store.stream_info(stream_id)
        if info is None:
            raise StreamNotFound(f"no stream {stream_id!r} in this store")
        if time is not None:
            position = self.store.position_at_time(time)  # type: ignore[attr-defined]
        if position is not None:
            version = self.store.stream_version_at(stream_id, position)  # type: ignore[attr-defined]
        target = info.version if version is None else max(0, min(version, info.version))
        decider = pack_for(info.stream_type).decider
        key = f"{info.stream_type}:{decider.version}"
        base_version, state = self._nearest_snapshot(stream_id, key, target)
        if state is None:
            base_version, state = 0, decider.initial_state()
        if target > base_version:
            state = self._fold(stream_id, key, decider, state, base_version, target)
        return StateAt(stream_id, info.stream_type, target, state)

    def _fold(self, stream_id: str, key: str, decider: Any, state: State, base: int, target: int) -> State:
        every = self.snapshot_every
        rows = self.store.read_stream_data(stream_id, base + 1, target)  # type: ignore[attr-defined]
        if not self._snapshots_on or target - base < every:
            return decider.fold_data(rows, state)
        evolve = decider.evolve
        new_snapshots: list[tuple[int, str]] = []
        for version, event_type, data in rows:
            state = evolve(state, event_type, data)
            if version % every == 0:
                new_snapshots.append((version, orjson.dumps(state).decode()))
        self._save_snapshots(stream_id, key, new_snapshots)
        return state

    @property
    def _snapshots_on(self) -> bool:
        return self.readdb is not None and self._hash_at is not None and self._hashes_in_stream is not None

    def _nearest_snapshot(self, stream_id: str, key: str, target: int) -> tuple[int, State | None]:
        """The highest snapshot at or below `target` whose event's chain hash is the store's."""
        if not self._snapshots_on or target < self.snapshot_every:
            return 0, None
        assert self.readdb is not None and self._hash_at is not None
        while target >= self.snapshot_every:
            try:
                row = self.readdb.db.execute(
                    "SELECT version, state, position, chain_hash FROM snapshots"
                    " WHERE stream_id = ? AND decider = ? AND version <= ? ORDER BY version DESC LIMIT 1",
                    (stream_id, key, target),
                ).fetchone()
            except apsw.Error as exc:
                log.warning("snapshot lookup failed, folding from the start: %s", exc)
                return 0, None
            if row is None:
                return 0, None
            version, state, position, chain_hash = row
            if self._hash_at(position) == chain_hash:
                return int(version), orjson.loads(state)
            # Another history's (a diverged copy of the store): never used. A lower one may still hold.
            target = int(version) - 1
        return 0, None

    def _save_snapshots(self, stream_id: str, key: str, snapshots: list[tuple[int, str]]) -> None:
        """Keep (version, state) snapshots of one stream, each with its event's position and chain hash."""
        if not snapshots or self.readdb is None or self._hashes_in_stream is None:
            return
        try:
            at = self._hashes_in_stream(stream_id, [version for version, _state in snapshots])
            with self.readdb.db:
                self.readdb.db.executemany(
                    "INSERT OR REPLACE INTO snapshots (stream_id, decider, version, state, position, chain_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(stream_id, key, version, state, *at[version]) for version, state in snapshots if version in at],
                )
        except apsw.Error as exc:  # a busy or full cache only costs speed
            log.warning("could not save snapshots: %s", exc)

    def drop_snapshots(self) -> None:
        if self.readdb is not None:
            with self.readdb.db:
                self.readdb.db.execute("DELETE FROM snapshots")

    # -- history -----------------------------------------------------------------------------

    def history(self, stream_id: str, path: str, progress: Callable[[int], None] | None = None) -> list[FieldChange]:
        """The events that changed the value at `path` (dotted), oldest first."""
        info = self.store.stream_info(stream_id)
        if info is None:
            raise StreamNotFound(f"no stream {stream_id!r} in this store")
        decider = pack_for(info.stream_type).decider
        state = decider.initial_state()
        before = get_path(state, path)
        changes: list[FieldChange] = []
        for event in self.store.read_stream(stream_id):
            state = decider.evolve(state, event.type, event.data)
            after = get_path(state, path)
            if after != before:
                changes.append(
                    FieldChange(
                        event.position,
                        event.version,
                        event.recorded_at,
                        event.type,
                        None if before is _MISSING else before,
                        None if after is _MISSING else after,
                    )
                )
                before = after
            if progress is not None and event.version % 10_000 == 0:
                progress(event.version)
        return changes


def get_path(state: Any, path: str) -> Any:
    """The value at a dotted path (`last_call.number`), or a private marker when absent."""
    current = state
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def has_path(state: Any, path: str) -> bool:
    return get_path(state, path) is not _MISSING


def diff(a: Any, b: Any, prefix: str = "") -> list[Change]:
    """Changed, added and removed paths from state `a` to state `b` (lists compare whole)."""
    changes: list[Change] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a:
                changes.append(Change(path, "added", None, b[key]))
            elif key not in b:
                changes.append(Change(path, "removed", a[key], None))
            elif isinstance(a[key], dict) and isinstance(b[key], dict):
                changes.extend(diff(a[key], b[key], path))
            elif a[key] != b[key]:
                changes.append(Change(path, "changed", a[key], b[key]))
        return changes
    if a != b:
        changes.append(Change(prefix or "$", "changed", a, b))
    return changes
