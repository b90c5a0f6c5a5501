"""What an audit report holds, as plain data, and the one scan that produces it.

A report is: a scope (streams, a position/time range, type and actor filters), a header with an
integrity block, a summary (counts, first/last event, state at the start and end of the range and
the diff between them in domain words, a timeline) and the event list. The event list is never
held in memory: `iter_entries` yields it one entry at a time, so a renderer streams it.

The digests (docs/reports.md spells them out for auditors):

- event hash of event n = SHA-256 of the event's canonical bytes, exactly the bytes the store's
  chain hashes (explorer.store.chain.event_bytes over the stored data and metadata text);
- event-list digest = SHA-256 of the UTF-8 text made of one line `"<position> <event hash>\\n"`
  per listed event, in position order (the digest of an empty list is SHA-256 of no bytes).

Both depend only on the stored events in scope, so the same scope over the same store yields the
same digest, whenever and wherever the report is made.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from datetime import UTC, datetime, timedelta
from typing import IO, Any, NamedTuple

import orjson

from explorer import __version__
from explorer.domain.iot import device as iot_device
from explorer.domain.plugins import pack_for
from explorer.store import chain
from explorer.store.records import EventFilter, format_time
from explorer.store.sqlite import SQLiteEventStore, from_us, to_us
from explorer.timetravel import TimeTravel

REPORT_KIND = "event-explorer-audit-report"
REPORT_SCHEMA = 1
TIMELINE_BUCKETS = 48
MAX_STREAM_SUMMARIES = 50  # beyond this the summary counts changed streams instead of listing them
VALUE_WIDTH = 60

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


class ReportCancelled(Exception):
    """The user cancelled the report; any partial file has been removed."""


class ReportError(Exception):
    """The report cannot be made as asked (one sentence for the user)."""


# -- scope ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a report covers, as the user asked for it.

    Attributes:
        stream_ids: these streams only; empty means the whole store.
        connected_to: also (or only) this device stream and every device connected to it.
        since / until: inclusive recorded-time bounds (aware datetimes), or None.
        from_position / to_position: inclusive position bounds, or None.
        event_types: only these event types (empty: all).
        actors: only events whose metadata actor is one of these (empty: all).
    """

    stream_ids: tuple[str, ...] = ()
    connected_to: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    from_position: int | None = None
    to_position: int | None = None
    event_types: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_ids": list(self.stream_ids),
            "connected_to": self.connected_to,
            "since": format_time(self.since.astimezone(UTC)) if self.since else None,
            "until": format_time(self.until.astimezone(UTC)) if self.until else None,
            "from_position": self.from_position,
            "to_position": self.to_position,
            "event_types": list(self.event_types),
            "actors": list(self.actors),
        }


@dataclass(frozen=True, slots=True)
class ResolvedScope:
    """A scope pinned to one state of the store: the streams and the position range it covers.

    Attributes:
        scope: what was asked.
        stream_ids: the streams in scope (sorted), or None for every stream.
        first_position / last_position: the inclusive position range (empty when last < first).
        head_position / head_digest: the store's head when the scope was pinned.
        first_recorded_at / last_recorded_at: recorded times of the range's first and last event.
    """

    scope: ReportScope
    stream_ids: tuple[str, ...] | None
    first_position: int
    last_position: int
    head_position: int
    head_digest: str
    first_recorded_at: datetime | None
    last_recorded_at: datetime | None

    @property
    def empty(self) -> bool:
        return self.last_position < self.first_position

    def includes(self, stream_id: str, event_type: str, actor: str) -> bool:
        """True when an event of the range belongs to the report (stream, type and actor)."""
        if self._stream_set is not None and stream_id not in self._stream_set:
            return False
        if self.scope.event_types and event_type not in self.scope.event_types:
            return False
        return not self.scope.actors or actor in self.scope.actors

    @property
    def _stream_set(self) -> frozenset[str] | None:
        return None if self.stream_ids is None else frozenset(self.stream_ids)

    def describe(self) -> str:
        """The scope in one line of words."""
        if self.stream_ids is None:
            streams = "the whole store"
        elif self.scope.connected_to:
            streams = f"stream {self.scope.connected_to} and {len(self.stream_ids) - 1} connected stream(s)"
        elif len(self.stream_ids) == 1:
            streams = f"stream {self.stream_ids[0]}"
        else:
            streams = f"{len(self.stream_ids)} streams"
        parts = [streams]
        if self.empty:
            parts.append("no events in range")
        else:
            parts.append(f"positions {self.first_position:,}-{self.last_position:,}")
        if self.scope.since or self.scope.until:
            since = format_time(self.scope.since.astimezone(UTC))[:19] + "Z" if self.scope.since else "start"
            until = format_time(self.scope.until.astimezone(UTC))[:19] + "Z" if self.scope.until else "head"
            parts.append(f"recorded {since} to {until}")
        if self.scope.event_types:
            parts.append("types " + ", ".join(self.scope.event_types))
        if self.scope.actors:
            parts.append("actors " + ", ".join(self.scope.actors))
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": self.scope.to_json(),
            "stream_ids": None if self.stream_ids is None else list(self.stream_ids),
            "first_position": self.first_position,
            "last_position": self.last_position,
            "event_types": list(self.scope.event_types),
            "actors": list(self.scope.actors),
            "description": self.describe(),
        }


