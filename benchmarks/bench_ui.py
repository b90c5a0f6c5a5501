"""Issue 3, the desktop app: `python -m benchmarks ui` runs every part; each part is a function.

Parts:
- open: open a 100k- and a 1,000,000-event demo store (read-only) in the real main window
  (every registered view) offscreen, to a usable window: store installed, stream types listed,
  the first page of the events table shown. Goal <= 1.5 s for 1M. Resident memory after opening
  and after scrolling the whole events table end to end (a page at a time): goal <= 300 MB and
  flat in store size. Each measurement runs in a fresh process (clean RSS).
  Baselines in the same run: showing an empty QMainWindow; the bare `SQLiteEventStore.open`
  plus `SELECT count(*) FROM events` on the same store; a process that only imports the app.
- streams: the stream browser on a store of 10 streams vs one of 100,000 (paged, lazy: the
  same time is the goal).
- cursor: dragging the as-of cursor across a 1M store (benchmarks/ui_cursor.py), when present.
- first-open: the whole app on a 1M store with a cold cache (the read models are built by the
  projection service's child process while the table is scrolled), then a second open on the cache
  it built (the in-run baseline): app RSS, and the child's peak RSS apart (it is a second process).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.stores import demo_store

ROOT = Path(__file__).resolve().parents[1]
OPEN_RUNS = 3
OPEN_GOAL_S = 1.5
RSS_GOAL_MB = 300


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB (Linux /proc)."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def _proc_peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of another process in MB, 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _child(path: str, scroll: bool, core_only: bool = False) -> dict[str, Any]:
    """Runs in a fresh process: open `path` in the main window and measure.

    core_only: build only the window's own browsing views (no VIEWS/ACTIONS entries), to tell
    the shell's cost from the other views' (read models catching up, graph, ...).
    """
    scratch = Path(tempfile.mkdtemp(prefix="bench-ui-open-"))
    for name in ("DATA", "CACHE", "LOG", "CONFIG"):
        os.environ[f"EXPLORER_{name}_DIR"] = str(scratch / name.lower())
    # A second open: read models already built (`EXPLORER_CACHE_DIR=DIR event-explorer project STORE`).
    if os.environ.get("EXPLORER_BENCH_WARM_CACHE"):
        os.environ["EXPLORER_CACHE_DIR"] = os.environ["EXPLORER_BENCH_WARM_CACHE"]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QThreadPool
    from PySide6.QtWidgets import QApplication, QMainWindow

    from explorer.store.sqlite import SQLiteEventStore
    from explorer.ui.app import make_application
    from explorer.ui import main_window as main_window_module
    from explorer.ui.main_window import MainWindow
    from explorer.ui.settings import Settings

    if core_only:
        main_window_module.VIEWS = []
        main_window_module.ACTIONS = []
    app = make_application()
    out: dict[str, Any] = {"rss_imported_mb": _rss_mb()[0]}

    def spin_until(done: Any, timeout_s: float = 120.0) -> None:
        deadline = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError("the window did not get there in time")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)

    # Baseline 1: an empty main window shown and painted.
    timer = QElapsedTimer()
    timer.start()
    empty = QMainWindow()
    empty.resize(1400, 900)
    empty.show()
    app.processEvents()
    empty.grab()
    out["empty_window_s"] = timer.nsecsElapsed() / 1e9
    empty.close()

    # Baseline 2: the bare store work a usable window needs at least (open, count).
    started = time.perf_counter()
    bare = SQLiteEventStore.open(path, read_only=True)
    bare._db.execute("SELECT count(*) FROM events").fetchone()
    out["bare_open_count_s"] = time.perf_counter() - started
    bare.close()

    window = MainWindow(settings=Settings(path=scratch / "settings.ini"), restore=False)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    browser, events, overview = window.views["streams"], window.views["events"], window.views["overview"]
    window.show_tab(events)
    app.processEvents()

    timer.restart()
    window.open_store(path, read_only=True)

    def usable() -> bool:
        if window.context.store is None or browser.model.rowCount() == 0:
            return False
        model = events.model
        return model.rowCount() > 0 and model.event_at(max(0, events.table.rowAt(0))) is not None

    # The read models' child process (projection service): its peak memory, sampled (it is not ours).
    from PySide6.QtCore import QTimer

    from explorer.ui.projection_service import service_for

    service = service_for(window.context)
    child_peak = [0.0]
    sampler = QTimer()
    sampler.timeout.connect(lambda: child_peak.__setitem__(
        0, max(child_peak[0], _proc_peak_mb(service.child_pid) if service.child_pid else 0.0)))
    sampler.start(250)
    spin_until(usable)
    window.grab()  # painted
    out["open_usable_s"] = timer.nsecsElapsed() / 1e9
    spin_until(lambda: overview.summary is not None)
    out["open_overview_s"] = timer.nsecsElapsed() / 1e9
    out["rows"] = events.model.rowCount()
    # Let the open's own work settle; other views' long jobs (read models catching up) go on.
    QThreadPool.globalInstance().waitForDone(3000)
    for _ in range(20):
        app.processEvents()
    out["rss_open_mb"], _peak = _rss_mb()

    if scroll:
        model, table = events.model, events.table
        timer.restart()
        pages = 0
        for first in range(0, model.rowCount(), model.page_size):
            table.scrollTo(model.index(first, 0))
            app.processEvents()
            spin_until(lambda f=first: model.event_at(f) is not None)
            pages += 1
        table.scrollToBottom()
        spin_until(lambda: model.event_at(model.rowCount() - 1) is not None)
        out["scroll_s"] = timer.nsecsElapsed() / 1e9
        out["scroll_pages"] = pages
        out["cached_pages"] = model.cached_pages()
        out["rss_scrolled_mb"], out["rss_peak_mb"] = _rss_mb()
    out["models_building_at_end"] = service.busy
    if os.environ.get("EXPLORER_BENCH_WAIT_BUILD"):  # let the child finish, so the cache is complete
        timer.restart()
        spin_until(lambda: not service.busy, timeout_s=3600)
        out["build_wait_s"] = timer.nsecsElapsed() / 1e9
        for _ in range(50):  # the views re-query the finished models (models_advanced)
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)
        out["rss_after_build_mb"], out["rss_peak_mb"] = _rss_mb()
    out["child_peak_mb"] = max(child_peak[0], service.child_peak_rss_mb or 0.0)
    out["cache_dir"] = os.environ["EXPLORER_CACHE_DIR"]
    sampler.stop()
    service.shutdown()
    window.close()
    return out


def _run_child(path: Path, scroll: bool, core_only: bool = False, **env_extra: str) -> dict[str, Any]:
    # os._exit: do not wait at exit for other views' background jobs (a 1M-event catch-up).
    code = ("import json, os, sys; from benchmarks.bench_ui import _child; "
            f"print('RESULT ' + json.dumps(_child({str(path)!r}, {scroll!r}, {core_only!r})), flush=True); "
            "os._exit(0)")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **env_extra)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"the benchmark child failed:\n{proc.stdout}\n{proc.stderr}")


def open_part(argv: list[str]) -> int:
    """Open-to-usable time and memory, 100k vs 1M events; 0 when the goals are met."""
    sizes = [int(a) for a in argv] or [100_000, 1_000_000]
    ok = True
    rows: dict[int, dict[str, Any]] = {}
    for size in sizes:
        path = demo_store(size)
        runs = [_run_child(path, scroll=False) for _ in range(OPEN_RUNS)]
        core = [_run_child(path, scroll=False, core_only=True) for _ in range(OPEN_RUNS)]
        scrolled = _run_child(path, scroll=True)
        core_scrolled = _run_child(path, scroll=True, core_only=True)
        med = {key: statistics.median(r[key] for r in runs)
               for key in ("empty_window_s", "bare_open_count_s", "open_usable_s", "open_overview_s",
                           "rss_open_mb", "rss_imported_mb")}
        rows[size] = {**med, **{k: scrolled[k] for k in scrolled if k.startswith(("scroll", "rss_scrolled",
                                                                                 "rss_peak", "cached"))}}
        r = rows[size]
        r["core_usable_s"] = statistics.median(c["open_usable_s"] for c in core)
        r["core_rss_open_mb"] = statistics.median(c["rss_open_mb"] for c in core)
        r["core_rss_scrolled_mb"] = core_scrolled["rss_scrolled_mb"]
        print(f"{size:>9,} events ({path.name}), median of {OPEN_RUNS} fresh processes:")
        print(f"  open to usable window      {r['open_usable_s'] * 1000:8.0f} ms   (goal <= {OPEN_GOAL_S * 1000:.0f} ms)"
              f"   [shell + browsing views only: {r['core_usable_s'] * 1000:.0f} ms,"
              f" RSS {r['core_rss_open_mb']:.0f} MB]")
        print(f"  open to overview complete  {r['open_overview_s'] * 1000:8.0f} ms")
        print(f"  baseline: empty QMainWindow shown  {r['empty_window_s'] * 1000:6.0f} ms;"
              f" bare open + count(*)  {r['bare_open_count_s'] * 1000:6.1f} ms")
        print(f"  ratio usable / (empty window + bare open+count): "
              f"{r['open_usable_s'] / (r['empty_window_s'] + r['bare_open_count_s']):.1f}x")
        print(f"  RSS: app imported {r['rss_imported_mb']:.0f} MB; after open {r['rss_open_mb']:.0f} MB;"
              f" after scrolling all {scrolled['scroll_pages']:,} pages {r['rss_scrolled_mb']:.0f} MB"
              f" (peak {r['rss_peak_mb']:.0f} MB; {r['cached_pages']} pages cached; scroll took"
              f" {r['scroll_s']:.1f} s)   (goal <= {RSS_GOAL_MB} MB)")
        print(f"  RSS, shell + browsing views only: after open {r['core_rss_open_mb']:.0f} MB;"
              f" after scrolling all pages {r['core_rss_scrolled_mb']:.0f} MB")
        ok &= r["open_usable_s"] <= OPEN_GOAL_S and r["rss_scrolled_mb"] <= RSS_GOAL_MB
    if len(rows) == 2:
        small, large = (rows[s] for s in sorted(rows))
        print(f"  flat in size: {sorted(rows)[1] // sorted(rows)[0]}x the events ->"
              f" RSS after scrolling {large['rss_scrolled_mb'] / small['rss_scrolled_mb']:.2f}x"
              f" (shell only {large['core_rss_scrolled_mb'] / small['core_rss_scrolled_mb']:.2f}x);"
              f" open {large['open_usable_s'] / small['open_usable_s']:.2f}x the time"
              f" (shell only {large['core_usable_s'] / small['core_usable_s']:.2f}x)")
    return 0 if ok else 1


def streams_store(streams: int) -> Path:
    """A store of `streams` one-event streams (cached beside the demo stores)."""
    from benchmarks.stores import BENCH_DIR
    from explorer.store.base_types import NO_STREAM
    from explorer.store.records import AppendRequest, NewEvent
    from explorer.store.sqlite import SQLiteEventStore

    path = BENCH_DIR / f"ui-streams-{streams}.evstore"
    if path.exists():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".partial-{os.getpid()}")
    with SQLiteEventStore.create(tmp) as store:
        for start in range(0, streams, 5000):
            store.append_batch([
                AppendRequest(f"device-{i:08d}", "Device", (NewEvent("DeviceNoted", {"i": i}),), NO_STREAM)
                for i in range(start, min(streams, start + 5000))])
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.rename(path)
    return path


def streams_part(argv: list[str]) -> int:
    """The stream browser on 10 vs 100,000 streams: types listed and the first page shown."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop

    from explorer.store.sqlite import SQLiteEventStore
    from explorer.ui.app import make_application
    from explorer.ui.context import AppContext
    from explorer.ui.views.streams import StreamBrowser

    app = make_application()
    results = {}
    for streams in (10, 100_000):
        path = streams_store(streams)
        times = []
        for _ in range(7):
            context = AppContext()
            browser = StreamBrowser(context)
            browser.resize(400, 800)
            browser.show()
            store = SQLiteEventStore.open(path, read_only=True)
            started = time.perf_counter()
            context.set_store(store)
            model = browser.model
            while not (model.rowCount() and model.rowCount(model.index(0, 0)) >= min(streams, 30)):
                app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
            browser.grab()
            times.append(time.perf_counter() - started)
            browser.close()
            context.set_store(None)
        results[streams] = statistics.median(times)
        print(f"  {streams:>7,} streams: types listed and first page shown in {results[streams] * 1000:6.1f} ms"
              " (median of 7)")
    print(f"  ratio 100,000 / 10 streams: {results[100_000] / results[10]:.2f}x")
    return 0


