"""A PDF report written by a child process, so that writing it never holds the app's GIL.

Why: a PDF is laid out and drawn with Qt's text layout (`QTextLine` shaping in HarfBuzz), which
PySide runs with the GIL held, and it keeps every entry of its event list in memory, so Python's
cyclic GC over them holds the GIL too. Written on a pool thread, a 45,000-event PDF stalled the
window for 100-420 ms at a time: py-spy found the GUI thread waiting in `Shiboken::GilState`
while the worker was in `QTextLine::layout_helper` or `gc_collect_main`. Other formats stay on a
pool thread: their loops are plain Python, which lets the GIL go every few milliseconds (a
45,000-event HTML report: longest GUI gap 18 ms), and large CSV/JSON reports use processes anyway.

The child ("spawn", as `explorer.reports.parallel`) opens the store read-only, calls
`write_report` and sends ("progress", done, total) at most every PROGRESS_INTERVAL_S, then one
("result", ReportResult) or ("error", exception) down a pipe. Cancel sets an Event the child asks
every 64 rows; a child that outlives the grace time is terminated (SIGTERM stops it as a cancel
does). A child whose app went away stops at its next progress report (the pipe is broken); an app
that quits terminates it (it is daemonic). Either way `write_report` removes what it staged; the
part files of a child that was killed are removed here.
"""

from __future__ import annotations

import glob
import logging
import multiprocessing
import multiprocessing.connection
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from explorer.reports.model import Cancelled, Progress, ReportCancelled, ReportError, ReportScope
from explorer.reports.writer import ReportResult, sidecar_path
from explorer.store.errors import StoreError

log = logging.getLogger(__name__)

POLL_S = 0.1
PROGRESS_INTERVAL_S = 0.1
STOP_GRACE_S = 5.0
"""After a cancel, the child has this long to stop on its own (and remove its staged file)."""


def write_pdf_in_process(store_path: str | Path, scope: ReportScope, path: str | Path, *,
                         options: dict[str, Any], progress: Progress | None = None,
                         cancelled: Cancelled | None = None) -> ReportResult:
    """`write_report(store, scope, path, fmt="pdf", **options)` in a child process.

    Raises what `write_report` raises (ReportError, ReportCancelled, OSError), and ReportError
    when the child ends without an answer (killed, crashed, could not start).
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe(duplex=False)
    stop = context.Event()
    # Daemonic: an app that quits terminates it (multiprocessing's exit hook), and SIGTERM makes it
    # stop as on a cancel, removing its part files (a PDF report starts no processes of its own).
    process = context.Process(target=_child, name="pdf-report", daemon=True,
                              args=(theirs, stop, str(store_path), scope, str(path), options))
    started = time.time()
    try:
        process.start()
    except OSError as exc:
        raise ReportError(f"The report process could not be started: {exc}") from exc
    finally:
        theirs.close()  # ours sees EOF once the child's end is closed too
    asked_to_stop: float | None = None
    try:
        while True:
            if asked_to_stop is None and cancelled is not None and cancelled():
                stop.set()
                asked_to_stop = time.monotonic()
            if not ours.poll(POLL_S):
                if asked_to_stop is not None and time.monotonic() - asked_to_stop > STOP_GRACE_S:
                    raise ReportCancelled("the report was cancelled")  # the finally ends the child
                continue
            try:
                kind, *value = ours.recv()
            except EOFError:
                break
            if kind == "progress":
                if progress is not None:
                    progress(*value)
            elif kind == "result":
                result: ReportResult = value[0]
                return result
            else:
                raise value[0]
        process.join(STOP_GRACE_S)
        raise ReportError(f"The report process ended without writing the report (exit code {process.exitcode}).")
    finally:
        if process.is_alive():
            stop.set()
            process.join(STOP_GRACE_S)
        if process.is_alive():
            log.warning("the PDF report process did not stop when asked; terminated")
            process.terminate()
        process.join()
        ours.close()
        if process.exitcode != 0:  # killed or crashed before its own clean-up: its part files stay
            _remove_parts(Path(path), started)


def _remove_parts(path: Path, since: float) -> None:
    """The hidden part files (`writer._Staged`) of the report and its sidecar made since `since`."""
    for target in (path, sidecar_path(path)):
        for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
            try:
                if part.stat().st_mtime >= since - 1:
                    part.unlink()
            except OSError as exc:
                log.warning("could not remove %s: %s", part, exc)


def _child(conn: multiprocessing.connection.Connection, stop: Any, store_path: str, scope: ReportScope,
           path: str, options: dict[str, Any]) -> None:
    """The child process: write the report, answer once."""
    from explorer.reports.writer import write_report
    from explorer.store.sqlite import SQLiteEventStore

    def stop_now(_signum: int, _frame: Any) -> None:
        raise ReportCancelled("the report process was stopped")

    signal.signal(signal.SIGTERM, stop_now)
    sent = float("-inf")

    def progress(done: int, total: int) -> None:
        nonlocal sent
        now = time.monotonic()
        if done < total and now - sent < PROGRESS_INTERVAL_S:
            return
        sent = now
        try:
            conn.send(("progress", done, total))
        except OSError as exc:  # the app is gone: nobody waits for this report
            raise ReportCancelled("the app that asked for the report has ended") from exc

    answer: tuple[str, Any]
    try:
        with SQLiteEventStore.open(store_path, read_only=True) as store:
            result = write_report(store, scope, path, fmt="pdf", progress=progress, cancelled=stop.is_set,
                                  **options)
        answer = ("result", result)
    except BaseException as exc:  # noqa: BLE001 - every outcome is the parent's to report
        if not isinstance(exc, (ReportError, ReportCancelled, StoreError, OSError)):  # a bug: keep where it was
            exc.add_note("In the report process:\n" + "".join(traceback.format_exception(exc)).rstrip())
        answer = ("error", exc)
    try:
        conn.send(answer)
    except OSError:
        pass  # the app is gone
    except Exception as exc:  # noqa: BLE001 - an answer that does not pickle: say what it was
        conn.send(("error", ReportError(f"The report failed: {answer[1]!r} ({exc})")))
    finally:
        conn.close()
