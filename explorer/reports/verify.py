"""Check a report against a store: the store still holds exactly the events the report lists.

Works from any report format: JSON (the report itself), HTML (the embedded block), PDF and CSV
(the `<file>.verify.json` sidecar beside them; a CSV's rows list the events). The check, over
the report's position range:

1. the chain: recompute every chain hash from the stored one before the range, over the stored
   bytes, and compare with each stored chain hash (a changed byte shows at its position), and
   compare the ends with the chain hashes the report printed (a rewritten history shows);
2. the list: walk the store's events in scope and the report's listing side by side; every
   position must be in both with the same event hash; recompute the event-list digest;
3. the listed fields: where the report shows an event's fields (a JSON report's events, a CSV's
   rows), each must equal the stored event's (a report edited with its hashes kept shows).
   The derived texts (summary sentence, changed fields, the summary block) are not checked.

A JSON report in the layout we write (one event per line) is streamed, never held whole; any
other valid JSON report (re-indented, on one line) is parsed whole.

Every difference is named by its position.
"""

from __future__ import annotations

import csv
import hashlib
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from explorer.reports.csv import COLUMNS as CSV_COLUMNS
from explorer.reports.csv import cell as csv_cell
from explorer.reports.html import MANIFEST_ID
from explorer.reports.json_report import EVENTS_OPEN
from explorer.reports.model import (
    REPORT_KIND,
    Cancelled,
    EventListDigest,
    Progress,
    ReportCancelled,
    ReportError,
    actor_of,
    iso_us,
    stored_object,
)
from explorer.reports.writer import sidecar_path
from explorer.store import chain
from explorer.store.sqlite import SQLiteEventStore

MAX_PROBLEMS = 50
SHOWN_WIDTH = 60  # characters of a differing value shown in a problem

# (position, stream_id, stream_type, version, type, recorded_at_us, event_id, data, metadata, chain_hash)
RawEvent = tuple[int, str, str, int, str, int, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Problem:
    """One difference: the position it is at (None for the report as a whole) and what differs."""

    position: int | None
    message: str

    def text(self) -> str:
        return f"position {self.position}: {self.message}" if self.position is not None else self.message


@dataclass
class ReportVerification:
    """The outcome of `verify_report`.

    Attributes:
        ok: True when the store holds exactly the listed events and the chain is intact.
        listed: events the report lists; checked: store events read in the range.
        problems: the differences, in position order (at most MAX_PROBLEMS).
        notes: what was not checked and why (e.g. a CSV's rows when only its sidecar is there).
        event_list_digest: the digest recomputed from the store.
        title / store_id: from the report.
    """

    ok: bool = True
    listed: int = 0
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    event_list_digest: str = ""
    title: str = ""
    store_id: str = ""

    @property
    def first_bad_position(self) -> int | None:
        positions = [p.position for p in self.problems if p.position is not None]
        return min(positions) if positions else None

    def add(self, position: int | None, message: str) -> None:
        self.ok = False
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(position, message))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "listed": self.listed, "checked": self.checked,
                "first_bad_position": self.first_bad_position, "event_list_digest": self.event_list_digest,
                "problems": [{"position": p.position, "message": p.message} for p in self.problems],
                "notes": list(self.notes)}


# -- reading a report -------------------------------------------------------------------------------


class _NotLineLayout(Exception):
    """A JSON report is not in the one-event-per-line layout we write: read it whole instead."""


# One listed event: its position, its event hash, and the record that shows its fields (a JSON
# report's event, a CSV row) or None when the listing holds only positions and hashes.
Listed = tuple[int, str, Any]