def resolve_scope(store: SQLiteEventStore, scope: ReportScope) -> ResolvedScope:
    """Pin `scope` to the store as it is now: the range ends at the head unless bounded."""
    head = store.head()
    first, last = 1, head.position
    if scope.from_position is not None:
        first = max(first, scope.from_position)
    if scope.to_position is not None:
        last = min(last, scope.to_position)
    for name, bound in (("start", scope.since), ("end", scope.until)):
        if bound is not None and not _in_utc_range(bound):
            raise ReportError(f"the {name} of the time range, {bound.isoformat()}, is outside the years 1 to 9999 "
                              "in UTC")
    if scope.since is not None and (since_us := to_us(scope.since)) > _EARLIEST_US:
        # (from the earliest time there is, every event is recorded at or after it: nothing to skip)
        first = max(first, store.position_at_time(from_us(since_us - 1)) + 1)
    if scope.until is not None:
        last = min(last, store.position_at_time(scope.until))
    if scope.since and scope.until and scope.until < scope.since:
        raise ReportError("the end of the time range is before its start")
    if scope.from_position is not None and scope.to_position is not None and scope.to_position < scope.from_position:
        raise ReportError("the last position of the range is before its first")
    stream_ids: tuple[str, ...] | None = None
    if scope.stream_ids or scope.connected_to:
        wanted = set(scope.stream_ids)
        for stream_id in wanted:
            if store.stream_info(stream_id) is None:
                raise ReportError(f"no stream {stream_id!r} in this store")
        if scope.connected_to:
            centre = _find_stream(store, scope.connected_to)
            wanted |= connected_streams(store, centre, first, last)
        stream_ids = tuple(sorted(wanted))
    empty = last < first
    return ResolvedScope(
        scope=scope,
        stream_ids=stream_ids,
        first_position=first,
        last_position=last,
        head_position=head.position,
        head_digest=head.chain_hash,
        first_recorded_at=None if empty else store.recorded_at_of(first),
        last_recorded_at=None if empty else store.recorded_at_of(last),
    )


_EARLIEST_US = to_us(datetime.min.replace(tzinfo=UTC))


def _in_utc_range(when: datetime) -> bool:
    """True when `when` has a UTC time a datetime can hold (0001-01-01T00:00+05:30 has none)."""
    try:
        (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        return False
    return True


def _find_stream(store: SQLiteEventStore, ref: str) -> str:
    for candidate in (ref, iot_device.device_stream(ref)):
        if store.stream_info(candidate) is not None:
            return candidate
    raise ReportError(f"no stream or device {ref!r} in this store")


def connected_streams(store: SQLiteEventStore, centre: str, first: int, last: int) -> set[str]:
    """`centre` and every device stream connected to it at the end of the range or during it.

    Connections are recorded on the connecting device's stream only, so both directions are
    folded from the DeviceConnected/DeviceDisconnected events up to the range's end (one scan
    over the event-type index).
    """
    to_stream = iot_device.device_stream
    centre_ref = {centre, iot_device.device_id_of(centre)}
    linked: set[str] = set()
    during: set[str] = set()
    flt = EventFilter(event_types=(iot_device.DEVICE_CONNECTED, iot_device.DEVICE_DISCONNECTED))
    for event in store.read_all(1, max(last, 0), None, flt):
        peer = str(event.data.get("peer_id", ""))
        if event.stream_id == centre:
            other = to_stream(peer)
        elif peer in centre_ref:
            other = event.stream_id
        else:
            continue
        if event.type == iot_device.DEVICE_CONNECTED:
            linked.add(other)
            if event.position >= first:
                during.add(other)
        else:
            linked.discard(other)
    return {centre} | {s for s in linked | during if store.stream_info(s) is not None}


# -- entries --------------------------------------------------------------------------------------


class FieldChange(NamedTuple):
    """One state field an event changed, in domain words (a tuple: made a million times a report).

    Attributes:
        path: the state path (`peers`, `last_call`).
        label: what a domain expert calls it (pack_for(stream_type).label).
        old / new: the values before and after (short text; "" when not worth showing).
    """

    path: str
    label: str
    old: str
    new: str

    def text(self) -> str:
        if not self.old or self.old == "-":
            return f"{self.label}: {self.new}"
        if not self.new:
            return f"{self.label}: {self.old}"
        return f"{self.label} {self.old} → {self.new}"


@dataclass(slots=True)
class ReportEntry:
    """One listed event, with everything a renderer prints.

    Attributes:
        position / stream_id / stream_type / version / type / event_id: the event.
        recorded_at: when the store took it (ISO UTC text); occurred_at: the domain's time or "".
        actor: metadata actor or "".
        sentence: one human-readable line from the domain pack.
        changes: the state fields it changed.
        event_hash: SHA-256 of its canonical bytes; chain_hash: the store's chain hash at it.
        data / metadata: the decoded JSON (for the appendix and the JSON report).
        problem: why the stored data could not be decoded, or "".
    """

    position: int
    recorded_at: str
    occurred_at: str
    stream_id: str
    stream_type: str
    version: int
    type: str
    actor: str
    sentence: str
    changes: tuple[FieldChange, ...]
    event_id: str
    event_hash: str
    chain_hash: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    problem: str = ""
    recorded_us: int = 0

    def changes_text(self) -> str:
        return "; ".join(c.text() for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded_at": self.recorded_at,
            "occurred_at": self.occurred_at or None,
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "type": self.type,
            "actor": self.actor,
            "summary": self.sentence,
            "changes": [{"path": c.path, "label": c.label, "old": c.old, "new": c.new} for c in self.changes],
            "event_id": self.event_id,
            "event_hash": self.event_hash,
            "chain_hash": self.chain_hash,
            "data": self.data,
            "metadata": self.metadata,
            **({"problem": self.problem} if self.problem else {}),
        }


_hour_text: dict[int, str] = {}
# "MM:SS." for every second of an hour: with the hour's text cached, an ISO time is two lookups
# and one small integer format (demo and real stores rarely repeat a second, often an hour).
_CLOCK = tuple(f"{m:02d}:{s:02d}." for m in range(60) for s in range(60))


def iso_us(value_us: int) -> str:
    """format_time(from_us(value_us)), many times faster (a report formats a million of them)."""
    hour, rest = divmod(value_us, 3_600_000_000)
    head = _hour_text.get(hour)
    if head is None:
        if len(_hour_text) >= 100_000:  # bounded: about 11 years of hours
            _hour_text.clear()
        at = datetime(1970, 1, 1) + timedelta(hours=hour)
        head = _hour_text[hour] = f"{at.year:04d}" + at.strftime("-%m-%dT%H:")
    seconds, micros = divmod(rest, 1_000_000)
    return f"{head}{_CLOCK[seconds]}{micros:06d}Z"


def stored_object(text: str) -> tuple[dict[str, Any], str]:
    """Stored data or metadata text as a report lists it: the JSON object, or `{}` and why the
    text is not one (the report marks such an event damaged; verification expects the same `{}`)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return {}, str(exc)
    if type(value) is not dict:
        return {}, "not a JSON object"
    return value, ""


def actor_of(metadata: Any) -> str:
    """The actor an event is reported under: its metadata's `actor` when that is a string, else "".

    The one definition behind a report's actor column, its `actors` filter (so `--actor ""` takes
    the events with no actor, a null, a number or a list as actor) and verification's scope check.
    """
    actor = metadata.get("actor") if type(metadata) is dict else None
    return actor if type(actor) is str else ""


def event_hash(position: int, stream_id: str, stream_type: str, version: int, event_type: str,
               recorded_at_us: int, event_id: str, data_text: str, metadata_text: str) -> str:
    """SHA-256 (hex) of one event's canonical bytes, the same bytes the chain hashes."""
    return hashlib.sha256(chain.event_bytes(position, stream_id, stream_type, version, event_type,
                                            recorded_at_us, event_id, data_text, metadata_text)).hexdigest()


