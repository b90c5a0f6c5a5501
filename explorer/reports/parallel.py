"""Large CSV and JSON reports on every core: the range is split into parts, one process per part.

Why: listing one event costs tens of microseconds of Python (decode, fold, sentence, diff,
hash, quoting), so a million-event CSV takes a minute on one core however lean the loop is.
(PDF and HTML are not split: their pages and tables are laid out in order, in one document.)

How: part k folds every event of the scope from the start of the range, as one whole run would,
but lists only its own positions (`iter_entries(emit_from=, emit_to=)`). So its states, device
names and sentences are exactly those of one whole run, and the output is the same byte for byte
(tests/reports/test_parallel.py). Folding alone costs about a fifth of listing an event
(FOLD_SHARE), so later parts, which fold more before they list, are given fewer positions, sized
for every part to finish at about the same time (`plan_parts`). Each part writes its rows (CSV
rows, or JSON event lines) to a file of its own beside the report (and its digest lines to
another), and returns its counts;
the parent copies the parts into the report in order, hashes their digest lines in order and
merges the counts, so memory stays flat whatever the size of the range. The last part also returns the per-stream
start/end summary, since it alone has folded the whole range.

Processes are started with "spawn" (never fork: the app has Qt threads running); a frozen app
calls `multiprocessing.freeze_support()` in its launcher (packaging/launcher.py).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from explorer.reports import csv as csv_report
from explorer.reports import json_report
from explorer.reports.model import (
    Cancelled,
    PartSummary,
    Progress,
    Report,
    ReportCancelled,
    ReportError,
    ReportRun,
    ResolvedScope,
    StreamSummary,
    SummaryBuilder,
    iter_entries,
    settle_last_texts,
)
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel

# Below this many events read, starting processes costs more than it saves: on 2 cores the split
# broke even at ~11,000 events and took 0.83 / 0.59 of one process's time at 20,000 / 100,000
# (docs/benchmarks.md). Each part gets at least half of it.
PARALLEL_MIN_EVENTS = 20_000
SUMMARY_MIN_EVENTS = 50_000  # a summary pass costs less than half as much an event (docs/benchmarks.md)
MAX_PARTS = 8
FOLD_SHARE = 0.2  # CPU of folding an event / listing it as a CSV row: 8 / 42-48 µs on the demo store
SUMMARY_FOLD_SHARE = 0.4  # / counting it in a summary pass (no texts): ~10 / ~26 µs
POLL_S = 0.1

_progress: Any = None  # in a part's process: the shared array of positions done per part


class SplitUnavailable(Exception):
    """Worker processes could not be started; nothing was written (the caller lists in-process)."""


@dataclass(frozen=True, slots=True)
class PartJob:
    """One part of a split report, as sent to its process.

    Attributes:
        index: the part's number (its slot in the progress array).
        store_path: the store, opened read-only by the part.
        resolved: the whole report's pinned scope.
        first / last: the positions this part lists (inclusive).
        fmt: "csv" (the part writes CSV rows), "json" (JSON event lines, `,\n` between them) or
            "summary" (no rows: a summary pass, for `summarise_split`).
        rows_path: where the part writes its rows.
        digest_path: where it writes its event-list digest lines (`"<position> <event hash>\\n"`).
        summarise_streams: True for the last part: it returns the per-stream summary.
    """

    index: int
    store_path: str
    resolved: ResolvedScope
    first: int
    last: int
    fmt: str
    rows_path: str
    digest_path: str
    summarise_streams: bool


@dataclass(frozen=True, slots=True)
class PartResult:
    """What a part sends back: its rows count, its counts and, for the last part, the streams."""

    rows: int
    summary: PartSummary
    streams: tuple[tuple[StreamSummary, ...], int] | None


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def parts_for(store: SQLiteEventStore, resolved: ResolvedScope, cores: int | None = None,
              min_events: int | None = None) -> int:
    """How many parts a report of this scope is worth splitting into (1: not split).

    What counts is the events the parts read: every position of the range, or for a set of
    streams only their events in it (a device's month in a large store is not split), against
    `min_events` (PARALLEL_MIN_EVENTS for a listing; a summary pass uses SUMMARY_MIN_EVENTS).
    """
    if resolved.empty:
        return 1
    min_events = PARALLEL_MIN_EVENTS if min_events is None else min_events  # (read now: tests change it)
    if resolved.stream_ids is None:
        events = resolved.last_position - resolved.first_position + 1
    else:
        events = store.count_events_of(resolved.stream_ids, resolved.first_position, resolved.last_position)
    if events < min_events:
        return 1
    return max(1, min(cores or available_cores(), MAX_PARTS, events // (min_events // 2)))


def plan_parts(first: int, last: int, parts: int, fold_share: float = FOLD_SHARE) -> list[tuple[int, int]]:
    """Split [first, last] into `parts` consecutive ranges that take about the same time.

    Part k folds the d_k positions before its own (fold_share each) and lists its n_k
    positions (1 each): n_k + fold_share * d_k is the same for every part. With that time T,
    n_k = T - fold_share * d_k and d_{k+1} = d_k + n_k, both linear in T; T is then scaled so the
    parts cover the range exactly.
    """
    total = last - first + 1
    if parts <= 1 or total < parts:
        return [(first, last)]
    weights, done = [], 0.0
    for _ in range(parts):
        size = max(1.0 - fold_share * done, 0.0)
        weights.append(size)
        done += size
    scale = total / done
    bounds, start = [], first
    for k, weight in enumerate(weights):
        end = last if k == parts - 1 else min(last, start + max(1, round(weight * scale)) - 1)
        bounds.append((start, end))
        start = end + 1
    return [(a, b) for a, b in bounds if a <= b]


def _part_main(job: PartJob, progress: Any, results: Any) -> None:
    """A part's process: run the part, send ("ok", PartResult) or ("error", exception) back."""
    global _progress
    _progress = progress
    try:
        outcome: tuple[str, Any] = ("ok", run_part(job))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        outcome = ("error", exc)
    try:
        results.send(outcome)
    except Exception:  # noqa: BLE001 - it does not pickle (an exception of a C library): its words instead
        results.send(("error", ReportError(f"report part {job.index} failed: {outcome[1]!r}")))
    finally:
        results.close()


_TEXT: dict[str, Any] = {"encoding": "utf-8", "newline": ""}


def run_part(job: PartJob) -> PartResult:
    """List one part (in its own process): rows and digest lines into files, counts back to the parent."""
    store = SQLiteEventStore.open(job.store_path, read_only=True)
    try:
        with open(job.digest_path, "w", **_TEXT) as digest_lines:
            tt = TimeTravel(store, None)
            builder = SummaryBuilder(job.resolved, digest_lines=digest_lines)
            slot = job.index

            def progress(done: int, _total: int) -> None:
                if _progress is not None:
                    _progress[slot] = done

            summary_only = job.fmt == "summary"
            entries = iter_entries(store, job.resolved, time_travel=tt, on_fold=builder.attach, progress=progress,
                                   emit_from=job.first, emit_to=job.last, summary_only=summary_only)

            def counted() -> Any:
                add = builder.add
                for entry in entries:
                    add(entry)
                    yield entry

            if summary_only:
                rows = sum(1 for _entry in counted())
                settle_last_texts(builder, store, job.resolved, tt)
            else:
                text = job.fmt == "csv"
                with open(job.rows_path, "w" if text else "wb", **_TEXT if text else {}) as out:
                    rows = csv_report.write_rows(counted(), out) if text else json_report.write_events(counted(), out)
            summary = builder.part()
        streams = builder.stream_summaries(store, tt) if job.summarise_streams else None
        return PartResult(rows, summary, streams)
    finally:
        store.close()


def _run_parts(context: Any, jobs: list[PartJob], done: Any, span: int, progress: Progress | None,
               cancelled: Cancelled | None) -> list[PartResult]:
    """Start one process per part and wait for every result; stop them all on cancel or failure.

    Plain processes, not a Pool: a Pool starts a new worker whenever one dies, forever, so a part
    that cannot even start (a script that calls write_report without an `if __name__ ==
    "__main__":` guard runs itself again in each spawned process, which then fails) would hang the
    report. Here a part that ends without a result raises SplitUnavailable, and the report is
    written in-process instead.
    """
    readers: list[Any] = []
    processes: list[Any] = []
    try:
        for job in jobs:
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_part_main, args=(job, done, writer), daemon=True,
                                      name=f"report-part-{job.index}")
            try:
                process.start()
            except OSError as exc:  # no processes here (a sandbox, a broken multiprocessing state)
                raise SplitUnavailable(f"cannot start worker processes ({exc})") from exc
            finally:
                writer.close()
            readers.append(reader)
            processes.append(process)
        results: list[PartResult | None] = [None] * len(jobs)
        while any(r is None for r in results):
            waiting = [k for k, r in enumerate(results) if r is None]
            multiprocessing.connection.wait([readers[k] for k in waiting] + [processes[k].sentinel for k in waiting],
                                            timeout=POLL_S)
            for k in waiting:
                if readers[k].poll():
                    try:
                        status, value = readers[k].recv()
                    except EOFError:
                        status, value = "died", None
                elif not processes[k].is_alive() and not readers[k].poll():
                    status, value = "died", None
                else:
                    continue
                if status == "error":
                    raise value
                if status == "died":
                    processes[k].join()
                    raise SplitUnavailable(f"worker process {k} ended without a result "
                                           f"(exit code {processes[k].exitcode})")
                results[k] = value
            if cancelled is not None and cancelled():
                raise ReportCancelled("the report was cancelled")
            if progress is not None:
                progress(sum(done), span)
        return [r for r in results if r is not None]
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        for reader in readers:
            reader.close()