@dataclass
class Manifest:
    """What verification needs from a report file.

    Attributes:
        head: kind, header, scope and integrity blocks.
        source: the file the listing comes from.
        kind: "json" (streamed by line), "json-whole" (parsed whole: `events`), "csv" (its rows),
            "inline" (`inline`: [position, hash] pairs) or "digest" (a CSV's sidecar without its CSV:
            no listing, only the event-list digest can be checked).
        inline / events: the listing when it is held in memory.
    """

    head: dict[str, Any]
    source: Path
    kind: str
    inline: list[list[Any]] | None = None
    events: list[Any] | None = None

    def listed(self) -> Iterator[Listed]:
        """The listed events in the report's order; ReportError when one is damaged."""
        if self.kind == "inline":
            return _inline_listed(self.inline or [], self.source)
        if self.kind == "csv":
            return _csv_rows(self.source)
        if self.kind == "json":
            return _json_lines(self.source)
        if self.kind == "json-whole":
            return _json_listed(self.events or [], self.source)
        return iter(())

    def read_whole(self) -> Manifest:
        """This JSON report parsed whole (when it is not in the line layout we write)."""
        head, events = _whole_json(self.source)
        return Manifest(head, self.source, "json-whole", events=events)

    def differences(self) -> Callable[[Any, RawEvent], list[str]] | None:
        """The check of one listed record against its stored event, or None (nothing shown to check)."""
        if self.kind in ("json", "json-whole"):
            return _json_differences
        if self.kind == "csv":
            return _csv_check()
        return None


def load_manifest(path: str | Path) -> Manifest:
    """Read the machine-readable block of a report in any format; ReportError when there is none."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such report file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json" and not path.name.endswith(".verify.json"):
            head = _json_head(path)
            if head is None:  # not the layout we write (re-indented, on one line): one parse
                whole, events = _whole_json(path)
                return Manifest(whole, path, "json-whole", events=events)
            return Manifest(_checked_json(head, path), path, "json")
        if suffix in (".html", ".htm"):
            text = path.read_text(encoding="utf-8", errors="replace")
            found = re.search(rf'<script type="application/json" id="{MANIFEST_ID}">(.*?)</script>', text, re.S)
            if found is None:
                raise ReportError(f"{path}: no Event Explorer verification block in this HTML file")
            data = orjson.loads(found.group(1))
            return Manifest(_checked(data, path), path, "inline", data.get("events", []))
        side = path if path.name.endswith(".verify.json") else sidecar_path(path)
        if not side.is_file():
            raise ReportError(f"{path}: its verification sidecar {side.name} is missing; keep it beside the report")
        data = orjson.loads(side.read_bytes())
        _checked(data, side)
        if data.get("events_in"):
            # A CSV's rows: the CSV named, else the one the sidecar names (when it is still there).
            rows = path if side is not path else side.with_name(str(data["events_in"]))
            if rows.is_file():
                _csv_columns(rows)
                return Manifest(data, rows, "csv")
            return Manifest(data, rows, "digest")
        return Manifest(data, side, "inline", data.get("events", []))
    except orjson.JSONDecodeError as exc:
        raise ReportError(f"{path}: the report's machine-readable block is not valid JSON ({exc})") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ReportError(f"{path}: the report's machine-readable block is damaged ({exc})") from None


def _inline_listed(items: list[Any], path: Path) -> Iterator[Listed]:
    for n, item in enumerate(items):
        try:
            position, digest = item
            position = int(position)
        except (TypeError, ValueError):
            raise ReportError(f"{path}: item {n + 1} of the listing is damaged ({item!r:.80})") from None
        yield position, str(digest), None


def _checked(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("kind") != REPORT_KIND or "integrity" not in data:
        raise ReportError(f"{path}: not an Event Explorer report block")
    return data


def _checked_json(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or "integrity" not in data:
        raise ReportError(f"{path}: a JSON file, but not an Event Explorer report (no integrity block)")
    return data


def _json_head(path: Path) -> dict[str, Any] | None:
    """Everything but the events of a JSON report in the layout we write, reading the event lines
    without keeping them; None when the file is not in that layout.

    The layout (json_report.py): a first line `{"kind": …`, one line `"events": [`, one event per
    line, a line `],`, the rest. The head is the file with that block replaced by `"events": [],`:
    when it parses as an object whose `events` is that empty list, the block sat at the top level.
    (The event lines are checked as they are read: `_json_lines`.)
    """
    head_lines: list[bytes] = []
    blocks = 0
    with path.open("rb") as handle:
        first = handle.readline(4096)  # ours is short; a report on one line is not read twice here
        if not (first.startswith(b'{"kind"') and first.endswith(b"\n")):
            return None
        head_lines.append(first)
        in_events = False
        for line in handle:
            bare = line.rstrip(b"\r\n")
            if in_events:
                if bare == b"],":
                    in_events = False
                    head_lines.append(b'"events": [],\n')
                continue
            if bare == EVENTS_OPEN:
                in_events = True
                blocks += 1
                continue
            head_lines.append(line)
    if blocks != 1 or in_events:
        return None
    try:
        head = orjson.loads(b"".join(head_lines))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(head, dict) or head.pop("events", None) != []:
        return None
    return head


def _json_lines(path: Path) -> Iterator[Listed]:
    """The events of a JSON report in the layout we write, one per line, parsed one at a time.

    Raises _NotLineLayout at the first line that breaks the layout (the caller reads the file
    whole then: a valid report in another layout verifies the same, an invalid one gets an error).
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    with path.open("rb") as handle:
        for line in handle:
            if line.rstrip(b"\r\n") == EVENTS_OPEN:
                break
        else:
            raise _NotLineLayout
        first, comma, count = True, False, 0
        for line in handle:
            bare = line.rstrip(b"\r\n")
            if bare == b"],":
                if comma:  # `{…},` before the end: not JSON
                    raise _NotLineLayout
                return
            if not (first or comma):  # two events without a comma between them
                raise _NotLineLayout
            comma = bare.endswith(b",")
            try:
                event = loads(bare[:-1] if comma else bare)
            except decode_error:  # an event spread over lines, or a damaged line
                raise _NotLineLayout from None
            first = False
            count += 1
            if type(event) is not dict or type(position := event.get("position")) is not int \
                    or type(digest := event.get("event_hash")) is not str:
                raise _damaged(path, count)
            yield position, digest, event
    raise _NotLineLayout  # no end of the list