def cursor_part(argv: list[str]) -> int:
    """The cursor drag (benchmarks/ui_cursor.py), when that part exists."""
    try:
        from benchmarks.ui_cursor import cursor_drag
    except ImportError:
        print("cursor: benchmarks/ui_cursor.py is not there; skipped")
        return 0
    return int(cursor_drag(argv) or 0)


def first_open_part(argv: list[str]) -> int:
    """A first open (cold cache: the child builds the read models) vs a second open of its cache."""
    size = next((int(a) for a in argv if a.isdigit()), 1_000_000)
    path = demo_store(size)
    load = os.getloadavg()[0]
    cold = _run_child(path, scroll=True, EXPLORER_BENCH_WAIT_BUILD="1")
    warm = _run_child(path, scroll=True, EXPLORER_BENCH_WARM_CACHE=cold["cache_dir"])
    print(f"{size:,} events, whole app, one fresh process each; load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for name, r in (("first open (read models built by the child meanwhile)", cold),
                    ("second open (read models built: baseline)", warm)):
        print(f"  {name}: usable {r['open_usable_s'] * 1000:.0f} ms; app RSS after open {r['rss_open_mb']:.0f} MB,"
              f" after scrolling {r['scroll_pages']:,} pages {r['rss_scrolled_mb']:.0f} MB (scroll"
              f" {r['scroll_s']:.0f} s; still building at its end: {r['models_building_at_end']})"
              + (f", after the build ({r['build_wait_s']:.0f} s more) {r['rss_after_build_mb']:.0f} MB"
                 if "rss_after_build_mb" in r else "")
              + f"; app peak {r['rss_peak_mb']:.0f} MB; child peak {r['child_peak_mb']:.0f} MB")
    print(f"  the read models it built: {cold['cache_dir']} (EXPLORER_BENCH_WARM_CACHE for a warm cursor run)")
    print(f"  ratio app RSS after scrolling, first / second open: {cold['rss_scrolled_mb'] / warm['rss_scrolled_mb']:.2f}x"
          f" (goal <= {RSS_GOAL_MB} MB for the app)")
    return 0 if cold["rss_scrolled_mb"] <= RSS_GOAL_MB else 1


PARTS = {"open": open_part, "streams": streams_part, "cursor": cursor_part, "first-open": first_open_part}


def main(argv: list[str]) -> int:
    """`python -m benchmarks ui` runs every part; `python -m benchmarks.bench_ui open 100000` runs one."""
    names = [a for a in argv if a in PARTS] or list(PARTS)
    rest = [a for a in argv if a not in PARTS]
    code = 0
    for name in names:
        print(f"### ui: {name}", flush=True)
        code |= PARTS[name](rest)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