class EventListDigest:
    """The running event-list digest: SHA-256 over `"<position> <event hash>\\n"` lines.

    Lines are hashed 4,096 at a time (one `update` per line costs more than the line itself).

    Attributes:
        count: events added so far.
    """

    def __init__(self, *, copy_to: IO[str] | None = None) -> None:
        self._sha = hashlib.sha256()
        self._lines: list[str] = []
        self._hashed = 0
        self._copy_to = copy_to  # a part of a split report also writes its lines here, for the whole's digest

    @property
    def count(self) -> int:
        return self._hashed + len(self._lines)

    def add(self, position: int, hash_hex: str) -> None:
        lines = self._lines
        lines.append(f"{position} {hash_hex}\n")
        if len(lines) >= 4096:
            self.flush()

    def add_file(self, path: str | os.PathLike[str], count: int) -> None:
        """Add `count` lines that a part of a split report wrote to `path` (read in blocks)."""
        self.flush()
        with open(path, "rb") as lines:
            while block := lines.read(1 << 20):
                self._sha.update(block)
        self._hashed += count

    def flush(self) -> None:
        """Hash (and copy) the lines added so far."""
        if self._lines:
            text = "".join(self._lines)
            self._sha.update(text.encode())
            if self._copy_to is not None:
                self._copy_to.write(text)
            self._hashed += len(self._lines)
            self._lines.clear()

    def hexdigest(self) -> str:
        self.flush()
        return self._sha.hexdigest()


def short_value(value: Any, name_of: Callable[[str], str | None] | None = None, width: int = VALUE_WIDTH) -> str:
    """A state value as short, one-line plain text; in lists, ids of known streams become names."""
    if value is None:
        return "-"
    kind = type(value)
    if kind is int or kind is float:
        return str(value)
    if kind is str:
        text = value
        if "\n" in text or "\r" in text or "\t" in text:
            text = " ".join(text.split())  # one line, whatever the data holds
    elif kind is bool:
        return "true" if value else "false"
    elif kind is list:
        if name_of is not None:
            value = [(name_of(v) or v) if type(v) is str else v for v in value]
        text = "[" + ", ".join([v if type(v) is str else short_value(v, None, width) for v in value]) + "]"
        if "\n" in text or "\r" in text or "\t" in text:
            text = " ".join(text.split())
    else:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()
        text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class _StreamFolds:
    """The state of every stream met so far, folded event by event; doubles as the name lookup."""

    def __init__(self, store: SQLiteEventStore, time_travel: TimeTravel, first_position: int) -> None:
        self.store = store
        self.tt = time_travel
        self.first_position = first_position
        self.states: dict[str, dict[str, Any]] = {}
        self.start_states: dict[str, tuple[int, dict[str, Any]]] = {}
        self.end_versions: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._looked_up: dict[str, str | None] = {}
        self._prefixes: set[str] = set()
        self.names_learnt = 0  # changes to the names known: equal counts, equal `name_of` answers
        self.texts_owed: _OwedTexts | None = None  # a summary pass's last listed entry, its texts left out

    def state_before(self, stream_id: str, stream_type: str, version: int) -> dict[str, Any]:
        state = self.states.get(stream_id)
        if state is None:
            if version <= 1:  # the stream begins inside the range: no fold needed
                state = pack_for(stream_type).decider.initial_state()
            else:
                state = self.tt.state_at(stream_id, version=version - 1).state
            self.states[stream_id] = state
            self.start_states[stream_id] = (version - 1, state)
            self.remember_name(stream_id, state)
        return state

    def set_state(self, stream_id: str, version: int, state: dict[str, Any]) -> None:
        self.states[stream_id] = state
        self.end_versions[stream_id] = version
        self.remember_name(stream_id, state)

    def remember_name(self, stream_id: str, state: dict[str, Any]) -> None:
        name = state.get("name") if type(state) is dict else None
        if name and type(name) is str and self._names.get(stream_id) != name:
            self._names[stream_id] = name
            self.names_learnt += 1
            # Domains refer to other entities by their id without the stream prefix (peer ids).
            prefix, sep, bare = stream_id.partition("-")
            if sep:
                self._names[bare] = name
                if prefix + sep not in self._prefixes:
                    self._prefixes.add(prefix + sep)
                    # A bare id looked up before may resolve now: answers depend only on what
                    # was folded, never on when a name was first asked for (parts of a split
                    # report must write the same sentences as one whole run).
                    self._looked_up.clear()

    def name_of(self, ref: str) -> str | None:
        found = self._names.get(ref)
        if found is not None:
            return found
        if ref in self._looked_up:
            return self._looked_up[ref]
        name = None
        info = self.store.stream_info(ref)
        for prefix in sorted(self._prefixes):
            if info is not None:
                break
            info = self.store.stream_info(prefix + ref)  # a bare id (a peer) of a stream type we know
        if info is not None:  # a stream outside the scope: its name as first registered
            decider = pack_for(info.stream_type).decider
            state = decider.fold_data(self.store.read_stream_data(info.stream_id, 1, 1), decider.initial_state())
            value = state.get("name") if isinstance(state, dict) else None
            name = value if isinstance(value, str) and value else None
        self._looked_up[ref] = name
        return name