def _whole_json(path: Path) -> tuple[dict[str, Any], list[Any]]:
    """A JSON report parsed whole: its head (all but the events) and its event list."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON, so not a report that can be verified ({exc})") from None
    data = _checked_json(data, path)
    events = data.pop("events", None)
    if not isinstance(events, list):
        raise ReportError(f"{path}: a JSON report without its event list (`events`)")
    return data, events


def _json_listed(events: list[Any], path: Path) -> Iterator[Listed]:
    for n, event in enumerate(events):
        if type(event) is not dict or type(event.get("position")) is not int \
                or type(event.get("event_hash")) is not str:
            raise _damaged(path, n + 1)
        yield event["position"], event["event_hash"], event


def _damaged(path: Path, number: int) -> ReportError:
    return ReportError(f"{path}: event {number} of the report's list is damaged (no position or event hash)")


def _csv_columns(path: Path) -> None:
    """ReportError unless the CSV's header row names every column of a CSV report."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not readable as CSV ({exc})") from None
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ReportError(f"{path}: not a CSV report (no column {', '.join(missing)} in its first row)")


def _csv_rows(path: Path) -> Iterator[Listed]:
    """The rows of a CSV report: position, event hash and the checked cells (`_CSV_FIELDS`, None
    for a cell the row lacks)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            width = len(header)
            at_position, at_hash = header.index("position"), header.index("event_hash")
            shown = operator.itemgetter(*[header.index(name) for name in _CSV_FIELDS])
            for row in reader:
                if not row:  # a blank line (csv.DictReader skips them too)
                    continue
                if len(row) < width:
                    row += [None] * (width - len(row))
                position = row[at_position]
                if not (position and position.isascii() and position.isdigit()):
                    raise ReportError(f"{path}: line {reader.line_num}: the position {position!r:.40} is not a number")
                yield int(position), row[at_hash] or "", shown(row)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: line {reader.line_num}: not readable as CSV ({exc})") from None


# -- the listed fields against the store --------------------------------------------------------------

_ABSENT = object()
_SORTED = orjson.OPT_SORT_KEYS


def _shown(value: Any) -> str:
    """A value in a problem line: JSON text (control characters escaped), shortened."""
    if value is _ABSENT:
        return "nothing"
    text = orjson.dumps(value, option=_SORTED, default=str).decode()
    return text if len(text) <= SHOWN_WIDTH else text[: SHOWN_WIDTH - 1] + "…"


def _differs(name: str, reported: Any, stored: Any) -> str:
    if reported is _ABSENT:
        return f"the report shows no {name} (the store's is {_shown(stored)})"
    return f"the report's {name} {_shown(reported)} differs from the store's {_shown(stored)}"


def _same(a: Any, b: Any) -> bool:
    """Equal JSON values, type for type (1, 1.0 and true are three values here)."""
    if type(a) is not type(b):
        return False
    if type(a) in (str, int) or a is None:
        return bool(a == b)
    return orjson.dumps(a, option=_SORTED) == orjson.dumps(b, option=_SORTED)


def _object_differs(name: str, reported: Any, stored: dict[str, Any]) -> str:
    if type(reported) is not dict:
        return _differs(name, reported, stored)
    for key in sorted(set(reported) | set(stored)):
        mine, theirs = reported.get(key, _ABSENT), stored.get(key, _ABSENT)
        if mine is _ABSENT or theirs is _ABSENT or not _same(mine, theirs):
            return (f"the report's {name} differs from the store's in {_shown(key)}: "
                    f"{_shown(mine)} in the report, {_shown(theirs)} in the store")
    return _differs(name, reported, stored)  # (not reached: the objects differ somewhere)


# The fields of a JSON report's event that come from the store (ReportEntry.to_json), in the order
# `_json_differences` compares them.
_JSON_FIELDS = ("stream_id", "stream_type", "version", "type", "event_id", "chain_hash", "recorded_at", "actor",
                "occurred_at", "data", "metadata")
_json_fields_of = operator.itemgetter(*_JSON_FIELDS)


def _json_differences(event: dict[str, Any], row: RawEvent) -> list[str]:
    """How a JSON report's event differs from the stored one, field by field ([] when it does not).

    Every field the writer takes from the store is compared (ReportEntry.to_json); `summary`,
    `changes` and `problem` are derived texts and are not. Made for the common case, where
    nothing differs: one tuple comparison (a report can list a million events).
    """
    _position, sid, stype, version, etype, rec_us, eid, data_text, meta_text, chash = row
    get = event.get
    exact = True
    # Stored data and metadata are canonical JSON, the very bytes orjson writes of the report's
    # copy: equal bytes need no parse of the stored text.
    data = get("data")
    if type(data) is not dict or orjson.dumps(data, option=_SORTED) != data_text.encode():
        stored_data = stored_object(data_text)[0]  # as the report lists it: {} for a damaged event
        exact = _same(data, stored_data)
        data = stored_data
    meta = get("metadata")
    if type(meta) is not dict or orjson.dumps(meta, option=_SORTED) != meta_text.encode():
        stored_meta = stored_object(meta_text)[0]
        exact = exact and _same(meta, stored_meta)
        meta = stored_meta
    occurred = data.get("occurred_at")
    stored = (sid, stype, version, etype, eid, chash, iso_us(rec_us), actor_of(meta),
              occurred if type(occurred) is str and occurred else None, data, meta)
    try:
        reported = _json_fields_of(event)
    except KeyError:  # a field missing: named below
        reported = tuple([get(name, _ABSENT) for name in _JSON_FIELDS])
    else:
        if exact and reported == stored and type(reported[2]) is int:
            return []
    out = []
    for name, mine, theirs in zip(_JSON_FIELDS, reported, stored, strict=True):
        if mine is _ABSENT or not _same(mine, theirs):
            out.append(_object_differs(name, mine, theirs) if type(theirs) is dict else _differs(name, mine, theirs))
    return out


_CSV_FIELDS = ("recorded_at", "occurred_at", "stream_id", "stream_type", "version", "type", "actor", "event_id",
               "chain_hash")


def _csv_check() -> Callable[[tuple[str | None, ...], RawEvent], list[str]]:
    """The check of a CSV report's rows against the stored events (one per report: its cache)."""
    cells: dict[str, str] = {}  # stream ids, types and actors repeat: their cells are made once

    def cell_of(text: str) -> str:
        found = cells.get(text)
        if found is None:
            if len(cells) >= 100_000:
                cells.clear()
            found = cells[text] = csv_cell(text)
        return found

    def differences(row: tuple[str | None, ...], stored: RawEvent) -> list[str]:
        """How a row's cells (`_CSV_FIELDS`) differ from the stored event ([] when they do not).

        A cell is compared with what the writer makes of the stored value (csv.cell: a leading
        apostrophe before formula-like text); `summary` and `changes` are derived texts and are not.
        """
        _position, sid, stype, version, etype, rec_us, eid, data_text, meta_text, chash = stored
        # Only the data's top-level `occurred_at` is shown: without that text there is no such key
        # (an escaped key has a backslash), and an event's data needs no parse.
        occurred = None
        if '"occurred_at"' in data_text or "\\" in data_text:
            occurred = stored_object(data_text)[0].get("occurred_at")
        expected = (iso_us(rec_us), csv_cell(occurred) if type(occurred) is str else "", cell_of(sid),
                    cell_of(stype), str(version), cell_of(etype), cell_of(actor_of(stored_object(meta_text)[0])),
                    csv_cell(eid), csv_cell(chash))
        if row == expected:
            return []
        return [_differs(name, _ABSENT if cell is None else cell, value)
                for name, cell, value in zip(_CSV_FIELDS, row, expected, strict=True) if cell != value]

    return differences