@contextmanager
def _parts_run(run: ReportRun, fmt: str, parts: int, workdir: Path, progress: Progress | None,
               cancelled: Cancelled | None, fold_share: float) -> Iterator[tuple[list[PartJob], list[PartResult]]]:
    """Run the parts of `run` and yield their jobs and results while their files still exist."""
    resolved = run.resolved
    first = resolved.first_position
    plan = plan_parts(first, resolved.last_position, parts, fold_share)
    context = multiprocessing.get_context("spawn")
    done = context.Array("q", len(plan), lock=False)
    span = sum(last - first + 1 for _a, last in plan)  # every part counts positions from the range's start
    with tempfile.TemporaryDirectory(prefix=".report-parts-", dir=workdir) as tmp:
        jobs = [PartJob(k, str(run.store.path), resolved, a, b, fmt, str(Path(tmp) / f"part-{k}.{fmt}"),
                        str(Path(tmp) / f"part-{k}.digest"), k == len(plan) - 1)
                for k, (a, b) in enumerate(plan)]
        yield jobs, _run_parts(context, jobs, done, span, progress, cancelled)
    if progress is not None:
        progress(span, span)


def _finish(run: ReportRun, jobs: list[PartJob], results: list[PartResult]) -> Report:
    """Merge the parts' counts and digest lines in order; fill `run.report`."""
    builder = SummaryBuilder(run.resolved)
    for job, result in zip(jobs, results):
        builder.merge(result.summary)
        builder.digest.add_file(job.digest_path, result.summary.count)
    return run.finish(builder, results[-1].streams)


