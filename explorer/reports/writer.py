"""Make a report file in any format: the one entry point of the CLI and the app.

Files are written to a temporary name beside the target and renamed when complete, so a
cancelled or failed report never leaves half a file (and never clobbers an older report).
PDF and CSV reports get a sidecar `<file>.verify.json` with the machine-readable block; HTML
embeds it; JSON is it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from explorer.paths import read_db_path
from explorer.reports import csv as csv_report
from explorer.reports import html as html_report
from explorer.reports import json_report
from explorer.reports import parallel
from explorer.reports.model import (
    Cancelled,
    Progress,
    Report,
    ReportError,
    ReportRun,
    ReportScope,
    iter_entries,
    start_report,
)
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel

FORMATS = ("pdf", "html", "csv", "json")
SIDECAR_SUFFIX = ".verify.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportResult:
    """A finished report file.

    Attributes:
        path: the report.
        sidecar: the verification sidecar beside it, or None (HTML embeds it; JSON is it).
        report: header, summary and integrity.
        events: events listed.
        pages: PDF pages (0 for other formats).
        processes: how many processes wrote it (a large CSV is split: explorer/reports/parallel.py).
    """

    path: Path
    sidecar: Path | None
    report: Report
    events: int
    pages: int = 0
    processes: int = 1


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def report_files(path: Path, fmt: str) -> tuple[Path, ...]:
    """Every file a report of format `fmt` written to `path` creates or replaces: the report,
    and for PDF and CSV its verification sidecar."""
    return (path, sidecar_path(path)) if fmt in ("pdf", "csv") else (path,)


def refuse_store_files(store: SQLiteEventStore, path: Path) -> None:
    """Raise ReportError when writing a report to `path` (or its sidecar) would replace the store
    being reported, one of its SQLite side files, or its read database: a report never costs data.
    """
    own = store.path
    guarded = {own: "the event store this report is made of",
               read_db_path(store.store_id): "the read database of the store this report is made of"}
    for suffix in ("-wal", "-shm", "-journal"):
        guarded[own.with_name(own.name + suffix)] = "a file of the event store this report is made of"
    for candidate in (path, sidecar_path(path)):
        for protected, what in guarded.items():
            if _same_file(candidate, protected):
                raise ReportError(f"{candidate}: that is {what}; choose another name")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # links and hard links too
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def format_of(path: Path, explicit: str | None = None) -> str:
    fmt = (explicit or path.suffix.lstrip(".")).lower()
    if fmt == "htm":
        fmt = "html"
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def _new_file_mode() -> int:
    """The permissions a new file of this user gets (0o666 less the umask).

    Read once, on import: reading the umask means setting it, and a report is written on a
    worker thread while other threads may create files.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _new_file_mode()


class _Staged:
    """Files written under hidden part names beside their targets (`open`), renamed into place
    together once every one is complete (`_staged`), so a report and its sidecar are written
    whole or not at all.

    Each file gets the permissions of any new file of the user (mkstemp's part file is private,
    0600: an auditor hands the report on).
    """

    def __init__(self) -> None:
        self.parts: list[tuple[str, Path]] = []

    @contextmanager
    def open(self, path: Path, mode: str) -> Iterator[IO[Any]]:
        if not path.parent.is_dir():
            raise ReportError(f"{path.parent}: no such folder")
        if path.is_dir():  # found now, not when the finished files are renamed into place
            raise ReportError(f"{path}: is a folder; choose another name")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        except OSError as exc:
            raise _named(exc, path) from exc
        os.close(fd)
        self.parts.append((tmp, path))
        if os.name == "posix":
            os.chmod(tmp, _NEW_FILE_MODE)
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        try:
            with open(tmp, mode, **kwargs) as handle:
                yield handle
        except OSError as exc:
            raise _named(exc, path) from exc

    def commit(self) -> None:
        for tmp, path in self.parts:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise _named(exc, path) from exc

    def discard(self) -> None:
        for tmp, _path in self.parts:
            Path(tmp).unlink(missing_ok=True)


@contextmanager
def _staged() -> Iterator[_Staged]:
    """Files opened with `staged.open(...)` inside the block replace their targets only when the
    whole block succeeds; on any failure (or a cancel) none of them is left, and no older file
    is touched."""
    staged = _Staged()
    try:
        yield staged
        staged.commit()
    except BaseException:
        staged.discard()
        raise


def _named(exc: OSError, path: Path) -> OSError:
    """`exc` about `path`, the file the user asked for, not a hidden part file."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def summary_run(store: SQLiteEventStore, scope: ReportScope, *, progress: Progress | None = None,
                cancelled: Cancelled | None = None, jobs: int | None = None, workdir: Path | None = None,
                **options: Any) -> ReportRun:
    """The summary pass of a report (header, summary and integrity: `run.report`, no list), as
    `model.analyse` makes it, split over processes when the scope is large (`parallel.py`); the
    parts' files go to `workdir` (default: the system's temporary folder)."""
    run = start_report(store, scope, **options)
    parts = parallel.parts_for(store, run.resolved, cores=jobs, min_events=parallel.SUMMARY_MIN_EVENTS)
    if parts > 1:
        try:
            parallel.summarise_split(run, parts=parts, workdir=workdir or Path(tempfile.gettempdir()),
                                     progress=progress, cancelled=cancelled)
            return run
        except parallel.SplitUnavailable as exc:  # the same summary, from this process only
            log.warning("summary in one process: %s", exc)
    run.summarise(progress, cancelled)
    return run


def _phase(progress: Progress | None, phase: int, phases: int) -> Progress | None:
    """Map one pass's progress onto a share of the whole (two-pass formats)."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        total = max(total, 1)
        progress(int((phase * total + done) * 1000 / (phases * total)), 1000)

    return report


