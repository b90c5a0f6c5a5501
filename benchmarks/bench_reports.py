"""Reports: a 10,000-event PDF and a 1,000,000-event CSV, each against a bare scan of the same events.

1. PDF: the first 10,000 events of the 100k demo store, whole-store scope (two passes, layout
   counted then drawn, PDF/A). Goal <= 10 s. Baseline: `read_all` over the same 10,000 events.
2. CSV: every event of the 1M demo store (benchmarks/stores.py `demo_store(1_000_000)`), one
   pass, streamed. Goal <= 15 s. Baseline: `read_all` over the same 1M events.
3. Memory: peak RSS of a child process writing the CSV of 100k events vs 1M events (flat when the
   event list is streamed), and of a child that only imports and opens the store.

Each measurement runs in a fresh child process (`--child`), so peak RSS is the report's own.
Run: `python3 tasks.py bench reports` (BENCH_REPORTS_QUICK=1 skips the 1M store; BENCH_REPORTS_ONLY=csv
skips the PDF; BENCH_REPORTS_ONLY=pdf runs only the PDF, BENCH_REPORTS_PDF_RUNS=N times;
BENCH_REPORTS_ONLY=costs prints where a CSV report's time goes per event: benchmarks/report_costs.py;
BENCH_REPORTS_ONLY=dialog writes the 1M CSV from the Report dialog, offscreen, 3 times;
BENCH_REPORTS_ONLY=dialog_pdf writes a 10,000-event PDF from the Report dialog (a child process) and
from a bare process, alternated, 3 times each;
BENCH_REPORTS_ONLY=threshold compares one process with the split on 5,000-100,000 events;
BENCH_REPORTS_ONLY=json writes the JSON of the 1M store split and in one process, once each;
BENCH_REPORTS_ONLY=summary times the summary pass (the Report dialog's preview, an HTML report's
first pass) against a pass that makes every entry's texts, over the whole 1M store, and an HTML
report of the 100k store).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.stores import demo_store  # noqa: E402

PDF_EVENTS = 10_000
PDF_RUNS = 3
CSV_RUNS = 3


def _child(kind: str, store_path: str, events: int, out_dir: str) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from explorer.reports.model import ReportScope
    from explorer.reports.writer import write_report
    from explorer.store.sqlite import SQLiteEventStore

    if kind in ("dialog", "dialog-pdf"):
        return _dialog_child(store_path, events, out_dir, fmt="pdf" if kind == "dialog-pdf" else "csv")
    store = SQLiteEventStore.open(store_path, read_only=True)
    scope = ReportScope(to_position=events)
    started = time.perf_counter()
    if kind == "scan":
        count = sum(1 for _ in store.read_all(1, events))
        pages = 0
    elif kind == "open":
        count, pages = 0, 0
    else:
        # "csv1": the CSV written by this process alone; "csv": as the app writes it (split across
        # processes, one per core, when the range is large: explorer/reports/parallel.py).
        fmt, split = (kind[:-1], 1) if kind in ("csv1", "json1") else (kind, None)
        result = write_report(store, scope, Path(out_dir) / f"bench.{fmt}", split=split)
        count, pages = result.events, result.pages
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parts_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest part process
    return {"kind": kind, "events": count, "pages": pages, "seconds": seconds, "peak_rss_mib": peak_kib / 1024,
            "parts_peak_rss_mib": parts_kib / 1024}


def _dialog_child(store_path: str, events: int, out_dir: str, fmt: str = "csv") -> dict[str, Any]:
    """The whole-store report as a user writes it from the Report dialog (offscreen): seconds from
    Generate to written, and the longest the event loop went without turning (a 10 ms timer)."""
    from PySide6.QtCore import QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    from explorer.store.sqlite import SQLiteEventStore
    from explorer.ui.context import AppContext
    from explorer.ui.views.report_dialog import ReportDialog

    os.environ["EXPLORER_CACHE_DIR"] = str(Path(out_dir) / "cache")
    app = QApplication.instance() or QApplication([])
    context = AppContext()
    context.set_store(SQLiteEventStore.open(store_path, read_only=True))
    context.set_position(events)
    dialog = ReportDialog(context=context)
    dialog.show()
    dialog.whole_radio.setChecked(True)  # as a user picks it: the preview of the new scope starts
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(fmt))
    dialog.open_check.setChecked(False)
    target = Path(out_dir) / f"dialog.{fmt}"
    for earlier in (target, target.with_name(target.name + ".verify.json")):  # an earlier round's report and
        earlier.unlink(missing_ok=True)  # sidecar: the dialog would ask before replacing them
    dialog.path_edit.setText(str(target))
    written: list[Any] = []
    dialog.report_written.connect(written.append)
    dialog.report_failed.connect(written.append)
    turns = [time.perf_counter()]
    longest = [0.0]
    over_100ms = [0]

    def turn() -> None:
        now = time.perf_counter()
        longest[0] = max(longest[0], now - turns[0])
        over_100ms[0] += now - turns[0] > 0.1
        turns[0] = now

    timer = QTimer()
    timer.timeout.connect(turn)
    started = time.perf_counter()
    deadline = started + 0.6  # past PREVIEW_DELAY_MS: the preview is being prepared, as after a click
    while time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    turns[0] = time.perf_counter()
    timer.start(10)
    started = time.perf_counter()
    dialog.generate()
    while not written and time.perf_counter() - started < 600:
        app.processEvents()
        time.sleep(0.002)
    seconds = time.perf_counter() - started
    timer.stop()
    dialog.done(0)  # cancels the preview that follows the report
    QThreadPool.globalInstance().waitForDone(30_000)
    result = written[0] if written else None
    count = getattr(result, "events", 0)
    return {"kind": "dialog", "events": count, "pages": 0, "seconds": seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "parts_peak_rss_mib": 0.0, "longest_stall_ms": longest[0] * 1000, "stalls_over_100ms": over_100ms[0]}


def _summary_pass() -> int:
    """The summary pass (`analyse`: what the dialog's preview and an HTML report's first pass run)
    vs a pass that makes every entry's sentence and changed fields (what `analyse` did before)."""
    from explorer.reports import parallel
    from explorer.reports.model import ReportScope, analyse, start_report
    from explorer.reports.writer import summary_run, write_report
    from explorer.store.sqlite import SQLiteEventStore

    def full_pass(store: SQLiteEventStore) -> None:
        run = start_report(store, ReportScope())
        for _entry in run.entries():
            pass

    big = SQLiteEventStore.open(demo_store(1_000_000), read_only=True)
    small = SQLiteEventStore.open(demo_store(100_000), read_only=True)
    work = {
        "read_all 1M": lambda: sum(1 for _ in big.read_all()),
        "summary pass 1M": lambda: analyse(big, ReportScope()),
        "summary split 1M": lambda: summary_run(big, ReportScope()),
        "full pass 1M": lambda: full_pass(big),
        "read_all 100k": lambda: sum(1 for _ in small.read_all()),
        "html 100k": lambda: write_report(small, ReportScope(), Path(out) / "r.html"),
    }
    times: dict[str, list[float]] = {name: [] for name in work}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
        for _ in range(3):  # interleaved: the machine's load changes over minutes
            for name, job in work.items():
                started = time.perf_counter()
                job()
                times[name].append(time.perf_counter() - started)
            loads.append(os.getloadavg()[0])
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"summary pass, whole store (medians of 3, load {min(loads):.1f}-{max(loads):.1f}):")
    for name, value in med.items():
        print(f"     {name:16s} {value:6.2f} s  (runs {', '.join(f'{v:.2f}' for v in times[name])})")
    print(f"     1M: split / one = {med['summary split 1M'] / med['summary pass 1M']:.2f}; "
          f"summary / full = {med['summary pass 1M'] / med['full pass 1M']:.2f}; "
          f"summary / read_all = {med['summary pass 1M'] / med['read_all 1M']:.2f}, "
          f"full / read_all = {med['full pass 1M'] / med['read_all 1M']:.2f}")
    print(f"     html 100k / read_all 100k = {med['html 100k'] / med['read_all 100k']:.2f}")
    print("     the summary pass of the first N events of the 100k store, one process vs split over 2 (medians of 3):")
    parallel.SUMMARY_MIN_EVENTS = 2  # every size split, to find where it pays
    for events in (20_000, 50_000, 100_000):
        scope = ReportScope(to_position=events)
        pair: dict[str, list[float]] = {"one": [], "split": []}
        for _ in range(3):
            for name, job in (("one", lambda: analyse(small, scope)), ("split", lambda: summary_run(small, scope))):
                started = time.perf_counter()
                job()
                pair[name].append(time.perf_counter() - started)
        one, two = statistics.median(pair["one"]), statistics.median(pair["split"])
        print(f"     {events:>7,} events: one {one:.2f} s, split {two:.2f} s, split / one = {two / one:.2f}")
    return 0