def write_split(run: ReportRun, out: BinaryIO, *, fmt: str, parts: int, workdir: Path,
                progress: Progress | None = None, cancelled: Cancelled | None = None) -> int:
    """Write the whole CSV or JSON report of `run` to `out` with `parts` processes; fill `run.report`.

    The bytes are those `csv.write_csv` or `json_report.write_json` write in one process.
    Raises ReportCancelled when `cancelled()` turns true (the processes are stopped at once),
    and re-raises any error of a part.
    """
    with _parts_run(run, fmt, parts, workdir, progress, cancelled, FOLD_SHARE) as (jobs, results):
        if fmt == "csv":
            out.write(csv_report.csv_line(csv_report.COLUMNS).encode())
        else:
            json_report.write_head(run, out)
        written = 0
        for job, result in zip(jobs, results):
            if fmt == "json" and written and result.rows:
                out.write(b",\n")  # a part's event lines have no separator before the first
            with open(job.rows_path, "rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
            written += result.rows
        report = _finish(run, jobs, results)
        if fmt == "json":
            json_report.write_tail(report, written, out)
        out.flush()
    return written


def summarise_split(run: ReportRun, *, parts: int, workdir: Path, progress: Progress | None = None,
                    cancelled: Cancelled | None = None) -> Report:
    """The summary pass of `run` (`model.analyse`) with `parts` processes; fill `run.report`.

    The same report as one process's: the parts' first entries are whole, each part settles its
    last (`settle_last_texts`), and the last part's last is the report's.
    """
    with _parts_run(run, "summary", parts, workdir, progress, cancelled, SUMMARY_FOLD_SHARE) as (jobs, results):
        return _finish(run, jobs, results)
