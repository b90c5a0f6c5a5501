"""The CSV report: one row per listed event, streamed (flat memory on any size).

Columns (docs/reports.md): position, recorded_at, occurred_at, stream_id, stream_type, version,
type, actor, summary, changes, event_id, event_hash, chain_hash. Text cells that a spreadsheet
would run as a formula (starting with = + - @ or a tab/CR) get a leading apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from explorer.reports.model import ReportEntry

COLUMNS = ("position", "recorded_at", "occurred_at", "stream_id", "stream_type", "version", "type",
           "actor", "summary", "changes", "event_id", "event_hash", "chain_hash")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """Plain text a spreadsheet shows as text, never runs (CSV formula injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(entries: Iterable[ReportEntry], out: TextIO) -> int:
    """Write the header row and one row per entry; return the number of rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    row = writer.writerow
    for e in entries:
        row((e.position, e.recorded_at, e.occurred_at, cell(e.stream_id), cell(e.stream_type), e.version,
             cell(e.type), cell(e.actor), cell(e.sentence), cell(e.changes_text()), cell(e.event_id),
             e.event_hash, e.chain_hash))
        count += 1
    return count