def _dialog_pdf() -> int:
    """A 10,000-event PDF from the Report dialog (its child process) against the same PDF written
    by a bare process, alternated: what the child process costs, and the event loop's stalls."""
    from explorer.store.sqlite import SQLiteEventStore

    store = demo_store(PDF_EVENTS)
    with SQLiteEventStore.open(store, read_only=True) as opened:
        events = opened.head().position  # "about" 10,000: the dialog reports the whole store
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
        bare, dialogs = [], []
        for _ in range(PDF_RUNS):
            bare.append(_run("pdf", store, events, out))
            dialogs.append(_run("dialog-pdf", store, events, out))
            assert dialogs[-1]["events"] == bare[-1]["events"] == events, (dialogs[-1], bare[-1])
    bare_s = statistics.median(r["seconds"] for r in bare)
    dialog_s = statistics.median(r["seconds"] for r in dialogs)
    runs = ", ".join(f"{r['seconds']:.2f}" for r in dialogs)
    longest = ", ".join(f"{r['longest_stall_ms']:.0f}" for r in dialogs)
    stalls = ", ".join(str(r["stalls_over_100ms"]) for r in dialogs)
    print(f"pdf  {events:,} events from the Report dialog (offscreen, Generate to written, a child process): "
          f"median {dialog_s:.2f} s (runs {runs})")
    print(f"     baseline: the same PDF written by a bare process, median {bare_s:.2f} s; dialog / bare = "
          f"{dialog_s / bare_s:.2f}")
    print(f"     event loop (10 ms timer): longest stall {longest} ms; stalls over 100 ms: {stalls}; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


def _run(kind: str, store: Path, events: int, out_dir: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_reports", "--child", kind, str(store), str(events), out_dir],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _runs(results: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['seconds']:.1f}" for r in results)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(_child(argv[1], argv[2], int(argv[3]), argv[4])))
        return 0
    quick = os.environ.get("BENCH_REPORTS_QUICK") == "1"
    if os.environ.get("BENCH_REPORTS_ONLY") == "json":
        big = demo_store(1_000_000)
        with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
            scan = _run("scan", big, 1_000_000, out)
            split = _run("json", big, 1_000_000, out)
            one = _run("json1", big, 1_000_000, out)
        print(f"json 1,000,000 events: split {split['seconds']:.1f} s, one process {one['seconds']:.1f} s "
              f"(split / one = {split['seconds'] / one['seconds']:.2f}); read_all {scan['seconds']:.1f} s; "
              f"peak RSS: split parent {split['peak_rss_mib']:.0f} MiB, largest part "
              f"{split['parts_peak_rss_mib']:.0f} MiB, one process {one['peak_rss_mib']:.0f} MiB")
        return 0
    if os.environ.get("BENCH_REPORTS_ONLY") == "threshold":
        from explorer.reports.model import ReportScope
        from explorer.reports.writer import write_report
        from explorer.store.sqlite import SQLiteEventStore

        store = SQLiteEventStore.open(demo_store(100_000), read_only=True)
        print(f"csv of the first N events of the 100k store, one process vs split over 2 (medians of 3, "
              f"load {os.getloadavg()[0]:.1f}):")
        with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
            for events in (5_000, 10_000, 20_000, 50_000, 100_000):
                times: dict[int, list[float]] = {1: [], 2: []}
                for round_ in range(3):
                    for split in (1, 2):
                        started = time.perf_counter()
                        write_report(store, ReportScope(to_position=events), Path(out) / f"{round_}-{split}.csv",
                                     split=split)
                        times[split].append(time.perf_counter() - started)
                one, two = statistics.median(times[1]), statistics.median(times[2])
                print(f"     {events:>7,} events: one {one:.2f} s, split {two:.2f} s, split / one = {two / one:.2f}")
        return 0
    if os.environ.get("BENCH_REPORTS_ONLY") == "summary":
        return _summary_pass()
    if os.environ.get("BENCH_REPORTS_ONLY") == "dialog":
        big = demo_store(1_000_000)
        with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
            scans, dialogs = [], []
            for _ in range(CSV_RUNS):
                scans.append(_run("scan", big, 1_000_000, out))
                dialogs.append(_run("dialog", big, 1_000_000, out))
                assert dialogs[-1]["events"] == 1_000_000, dialogs[-1]
        scan_s = statistics.median(r["seconds"] for r in scans)
        dialog_s = statistics.median(r["seconds"] for r in dialogs)
        print(f"csv  1,000,000 events from the Report dialog (offscreen, Generate to written): median {dialog_s:.1f} s "
              f"(runs {_runs(dialogs)}); longest event-loop stall "
              f"{max(r['longest_stall_ms'] for r in dialogs):.0f} ms")
        print(f"     baseline read_all of the same events: median {scan_s:.1f} s; dialog / scan = {dialog_s / scan_s:.2f}")
        return 0
    if os.environ.get("BENCH_REPORTS_ONLY") == "dialog_pdf":
        return _dialog_pdf()
    if os.environ.get("BENCH_REPORTS_ONLY") == "costs":
        from benchmarks.report_costs import print_costs, stage_costs
        from explorer.reports.parallel import available_cores

        events = int(os.environ.get("BENCH_REPORTS_COST_EVENTS", 200_000))
        load = os.getloadavg()[0]
        print(f"CPU per event, cumulative stages, first {events:,} events of the 1M store (load {load:.1f}):")
        print_costs(stage_costs(demo_store(1_000_000), events), events, available_cores())
        return 0
    small = demo_store(100_000)
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
        pdf, scan = [], []
        only = os.environ.get("BENCH_REPORTS_ONLY")
        loads = [os.getloadavg()[0]]
        for _ in range(int(os.environ.get("BENCH_REPORTS_PDF_RUNS", PDF_RUNS)) if only != "csv" else 0):
            scan.append(_run("scan", small, PDF_EVENTS, out)["seconds"])
            result = _run("pdf", small, PDF_EVENTS, out)
            pdf.append(result["seconds"])
            loads.append(os.getloadavg()[0])
        if pdf:
            pdf_med, scan_med = statistics.median(pdf), statistics.median(scan)
            print(f"pdf  {PDF_EVENTS:,} events, {result['pages']} pages: median {pdf_med:.2f} s "
                  f"(runs {', '.join(f'{v:.2f}' for v in pdf)}); goal <= 10 s")
            print(f"     baseline read_all of the same events: median {scan_med:.3f} s; ratio {pdf_med / scan_med:.0f}x; "
                  f"PDF peak RSS {result['peak_rss_mib']:.0f} MiB; load average {min(loads):.1f}-{max(loads):.1f}")
        if only == "pdf":
            return 0

        rss_open = _run("open", small, 0, out)["peak_rss_mib"]
        csv_small = _run("csv1", small, 100_000, out)
        print(f"csv  100,000 events: {csv_small['seconds']:.2f} s, peak RSS {csv_small['peak_rss_mib']:.0f} MiB "
              f"(a process that only opens the store: {rss_open:.0f} MiB)")
        if quick:
            return 0
        big = demo_store(1_000_000)
        from explorer.reports.parallel import available_cores

        scans, splits, ones = [], [], []
        for _ in range(CSV_RUNS):  # interleaved: the machine's load changes under a minute-long run
            scans.append(_run("scan", big, 1_000_000, out))
            splits.append(_run("csv", big, 1_000_000, out))
            ones.append(_run("csv1", big, 1_000_000, out))
        scan_s = statistics.median(r["seconds"] for r in scans)
        split_s = statistics.median(r["seconds"] for r in splits)
        one_s = statistics.median(r["seconds"] for r in ones)
        csv_big = splits[0]
        print(f"csv  1,000,000 events, split over {available_cores()} cores: median {split_s:.1f} s "
              f"(runs {_runs(splits)}); goal <= 15 s")
        print(f"     one process: median {one_s:.1f} s (runs {_runs(ones)}); "
              f"split / one = {split_s / one_s:.2f}")
        print(f"     baseline read_all of the same events: median {scan_s:.1f} s; split / scan = {split_s / scan_s:.2f}, "
              f"one / scan = {one_s / scan_s:.2f}")
        print(f"     memory 100k -> 1M (one process): {csv_small['peak_rss_mib']:.0f} -> {ones[0]['peak_rss_mib']:.0f} MiB "
              f"(x{ones[0]['peak_rss_mib'] / csv_small['peak_rss_mib']:.2f} for 10x the events); split: parent "
              f"{csv_big['peak_rss_mib']:.0f} MiB, largest part {csv_big['parts_peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
