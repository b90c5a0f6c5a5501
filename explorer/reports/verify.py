"""Check a report against a store: the store still holds exactly the events the report lists.

Works from any report format: JSON (the report itself), HTML (the embedded block), PDF and CSV
(the `<file>.verify.json` sidecar beside them; a CSV also lists each event's hash in its own
rows). The check, over the report's position range:

1. the chain: recompute every chain hash from the stored one before the range, over the stored
   bytes, and compare with each stored chain hash (a changed byte shows at its position), and
   compare the ends with the chain hashes the report printed (a rewritten history shows);
2. the list: walk the store's events in scope and the report's listing side by side; every
   position must be in both with the same event hash; recompute the event-list digest.

A JSON report in the layout we write (one event per line) is streamed, never held whole; any
other valid JSON report (re-indented, on one line) is parsed whole.

Every difference is named by its position.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

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
    stored_object,
)
from explorer.reports.writer import sidecar_path
from explorer.store import chain
from explorer.store.sqlite import SQLiteEventStore

MAX_PROBLEMS = 50


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
        event_list_digest: the digest recomputed from the store.
        title / store_id: from the report.
    """

    ok: bool = True
    listed: int = 0
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
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
                "problems": [{"position": p.position, "message": p.message} for p in self.problems]}


# -- reading a report -------------------------------------------------------------------------------


class _NotLineLayout(Exception):
    """A JSON report is not in the one-event-per-line layout we write: read it whole instead."""


# One listed event: its position, its event hash, and the JSON report's event (None for the others).
Listed = tuple[int, str, Any]


@dataclass
class Manifest:
    """What verification needs from a report file.

    Attributes:
        head: kind, header, scope and integrity blocks.
        source: the file the listing comes from.
        kind: "json" (streamed by line), "json-whole" (parsed whole: `events`), "csv" (its rows) or
            "inline" (`inline`: [position, hash] pairs).
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
            return _csv_listed(self.source)
        if self.kind == "json":
            return _json_lines(self.source)
        return _json_listed(self.events or [], self.source)

    def read_whole(self) -> Manifest:
        """This JSON report parsed whole (when it is not in the line layout we write)."""
        head, events = _whole_json(self.source)
        return Manifest(head, self.source, "json-whole", events=events)


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
            listing = side.with_name(str(data["events_in"]))
            if not listing.is_file():
                raise ReportError(f"{side}: the CSV it describes ({listing.name}) is missing")
            return Manifest(data, listing, "csv")
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


def _csv_listed(path: Path) -> Iterator[Listed]:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield int(row["position"]), row["event_hash"], None


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
                    pending = next(listed, None)
                else:
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
    result.problems.sort(key=lambda p: (p.position is None, p.position or 0))
    return result