def manifest(report: Report, listed: list[list[Any]]) -> dict[str, Any]:
    out = report.manifest_head()
    out["events"] = listed
    return out


def write_report(
    store: SQLiteEventStore,
    scope: ReportScope,
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    title: str = "",
    generated_by: str | None = None,
    bookmarks: list[tuple[int, str]] | None = None,
    include_data: bool = False,
    time_travel: TimeTravel | None = None,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    jobs: int | None = None,
    split: int | None = None,
) -> ReportResult:
    """Write one report; raise ReportError (bad input), ReportCancelled or OSError.

    A CSV of a large range is written by several processes (explorer/reports/parallel.py):
    `jobs` caps them (None: one per core; 1: this process only); `split` forces a number of
    parts whatever the size of the range (tests and the self-test).
    """
    target = Path(path)
    kind = format_of(target, fmt)
    if kind != "json" and target.name.endswith(SIDECAR_SUFFIX):
        raise ReportError(f"{target}: names ending {SIDECAR_SUFFIX} are kept for verification sidecars; "
                          "choose another name")
    refuse_store_files(store, target)
    options: dict[str, Any] = dict(title=title, generated_by=generated_by, bookmarks=bookmarks,
                                   include_data=include_data, time_travel=time_travel)
    if kind in ("csv", "json"):
        run = start_report(store, scope, **options)
        parts = split if split is not None else parallel.parts_for(store, run.resolved, cores=jobs)
        with _staged() as files:
            with files.open(target, "w" if kind == "csv" else "wb") as out:
                if parts > 1:  # a large report: one process per core (explorer/reports/parallel.py)
                    try:
                        count = parallel.write_split(run, out.buffer if kind == "csv" else out, fmt=kind,
                                                     parts=parts, workdir=target.parent, progress=progress,
                                                     cancelled=cancelled)
                    except parallel.SplitUnavailable as exc:  # the same report, from this process only
                        log.warning("%s report in one process: %s", kind.upper(), exc)
                        parts = 1
                if parts <= 1:
                    entries = run.entries(progress, cancelled)
                    count = (csv_report.write_csv(entries, out) if kind == "csv"
                             else json_report.write_json(run, entries, out))
            assert run.report is not None
            side = None
            if kind == "csv":
                side = sidecar_path(target)
                with files.open(side, "wb") as out:
                    out.write(orjson.dumps(manifest(run.report, []) | {"events_in": target.name},
                                           option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return ReportResult(target, side, run.report, count, processes=max(parts, 1))
    if kind == "pdf":
        return _write_pdf(store, scope, target, options, progress, cancelled)
    # HTML prints the summary and integrity before the list: an analysing pass, then a writing one.
    first = summary_run(store, scope, progress=_phase(progress, 0, 2), cancelled=cancelled, jobs=jobs,
                        workdir=target.parent, **options)
    report = first.report
    assert report is not None
    tt = time_travel or TimeTravel(store, None)

    def second_pass() -> Iterator[Any]:
        return iter_entries(store, first.resolved, time_travel=tt, progress=_phase(progress, 1, 2),
                            cancelled=cancelled)

    if kind == "html":
        listed: list[list[Any]] = []

        def listing() -> Iterator[Any]:
            for entry in second_pass():
                listed.append([entry.position, entry.event_hash])
                yield entry

        with _staged() as files, files.open(target, "w") as out:
            count = html_report.write_html(report, listing(), out,
                                           appendix=second_pass() if include_data else None)
            html_report.write_manifest_block(manifest(report, listed), out)
        return ReportResult(target, None, report, count)
    raise AssertionError(f"unhandled format {kind}")


def _write_pdf(store: SQLiteEventStore, scope: ReportScope, target: Path, options: dict[str, Any],
               progress: Progress | None, cancelled: Cancelled | None) -> ReportResult:
    """A PDF holds its whole event list in memory (bounded by MAX_PDF_EVENTS), so one pass over
    the store gathers it and the summary; the layout then runs twice (count pages, draw)."""
    from explorer.reports import pdf as pdf_report  # Qt only when a PDF is asked for

    run = start_report(store, scope, **options)
    entries = []
    for entry in run.entries(_phase(progress, 0, 3), cancelled):
        entries.append(entry)
        if len(entries) > pdf_report.MAX_PDF_EVENTS:
            raise ReportError(
                f"more than {pdf_report.MAX_PDF_EVENTS:,} events are too many for a readable PDF; "
                "narrow the scope or choose CSV or JSON")
    report = run.report
    assert report is not None
    drawing = None if progress is None else (lambda done, total: progress(total + 2 * done, 3 * total))
    side = sidecar_path(target)
    with _staged() as files:
        with files.open(target, "wb") as out:
            out.close()  # QPdfWriter writes the file itself, by name
            pages = pdf_report.write_pdf(report, entries, out.name, progress=drawing, cancelled=cancelled)
        with files.open(side, "wb") as out:
            out.write(orjson.dumps(manifest(report, [[e.position, e.event_hash] for e in entries]),
                                   option=orjson.OPT_SORT_KEYS))
    return ReportResult(target, side, report, len(entries), pages)