class _OwedTexts(NamedTuple):
    """What the sentence and changed fields of a listed entry are made of (a summary pass
    leaves them out and makes them only for the one entry that stays: the last)."""

    position: int
    sentence_of: Callable[..., str]
    event_type: str
    data: dict[str, Any]
    stream_id: str
    stream_type: str
    before: dict[str, Any]
    after: dict[str, Any]
    problem: str
    names_learnt: int


def entry_texts(sentence_of: Callable[..., str], event_type: str, data: dict[str, Any], stream_id: str,
                stream_type: str, before: dict[str, Any], after: dict[str, Any], problem: str,
                name_of: Callable[[str], str | None]) -> tuple[str, tuple[FieldChange, ...]]:
    """An entry's one-line sentence (from the domain pack) and its changed fields."""
    sentence = sentence_of(event_type, data, stream_id, name_of) if not problem else f"[damaged event: {problem}]"
    if "\n" in sentence or "\r" in sentence or "\t" in sentence:
        sentence = " ".join(sentence.split())
    return sentence, field_changes(before, after, stream_type, name_of)


_MISSING = object()


def field_changes(before: dict[str, Any], after: dict[str, Any], stream_type: str,
                  name_of: Callable[[str], str | None]) -> tuple[FieldChange, ...]:
    """The top-level state fields that differ, labelled in the domain's words.

    Lists (sets such as peers) say what joined and what left; a nested record (the last call)
    reads best as one field with its new content. Fast on purpose: it runs once per event
    (evolve copies the state and replaces only what changed, so `is` skips the rest).
    """
    if before is after:
        return ()
    labels = _labels.get(stream_type)
    if labels is None:
        labels = _labels[stream_type] = dict(pack_for(stream_type).labels)
    get, label_of, change = before.get, labels.get, _new_change
    out = []
    new_keys = 0
    for key, new in after.items():
        old = get(key, _MISSING)
        if old is new:  # evolve copies a state and replaces only what changed: most keys hold the same object
            continue
        kind_new = type(new)
        if kind_new is int and type(old) is int:
            # The common case (counters), first and inlined: a call costs more than the formatting.
            if old != new:
                out.append(change((key, label_of(key, key), str(old), str(new))))
            continue
        if old == new:
            continue
        kind_old = type(old)
        label = label_of(key, key)
        if old is _MISSING:
            old, kind_old = None, type(None)
            new_keys += 1
        if kind_new is dict or kind_old is dict:
            values = new.values() if kind_new is dict else ()
            text = "[" + ", ".join([v if type(v) is str else short_value(v) for v in values]) + "]"
            out.append(change((key, label, "", short_value(text))))
        elif kind_old is list and kind_new is list:
            added = [v for v in new if v not in old]
            removed = [v for v in old if v not in new]
            out.append(change((key, label, "−" + short_value(removed, name_of) if removed else "",
                               "+" + short_value(added, name_of) if added else "")))
        elif kind_new is int and old is None:
            out.append(change((key, label, "-", str(new))))
        else:
            out.append(change((key, label, short_value(old), short_value(new))))
    if len(before) - len(after) + new_keys > 0:  # some key of `before` is gone (counted, not compared)
        for key in before:
            if key not in after:
                out.append(FieldChange(key, labels.get(key, key), short_value(before[key]), "-"))
    return tuple(out)


# FieldChange(...) without the namedtuple's Python-level __new__ (the same tuple subclass instance).
_new_change = partial(tuple.__new__, FieldChange)


_labels: dict[str, dict[str, str]] = {}