# -- the check --------------------------------------------------------------------------------------


def verify_report(store: SQLiteEventStore, report_path: str | Path, *, progress: Progress | None = None,
                  cancelled: Cancelled | None = None) -> ReportVerification:
    """Check the report at `report_path` against `store` (see the module docstring)."""
    manifest = load_manifest(report_path)
    try:
        return _verify(store, manifest, progress, cancelled)
    except _NotLineLayout:  # an edited JSON report: its head looked like ours, its events do not
        return _verify(store, manifest.read_whole(), progress, cancelled)


def _verify(store: SQLiteEventStore, manifest: Manifest, progress: Progress | None,
            cancelled: Cancelled | None) -> ReportVerification:
    head = manifest.head
    integrity, scope, header = head.get("integrity"), head.get("scope") or {}, head.get("header") or {}
    if not (isinstance(integrity, dict) and isinstance(scope, dict) and isinstance(header, dict)):
        raise ReportError(f"{manifest.source}: the report's header, scope or integrity block is damaged")
    try:
        first, last = int(integrity["first_position"]), int(integrity["last_position"])
    except (KeyError, TypeError, ValueError):
        raise ReportError(f"{manifest.source}: the report's integrity block has no position range") from None
    result = ReportVerification(title=str(header.get("title", "")), store_id=str(header.get("store_id", "")))
    if header.get("store_id") and header["store_id"] != store.store_id:
        result.add(None, f"the report is of store {header['store_id']}, not of this store ({store.store_id})")
        return result
    stream_ids = scope.get("stream_ids")
    stream_set = None if stream_ids is None else set(stream_ids)
    types = set(scope.get("event_types") or [])
    actors = set(scope.get("actors") or [])
    listed = manifest.listed()
    pending = next(listed, None)
    differences = manifest.differences()
    digest_only = manifest.kind == "digest"
    digest = EventListDigest()
    store_head = store.head().position
    if last >= first:
        if store_head < last:
            result.add(store_head + 1, f"the report's range ends at position {last}, but the store ends at "
                                       f"{store_head}: events are missing")
        before = store.chain_hash_at(first - 1)
        if integrity.get("chain_hash_before_first") and before != integrity["chain_hash_before_first"]:
            result.add(first - 1, "the chain hash before the report's range differs from the report's: "
                                  "the history before the range was rewritten")
        chash = before or chain.GENESIS
        expected = first
        total = last - first + 1
        event_bytes, next_hash, sha256, add_to_digest = chain.event_bytes, chain.next_hash, hashlib.sha256, digest.add
        checked = 0
        for row in store.read_raw(first, last):
            position, sid, stype, version, etype, rec_us, eid, data_text, meta_text, stored = row
            checked += 1
            if not checked % 5000:
                if cancelled is not None and cancelled():
                    raise ReportCancelled("verification was cancelled")
                if progress is not None:
                    progress(checked, total)
            if position != expected:
                result.add(expected, f"missing from the store (the next event is at position {position})")
            expected = position + 1
            payload = event_bytes(position, sid, stype, version, etype, rec_us, eid, data_text, meta_text)
            chash = next_hash(chash, payload)
            if chash != stored:
                result.add(position, "its stored content does not match its chain hash (the event was altered)")
                chash = stored  # go on from the stored chain, so one altered event is named once
            if position == first and integrity.get("chain_hash_at_first") not in (None, stored):
                result.add(position, "the chain hash at the range's first position differs from the report's")
            if position == last and integrity.get("chain_hash_at_last") not in (None, stored):
                result.add(position, "the chain hash at the range's last position differs from the report's "
                                     "(the history was rewritten)")
            while pending is not None and pending[0] < position:
                result.add(pending[0], "listed in the report, but the store holds no such event in scope")
                pending = next(listed, None)
            in_scope = (stream_set is None or sid in stream_set) and (not types or etype in types)
            if in_scope and actors:
                in_scope = actor_of(stored_object(meta_text)[0]) in actors
            is_listed = pending is not None and pending[0] == position
            if in_scope or is_listed:
                own = sha256(payload).hexdigest()
                if in_scope:
                    add_to_digest(position, own)
                if is_listed:
                    assert pending is not None
                    result.listed += 1
                    if pending[1] != own:
                        result.add(position, f"the event differs from the one the report lists "
                                             f"({etype} on {sid} version {version})")
                    elif not in_scope:
                        result.add(position, "listed in the report, but outside the report's scope")
                    elif differences is not None:
                        for difference in differences(pending[2], row):
                            result.add(position, difference)
                    pending = next(listed, None)
                elif not digest_only:
                    result.add(position, f"an event in the report's scope that the report does not list "
                                         f"({etype} on {sid})")
        result.checked = checked
        if expected <= last and store_head >= last:
            result.add(expected, "missing from the store")
    while pending is not None:
        result.listed += 1
        result.add(pending[0], "listed in the report, but outside its range or missing from the store")
        pending = next(listed, None)
    result.event_list_digest = digest.hexdigest()
    if digest.hexdigest() != integrity.get("event_list_digest"):
        result.add(None, "the event-list digest recomputed from the store differs from the report's")
    if digest_only:
        # The digest covers every listed position and event hash: equal digests, equal listings.
        result.listed = digest.count if result.event_list_digest == integrity.get("event_list_digest") else 0
        result.notes.append(f"the rows of {manifest.source.name} were not checked: it is not beside its "
                            "sidecar; only the sidecar's event-list digest and range were")
    result.problems.sort(key=lambda p: (p.position is None, p.position or 0))
    return result
