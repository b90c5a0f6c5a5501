"""Reports: a 10,000-event PDF and a 1,000,000-event CSV, each against a bare scan of the same events.

1. PDF: the first 10,000 events of the 100k demo store, whole-store scope (two passes, layout
   counted then drawn, PDF/A). Goal <= 10 s. Baseline: `read_all` over the same 10,000 events.
2. CSV: every event of the 1M demo store (benchmarks/stores.py `demo_store(1_000_000)`), one
   pass, streamed. Goal <= 15 s. Baseline: `read_all` over the same 1M events.
3. Memory: peak RSS of a child process writing the CSV of 100k events vs 1M events (flat when the
   event list is streamed), and of a child that only imports and opens the store.

Each measurement runs in a fresh child process (`--child`), so peak RSS is the report's own.
Run: `python3 tasks.py bench reports` (BENCH_REPORTS_QUICK=1 skips the 1M store).
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


def _child(kind: str, store_path: str, events: int, out_dir: str) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from explorer.reports.model import ReportScope
    from explorer.reports.writer import write_report
    from explorer.store.sqlite import SQLiteEventStore

    store = SQLiteEventStore.open(store_path, read_only=True)
    scope = ReportScope(to_position=events)
    started = time.perf_counter()
    if kind == "scan":
        count = sum(1 for _ in store.read_all(1, events))
        pages = 0
    elif kind == "open":
        count, pages = 0, 0
    else:
        result = write_report(store, scope, Path(out_dir) / f"bench.{kind}")
        count, pages = result.events, result.pages
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "events": count, "pages": pages, "seconds": seconds, "peak_rss_mib": peak_kib / 1024}


def _run(kind: str, store: Path, events: int, out_dir: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_reports", "--child", kind, str(store), str(events), out_dir],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(_child(argv[1], argv[2], int(argv[3]), argv[4])))
        return 0
    quick = os.environ.get("BENCH_REPORTS_QUICK") == "1"
    small = demo_store(100_000)
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as out:
        pdf, scan = [], []
        for _ in range(PDF_RUNS):
            scan.append(_run("scan", small, PDF_EVENTS, out)["seconds"])
            result = _run("pdf", small, PDF_EVENTS, out)
            pdf.append(result["seconds"])
        pdf_med, scan_med = statistics.median(pdf), statistics.median(scan)
        print(f"pdf  {PDF_EVENTS:,} events, {result['pages']} pages: median {pdf_med:.2f} s "
              f"(runs {', '.join(f'{v:.2f}' for v in pdf)}); goal <= 10 s")
        print(f"     baseline read_all of the same events: median {scan_med:.3f} s; ratio {pdf_med / scan_med:.0f}x")

        rss_open = _run("open", small, 0, out)["peak_rss_mib"]
        csv_small = _run("csv", small, 100_000, out)
        print(f"csv  100,000 events: {csv_small['seconds']:.2f} s, peak RSS {csv_small['peak_rss_mib']:.0f} MiB "
              f"(a process that only opens the store: {rss_open:.0f} MiB)")
        if quick:
            return 0
        big = demo_store(1_000_000)
        scan_big = _run("scan", big, 1_000_000, out)
        csv_big = _run("csv", big, 1_000_000, out)
        print(f"csv  1,000,000 events: {csv_big['seconds']:.1f} s, peak RSS {csv_big['peak_rss_mib']:.0f} MiB; "
              f"goal <= 15 s")
        print(f"     baseline read_all of the same events: {scan_big['seconds']:.1f} s "
              f"(peak RSS {scan_big['peak_rss_mib']:.0f} MiB); ratio {csv_big['seconds'] / scan_big['seconds']:.1f}x")
        print(f"     memory 100k -> 1M: {csv_small['peak_rss_mib']:.0f} -> {csv_big['peak_rss_mib']:.0f} MiB "
              f"(x{csv_big['peak_rss_mib'] / csv_small['peak_rss_mib']:.2f} for 10x the events)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