def iter_entries(
    store: SQLiteEventStore,
    resolved: ResolvedScope,
    *,
    time_travel: TimeTravel | None = None,
    on_fold: Callable[[_StreamFolds], None] | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    emit_from: int | None = None,
    emit_to: int | None = None,
    summary_only: bool = False,
) -> Iterator[ReportEntry]:
    """The report's events, one at a time, in position order (never all in memory).

    Every event of the scope's streams in the range is folded (so "changed fields" is right even
    when type or actor filters hide some), and only the matching ones are yielded.

    `emit_from` / `emit_to` yield only the entries of a part of the range while still folding
    from its start: the entries are exactly those of the whole run (explorer/reports/parallel.py
    splits a large report this way). Folding alone skips the sentence, diff and hash: a fifth
    of the work.

    `summary_only` (a pass that only counts, for the summary page): entries after the first come
    without sentence and changed fields, which are more than half the work; the last one's are
    owed in `folds.texts_owed` (`settle_last_texts` pays them).
    """
    if resolved.empty:
        return
    tt = time_travel or TimeTravel(store, None)
    folds = _StreamFolds(store, tt, resolved.first_position)
    if on_fold is not None:
        on_fold(folds)
    last = resolved.last_position if emit_to is None else min(emit_to, resolved.last_position)
    start = resolved.first_position if emit_from is None else emit_from
    total = last - resolved.first_position + 1
    types, actors = resolved.scope.event_types, resolved.scope.actors
    dumps, sha256 = orjson.dumps, hashlib.sha256
    kits: dict[str, tuple[Any, Any]] = {}  # stream type -> (its decider's evolve, its pack's sentence)
    name_of, state_before, remember = folds.name_of, folds.state_before, folds.remember_name
    states, end_versions = folds.states, folds.end_versions
    seen = 0
    texts_left_out = False  # a summary pass makes the texts of its first entry, then leaves them out
    for position, sid, stype, version, etype, rec_us, eid, data_text, meta_text, chash in store.read_raw(
            resolved.first_position, last, resolved.stream_ids):
        seen += 1
        if not seen & 255:  # every 256 rows: a cancel answers fast, the checks cost nothing
            if cancelled is not None and cancelled():
                raise ReportCancelled("the report was cancelled")
            if progress is not None and not seen & 2047:
                progress(position - resolved.first_position + 1, total)
        kit = kits.get(stype)
        if kit is None:
            pack = pack_for(stype)
            kit = kits[stype] = (pack.decider.evolve, pack.sentence)
        data, problem = stored_object(data_text)
        if problem:
            problem = f"stored data is not valid JSON ({problem})"
        before = states.get(sid)
        if before is None:
            before = state_before(sid, stype, version)
        try:
            after = kit[0](before, etype, data)
        except Exception as exc:  # noqa: BLE001 - a damaged event must not stop an audit report
            after, problem = before, problem or f"the {stype} decider cannot apply this event ({exc})"
        states[sid] = after
        end_versions[sid] = version
        if after is not before and type(after) is dict:
            name = after.get("name")
            if name and (type(before) is not dict or name is not before.get("name")):
                remember(sid, after)
        if position < start:  # folding only, up to this part of the range
            continue
        meta, why = stored_object(meta_text)
        if why and not problem:
            problem = f"stored metadata is not valid JSON ({why})"
        actor = actor_of(meta)
        if (types and etype not in types) or (actors and actor not in actors):
            continue
        occurred = data.get("occurred_at")
        if texts_left_out:
            sentence, changes = "", ()
            folds.texts_owed = _OwedTexts(position, kit[1], etype, data, sid, stype, before, after, problem,
                                          folds.names_learnt)
        else:
            sentence, changes = entry_texts(kit[1], etype, data, sid, stype, before, after, problem, name_of)
            texts_left_out = summary_only
        yield ReportEntry(
            position,
            iso_us(rec_us),
            occurred if type(occurred) is str else "",
            sid,
            stype,
            version,
            etype,
            actor,
            sentence,
            changes,
            eid,
            # event_hash(...) inlined (same bytes as chain.event_bytes): two calls fewer per event
            sha256(b"".join((dumps([position, sid, stype, version, etype, rec_us, eid]), b"\n",
                             data_text.encode(), b"\n", meta_text.encode()))).hexdigest(),
            chash,
            data,
            meta,
            problem,
            rec_us,
        )
    if progress is not None:
        progress(total, total)


# -- header, summary, integrity -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Annotation:
    """A saved bookmark shown in a report: a position with a note.

    Attributes:
        position: the event position it marks.
        note: the investigator's note (plain text).
        recorded_at: the marked event's recorded time (ISO UTC) or "".
    """

    position: int
    note: str
    recorded_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "note": self.note, "recorded_at": self.recorded_at or None}


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """Who made which report of which store, when.

    Attributes:
        title: the editable title.
        store_name / store_id / store_path: the store.
        generated_at_utc / generated_at_local: ISO times of the report.
        generated_by: the actor who made it.
        app_version: Event Explorer's version.
        scope: the pinned scope.
    """

    title: str
    store_name: str
    store_id: str
    store_path: str
    generated_at_utc: str
    generated_at_local: str
    generated_by: str
    app_version: str
    scope: ResolvedScope

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "store_name": self.store_name,
            "store_id": self.store_id,
            "store_path": self.store_path,
            "generated_at_utc": self.generated_at_utc,
            "generated_at_local": self.generated_at_local,
            "generated_by": self.generated_by,
            "app_version": self.app_version,
        }


