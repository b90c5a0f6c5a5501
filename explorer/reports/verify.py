"""Check a report against a store: the store still holds exactly the events the report lists.

Works from any report format: JSON (the report itself, streamed line by line), HTML (the
embedded block), PDF and CSV (the `<file>.verify.json` sidecar beside them; a CSV also lists
each event's hash in its own rows). The check, over the report's position range:

1. the chain: recompute every chain hash from the stored one before the range, over the stored
   bytes, and compare with each stored chain hash (a changed byte shows at its position), and
   compare the ends with the chain hashes the report printed (a rewritten history shows);
2. the list: walk the store's events in scope and the report's listing side by side; every
   position must be in both with the same event hash; recompute the event-list digest.

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


@dataclass
class Manifest:
    """What verification needs from a report file.

    Attributes:
        head: kind, header, scope and integrity blocks.
        source: the file the listing comes from; kind: "json", "csv" or "inline".
        inline: the [position, hash] listing when it was embedded (HTML/PDF sidecar).
    """

    head: dict[str, Any]
    source: Path
    kind: str
    inline: list[list[Any]] | None = None

    def listed(self) -> Iterator[tuple[int, str]]:
        if self.kind == "inline":
            for position, digest in self.inline or []:
                yield int(position), str(digest)
        elif self.kind == "csv":
            with self.source.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    yield int(row["position"]), row["event_hash"]
        else:
            for event in _json_events(self.source):
                yield int(event["position"]), str(event["event_hash"])


def load_manifest(path: str | Path) -> Manifest:
    """Read the machine-readable block of a report in any format; ReportError when there is none."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"{path}: no such report file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json" and not path.name.endswith(".verify.json"):
            head = _json_head(path)
            if "integrity" not in head:
                raise ReportError(f"{path}: a JSON file, but not an Event Explorer report (no integrity block)")
            return Manifest(head, path, "json")
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


def _checked(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("kind") != REPORT_KIND or "integrity" not in data:
        raise ReportError(f"{path}: not an Event Explorer report block")
    return data


def _json_head(path: Path) -> dict[str, Any]:
    """Everything but the events of a JSON report, reading the event lines without keeping them."""
    head_lines: list[bytes] = []
    with path.open("rb") as handle:
        first = handle.readline()
        if not first.startswith(b'{"kind"'):
            return _whole_json(path)  # reformatted by someone: fall back to one parse
        head_lines.append(first)
        in_events = False
        for line in handle:
            if line.startswith(EVENTS_OPEN):
                in_events = True
                if line.rstrip().endswith(b"],"):
                    in_events = False
                continue
            if in_events:
                if line.startswith(b"],"):
                    in_events = False
                continue
            head_lines.append(line)
    return orjson.loads(b"".join(head_lines))


def _whole_json(path: Path) -> dict[str, Any]:
    data = orjson.loads(path.read_bytes())
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not an Event Explorer report")
    return {k: v for k, v in data.items() if k != "events"}


def _json_events(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        first = handle.readline()
        if not first.startswith(b'{"kind"'):
            yield from orjson.loads(path.read_bytes()).get("events", [])
            return
        in_events = False
        for line in handle:
            if line.startswith(EVENTS_OPEN):
                in_events = not line.rstrip().endswith(b"],")
                continue
            if in_events:
                if line.startswith(b"],"):
                    return
                yield orjson.loads(line.rstrip().rstrip(b","))


# -- the check --------------------------------------------------------------------------------------


def verify_report(store: SQLiteEventStore, report_path: str | Path, *, progress: Progress | None = None,
                  cancelled: Cancelled | None = None) -> ReportVerification:
    """Check the report at `report_path` against `store` (see the module docstring)."""
    manifest = load_manifest(report_path)
    head = manifest.head
    integrity, scope = head["integrity"], head.get("scope", {})
    header = head.get("header", {})
    result = ReportVerification(title=str(header.get("title", "")), store_id=str(header.get("store_id", "")))
    if header.get("store_id") and header["store_id"] != store.store_id:
        result.add(None, f"the report is of store {header['store_id']}, not of this store ({store.store_id})")
        return result
    first, last = int(integrity["first_position"]), int(integrity["last_position"])
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
        for row in store.read_raw(first, last):
            position, sid, stype, version, etype, rec_us, eid, data_text, meta_text, stored = row
            result.checked += 1
            if result.checked % 5000 == 0:
                if cancelled is not None and cancelled():
                    raise ReportCancelled("verification was cancelled")
                if progress is not None:
                    progress(result.checked, total)
            if position != expected:
                result.add(expected, f"missing from the store (the next event is at position {position})")
            expected = position + 1
            payload = chain.event_bytes(position, sid, stype, version, etype, rec_us, eid, data_text, meta_text)
            chash = chain.next_hash(chash, payload)
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
                own = hashlib_hex(payload)
                if in_scope:
                    digest.add(position, own)
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


def hashlib_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()

