"""The CSV report: one row per listed event, streamed (flat memory on any size).

Columns (docs/reports.md): position, recorded_at, occurred_at, stream_id, stream_type, version,
type, actor, summary, changes, event_id, event_hash, chain_hash. Text cells that a spreadsheet
would run as a formula (starting with = + - @ or a tab/CR) get a leading apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from explorer.reports.model import ReportEntry

COLUMNS = ("position", "recorded_at", "occurred_at", "stream_id", "stream_type", "version", "type",
           "actor", "summary", "changes", "event_id", "event_hash", "chain_hash")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """Plain text a spreadsheet shows as text, never runs (CSV formula injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(entries: Iterable[ReportEntry], out: TextIO) -> int:
    """Write the header row and one row per entry; return the number of rows.

    The per-row work is inlined (comprehensions, no helper calls): a report writes a million rows.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    danger = frozenset(_FORMULA_START)

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal count
        for e in entries:
            changes = "; ".join([
                (f"{label}: {new}" if (not old or old == "-") else f"{label}: {old}" if not new
                 else f"{label} {old} → {new}")
                for _path, label, old, new in e.changes
            ]) if e.changes else ""
            texts = [e.stream_id, e.stream_type, e.type, e.actor, e.sentence, changes, e.event_id]
            sid, stype, etype, actor, summary, changes, eid = ["'" + t if t[:1] in danger else t for t in texts]
            count += 1
            yield (e.position, e.recorded_at, e.occurred_at, sid, stype, e.version, etype, actor, summary, changes,
                   eid, e.event_hash, e.chain_hash)

    writer.writerows(rows())  # one C loop over the rows instead of a Python call per row
    return count