@dataclass(frozen=True, slots=True)
class Integrity:
    """What lets anyone check the report against the store.

    Attributes:
        first_position / last_position: the range (positions).
        chain_hash_before_first: the chain hash at first_position - 1 (where a recomputation starts).
        chain_hash_at_first / chain_hash_at_last: the store's chain hash at the range's ends.
        head_position / head_digest: the store's head and its chain hash when the report was made.
        event_count: events listed.
        event_list_digest: SHA-256 over the listed events' "<position> <event hash>" lines.
    """

    first_position: int
    last_position: int
    chain_hash_before_first: str | None
    chain_hash_at_first: str | None
    chain_hash_at_last: str | None
    head_position: int
    head_digest: str
    event_count: int
    event_list_digest: str

    def to_json(self) -> dict[str, Any]:
        return {
            "first_position": self.first_position,
            "last_position": self.last_position,
            "chain_hash_before_first": self.chain_hash_before_first,
            "chain_hash_at_first": self.chain_hash_at_first,
            "chain_hash_at_last": self.chain_hash_at_last,
            "head_position": self.head_position,
            "head_digest": self.head_digest,
            "event_count": self.event_count,
            "event_list_digest": self.event_list_digest,
            "event_hash": "SHA-256 of the event's canonical chain bytes (docs/reports.md)",
            "event_list_digest_of": "SHA-256 of '<position> <event hash>\\n' per listed event, in position order",
        }


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """One stream's state at the start and the end of the range, and the diff between them.

    Attributes:
        stream_id / stream_type / name: the stream.
        start_version / end_version: versions at the range's start and end.
        start_state / end_state: the states (plain JSON-able).
        changes: the fields that differ, in domain words.
    """

    stream_id: str
    stream_type: str
    name: str
    start_version: int
    end_version: int
    start_state: dict[str, Any]
    end_state: dict[str, Any]
    changes: tuple[FieldChange, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "name": self.name,
            "start_version": self.start_version,
            "end_version": self.end_version,
            "start_state": self.start_state,
            "end_state": self.end_state,
            "changes": [{"path": c.path, "label": c.label, "old": c.old, "new": c.new} for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    """Events per equal time bucket over the range, by event type.

    Attributes:
        start / end: the bucketed span (recorded times), or None for an empty report.
        counts: event type -> counts per bucket.
        annotations: the bookmarks placed on it.
    """

    start: datetime | None
    end: datetime | None
    counts: dict[str, list[int]]
    annotations: tuple[Annotation, ...] = ()

    @property
    def buckets(self) -> int:
        return len(next(iter(self.counts.values()))) if self.counts else TIMELINE_BUCKETS

    def totals(self) -> list[int]:
        out = [0] * self.buckets
        for row in self.counts.values():
            for i, n in enumerate(row):
                out[i] += n
        return out

    def fraction_of(self, when: datetime) -> float:
        if self.start is None or self.end is None or self.end <= self.start:
            return 0.0
        return max(0.0, min(1.0, (when - self.start) / (self.end - self.start)))

    def to_json(self) -> dict[str, Any]:
        return {
            "start": format_time(self.start) if self.start else None,
            "end": format_time(self.end) if self.end else None,
            "counts": self.counts,
        }


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """The summary block.

    Attributes:
        counts_by_type / counts_by_actor: listed events per type / actor (sorted by count).
        first_event / last_event: the first and last listed entries, or None.
        streams: per-stream start/end states and diffs (at most MAX_STREAM_SUMMARIES).
        streams_changed: how many streams the range changed in all.
        timeline: the chart's data.
    """

    counts_by_type: dict[str, int]
    counts_by_actor: dict[str, int]
    first_event: ReportEntry | None
    last_event: ReportEntry | None
    streams: tuple[StreamSummary, ...]
    streams_changed: int
    timeline: Timeline

    def to_json(self) -> dict[str, Any]:
        return {
            "counts_by_type": self.counts_by_type,
            "counts_by_actor": self.counts_by_actor,
            "first_event": _brief(self.first_event),
            "last_event": _brief(self.last_event),
            "streams_changed": self.streams_changed,
            "streams": [s.to_json() for s in self.streams],
            "timeline": self.timeline.to_json(),
        }


def _brief(entry: ReportEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"position": entry.position, "recorded_at": entry.recorded_at, "stream_id": entry.stream_id,
            "type": entry.type, "actor": entry.actor, "summary": entry.sentence}


@dataclass(frozen=True, slots=True)
class Report:
    """A whole report except the event list (which is streamed by `iter_entries`).

    Attributes:
        header / summary / integrity: the blocks described above.
        annotations: bookmarks inside the range, in position order.
        include_data: whether renderers add the appendix with full event data.
    """

    header: ReportHeader
    summary: ReportSummary
    integrity: Integrity
    annotations: tuple[Annotation, ...] = ()
    include_data: bool = False

    def manifest_head(self) -> dict[str, Any]:
        """The machine-readable block (without the event listing) that verification reads."""
        return {
            "kind": REPORT_KIND,
            "schema": REPORT_SCHEMA,
            "header": self.header.to_json(),
            "scope": self.header.scope.to_json(),
            "integrity": self.integrity.to_json(),
        }


@dataclass(frozen=True, slots=True)
class PartSummary:
    """What one part of a split report counted (explorer/reports/parallel.py).

    Attributes:
        by_type / by_actor: listed events per type / actor, in order of first appearance.
        first / last: the part's first and last listed entries, or None.
        timeline: event type -> counts per bucket of the whole report's timeline.
        count: events listed (their digest lines are in the file the part's builder wrote).
    """

    by_type: dict[str, int]
    by_actor: dict[str, int]
    first: ReportEntry | None
    last: ReportEntry | None
    timeline: dict[str, list[int]]
    count: int


class SummaryBuilder:
    """Accumulates counts, first/last event, the timeline and the digest as entries stream by."""

    def __init__(self, resolved: ResolvedScope, *, buckets: int = TIMELINE_BUCKETS,
                 digest_lines: IO[str] | None = None) -> None:
        self.resolved = resolved
        self.by_type: Counter[str] = Counter()
        self.by_actor: Counter[str] = Counter()
        self.first: ReportEntry | None = None
        self.last: ReportEntry | None = None
        self.digest = EventListDigest(copy_to=digest_lines)
        self.folds: _StreamFolds | None = None
        self._buckets = buckets
        self._last_bucket = buckets - 1
        self._start_us = to_us(resolved.first_recorded_at) if resolved.first_recorded_at else 0
        end_us = to_us(resolved.last_recorded_at) if resolved.last_recorded_at else 0
        self._width = max(1, -(-(end_us - self._start_us + 1) // buckets))
        self.timeline: dict[str, list[int]] = {}

    def attach(self, folds: _StreamFolds) -> None:
        self.folds = folds

    def add(self, entry: ReportEntry) -> None:
        self.by_type[entry.type] += 1
        self.by_actor[entry.actor or "(none)"] += 1
        if self.first is None:
            self.first = entry
        self.last = entry
        self.digest.add(entry.position, entry.event_hash)
        row = self.timeline.get(entry.type)
        if row is None:
            row = self.timeline[entry.type] = [0] * self._buckets
        bucket = (entry.recorded_us - self._start_us) // self._width
        row[0 if bucket < 0 else self._last_bucket if bucket > self._last_bucket else bucket] += 1

    def part(self) -> PartSummary:
        """What this builder counted, to be merged into the builder of the whole report."""
        digest = self.digest
        digest.flush()  # every line into the part's file before the parent reads it
        return PartSummary(dict(self.by_type), dict(self.by_actor), self.first, self.last,
                           {k: list(v) for k, v in self.timeline.items()}, digest.count)

    def merge(self, part: PartSummary) -> None:
        """Add the counts of the next part of the range (parts are merged in position order)."""
        self.by_type.update(part.by_type)
        self.by_actor.update(part.by_actor)
        if self.first is None:
            self.first = part.first
        if part.last is not None:
            self.last = part.last
        for etype, counts in part.timeline.items():
            row = self.timeline.get(etype)
            if row is None:
                row = self.timeline[etype] = [0] * self._buckets
            for i, n in enumerate(counts):
                row[i] += n
        # The digest lines come separately (EventListDigest.add_file): they grow with the range.

    def summary(self, annotations: tuple[Annotation, ...], store: SQLiteEventStore,
                time_travel: TimeTravel,
                streams_part: tuple[tuple[StreamSummary, ...], int] | None = None) -> ReportSummary:
        """The summary block; `streams_part` is the per-stream half when another process folded the range."""
        streams, changed = streams_part if streams_part is not None else self.stream_summaries(store, time_travel)
        return ReportSummary(
            counts_by_type=dict(self.by_type.most_common()),
            counts_by_actor=dict(self.by_actor.most_common()),
            first_event=self.first,
            last_event=self.last,
            streams=streams,
            streams_changed=changed,
            timeline=Timeline(self.resolved.first_recorded_at, self.resolved.last_recorded_at,
                              dict(sorted(self.timeline.items())), annotations),
        )

    def stream_summaries(self, store: SQLiteEventStore,
                         time_travel: TimeTravel) -> tuple[tuple[StreamSummary, ...], int]:
        """Start and end state of the streams in scope (at most MAX_STREAM_SUMMARIES), and how many changed."""
        streams: list[StreamSummary] = []
        changed = 0
        folds = self.folds
        explicit = self.resolved.stream_ids or ()
        met = folds.start_states if folds is not None else {}
        ids = sorted(set(met) | set(explicit))
        for sid in ids:
            if folds is not None and sid in met:
                start_version, start = met[sid]
                end = folds.states[sid]
                end_version = folds.end_versions.get(sid, start_version)
            else:  # a stream in scope with no event in the range: unchanged
                info = store.stream_info(sid)
                if info is None:
                    continue
                at = time_travel.state_at(sid, position=self.resolved.last_position) if not self.resolved.empty \
                    else time_travel.state_at(sid, version=0)
                start_version = end_version = at.version
                start = end = at.state
            stype = store.stream_info(sid).stream_type if len(streams) < MAX_STREAM_SUMMARIES else ""
            name_of = folds.name_of if folds is not None else (lambda _ref: None)
            changes = field_changes(start, end, stype, name_of) if stype else ()
            if start != end:
                changed += 1
            if len(streams) < MAX_STREAM_SUMMARIES:
                name = end.get("name") if isinstance(end, dict) else None
                streams.append(StreamSummary(sid, stype, name if isinstance(name, str) else "", start_version,
                                             end_version, start, end, changes))
        return tuple(streams), changed


def make_header(store: SQLiteEventStore, resolved: ResolvedScope, *, title: str, generated_by: str | None,
                now: datetime | None = None) -> ReportHeader:
    now = now or datetime.now(UTC)
    return ReportHeader(
        title=" ".join(title.split()) or default_title(resolved, store),
        store_name=store.name,
        store_id=store.store_id,
        store_path=str(store.path.resolve()),
        generated_at_utc=format_time(now.astimezone(UTC)),
        generated_at_local=now.astimezone().isoformat(timespec="seconds"),
        generated_by=generated_by or current_user(),
        app_version=__version__,
        scope=resolved,
    )


def default_title(resolved: ResolvedScope, store: SQLiteEventStore | None = None) -> str:
    """"Audit report: <device name> (<stream>)" for one stream, else the scope's words."""
    if store is not None and resolved.stream_ids is not None and len(resolved.stream_ids) == 1:
        sid = resolved.stream_ids[0]
        name = _StreamFolds(store, TimeTravel(store, None), 1).name_of(sid)
        if name:
            return f"Audit report: {name} ({sid})"
    if store is not None and resolved.scope.connected_to and resolved.stream_ids:
        centre = _find_stream(store, resolved.scope.connected_to)
        name = _StreamFolds(store, TimeTravel(store, None), 1).name_of(centre) or centre
        return f"Audit report: {name} and its {len(resolved.stream_ids) - 1} connected device(s)"
    return "Audit report: " + resolved.describe().split(";")[0]


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a container is not an error
        return "unknown"


def make_integrity(store: SQLiteEventStore, resolved: ResolvedScope, digest: EventListDigest) -> Integrity:
    empty = resolved.empty
    return Integrity(
        first_position=resolved.first_position,
        last_position=resolved.last_position,
        chain_hash_before_first=None if empty else store.chain_hash_at(resolved.first_position - 1),
        chain_hash_at_first=None if empty else store.chain_hash_at(resolved.first_position),
        chain_hash_at_last=None if empty else store.chain_hash_at(resolved.last_position),
        head_position=resolved.head_position,
        head_digest=resolved.head_digest,
        event_count=digest.count,
        event_list_digest=digest.hexdigest(),
    )


def annotations_in(store: SQLiteEventStore, resolved: ResolvedScope,
                   bookmarks: list[tuple[int, str]] | None) -> tuple[Annotation, ...]:
    out = []
    for position, note in sorted(bookmarks or []):
        if resolved.first_position <= position <= resolved.last_position:
            when = store.recorded_at_of(position)
            out.append(Annotation(position, " ".join(str(note).split()), format_time(when) if when else ""))
    return tuple(out)


@dataclass
class ReportRun:
    """One pass over the scope that also builds the summary; iterate `entries()` exactly once.

    Attributes:
        store / resolved / header: what is being reported.
        report: the finished Report, available once `entries()` is exhausted.
    """

    store: SQLiteEventStore
    resolved: ResolvedScope
    header: ReportHeader
    annotations: tuple[Annotation, ...]
    include_data: bool = False
    time_travel: TimeTravel | None = None
    report: Report | None = None
    _builder: SummaryBuilder | None = field(default=None, repr=False)

    def entries(self, progress: Progress | None = None, cancelled: Cancelled | None = None, *,
                summary_only: bool = False) -> Iterator[ReportEntry]:
        """The listed entries; `summary_only`: without texts after the first (see `iter_entries`),
        for a pass that only needs `report`."""
        tt = self.time_travel or TimeTravel(self.store, None)
        builder = self._builder = SummaryBuilder(self.resolved)
        add = builder.add
        for entry in iter_entries(self.store, self.resolved, time_travel=tt, on_fold=builder.attach,
                                  progress=progress, cancelled=cancelled, summary_only=summary_only):
            add(entry)
            yield entry
        settle_last_texts(builder, self.store, self.resolved, tt, cancelled)
        self.finish(builder)

    def summarise(self, progress: Progress | None = None, cancelled: Cancelled | None = None) -> Report:
        """One summary pass in this process (no list kept); returns (and fills) `report`."""
        for _entry in self.entries(progress, cancelled, summary_only=True):
            pass
        assert self.report is not None
        return self.report

    def finish(self, builder: SummaryBuilder,
               streams_part: tuple[tuple[StreamSummary, ...], int] | None = None) -> Report:
        """Make `report` from a builder that has seen every listed entry (here or merged from parts)."""
        tt = self.time_travel or TimeTravel(self.store, None)
        self.report = Report(
            header=self.header,
            summary=builder.summary(self.annotations, self.store, tt, streams_part),
            integrity=make_integrity(self.store, self.resolved, builder.digest),
            annotations=self.annotations,
            include_data=self.include_data,
        )
        return self.report


def settle_last_texts(builder: SummaryBuilder, store: SQLiteEventStore, resolved: ResolvedScope,
                      time_travel: TimeTravel, cancelled: Cancelled | None = None) -> None:
    """Give the builder's last entry the sentence and changed fields a summary pass left out,
    exactly as a full pass makes them (see `iter_entries(summary_only=)`)."""
    entry, folds = builder.last, builder.folds
    owed = folds.texts_owed if folds is not None else None
    if entry is None or folds is None or owed is None or owed.position != entry.position:
        return  # none, or made whole as it was listed
    if owed.names_learnt == folds.names_learnt:  # every name lookup answers as it did then
        sentence, changes = entry_texts(*owed[1:9], folds.name_of)
        builder.last = replace(entry, sentence=sentence, changes=changes)
    else:  # a name changed after it (a rename that filters hide): fold the range again up to it
        builder.last = next(iter_entries(store, resolved, time_travel=time_travel, cancelled=cancelled,
                                         emit_from=entry.position, emit_to=entry.position))


def start_report(
    store: SQLiteEventStore,
    scope: ReportScope,
    *,
    title: str = "",
    generated_by: str | None = None,
    bookmarks: list[tuple[int, str]] | None = None,
    include_data: bool = False,
    time_travel: TimeTravel | None = None,
    now: datetime | None = None,
) -> ReportRun:
    """Pin the scope and prepare one pass; raises ReportError for a scope that cannot be reported."""
    resolved = resolve_scope(store, scope)
    header = make_header(store, resolved, title=title, generated_by=generated_by, now=now)
    return ReportRun(store, resolved, header, annotations_in(store, resolved, bookmarks), include_data, time_travel)


def analyse(store: SQLiteEventStore, scope: ReportScope, *, progress: Progress | None = None,
            cancelled: Cancelled | None = None, **kwargs: Any) -> ReportRun:
    """Run the first pass: header, summary and integrity ready (`run.report`), entries not kept."""
    run = start_report(store, scope, **kwargs)
    run.summarise(progress, cancelled)
    return run
