"""The JSON report: the complete report, machine-readable, streamed one event per line.

Layout (still one JSON object; the line structure lets a verifier stream a huge report):

    {"kind": ..., "schema": 1,
    "header": {...},
    "scope": {...},
    "annotations": [...],
    "events": [
    {event},
    ...
    ],
    "summary": {...},
    "integrity": {...}}

The summary and integrity come last because they are computed while the events stream by.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import orjson

from explorer.reports.model import REPORT_KIND, REPORT_SCHEMA, Report, ReportEntry, ReportRun

EVENTS_OPEN = b'"events": ['
_OPTS = orjson.OPT_SORT_KEYS


def _dump(value: object) -> bytes:
    return orjson.dumps(value, option=_OPTS, default=str)


def write_head(run: ReportRun, out: BinaryIO) -> None:
    """Everything before the first event: kind, schema, header, scope, annotations, `"events": [`."""
    out.write(b'{"kind": ' + _dump(REPORT_KIND) + b', "schema": ' + _dump(REPORT_SCHEMA) + b",\n")
    out.write(b'"header": ' + _dump(run.header.to_json()) + b",\n")
    out.write(b'"scope": ' + _dump(run.resolved.to_json()) + b",\n")
    out.write(b'"annotations": ' + _dump([a.to_json() for a in run.annotations]) + b",\n")
    out.write(EVENTS_OPEN + b"\n")


def write_events(entries: Iterable[ReportEntry], out: BinaryIO) -> int:
    """The events, one per line, separated by `,\n` (none before the first or after the last)."""
    count = 0
    for entry in entries:
        if count:
            out.write(b",\n")
        out.write(_dump(entry.to_json()))
        count += 1
    return count


def write_tail(report: Report, count: int, out: BinaryIO) -> None:
    """Everything after the `count` events: the list's end, the summary and the integrity block."""
    out.write(b"\n],\n" if count else b"],\n")
    out.write(b'"summary": ' + _dump(report.summary.to_json()) + b",\n")
    out.write(b'"integrity": ' + _dump(report.integrity.to_json()) + b"}\n")


def write_json(run: ReportRun, entries: Iterable[ReportEntry], out: BinaryIO) -> int:
    """Write the whole report; `entries` must be `run.entries(...)` (the summary comes from it)."""
    write_head(run, out)
    count = write_events(entries, out)
    report = run.report
    assert report is not None, "entries were not exhausted"
    write_tail(report, count, out)
    return count
