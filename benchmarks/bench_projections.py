"""Issue 4 benchmarks: read models.

Every figure comes with a baseline measured in the same run (the machine is shared and noisy):
- a full build of all four read models over the 1M-event demo store (events/s), as a ratio to the
  bare scan + decode rate of the same rows (store.read_all) measured just before and after (goal >= 0.3),
  and to the raw read the runner itself does (read_raw + data decoded); then registry_at and
  activity_at as of random positions;
- the device graph as of a random position in that store: p50/p95 of the query (goal p95 <= 20 ms),
  against a from-scratch fold of the connection events up to the same positions;
- the graph view's redraw on a cursor move at 2,000 devices (goal p95 <= 50 ms), against redrawing
  an unchanged graph;
- search as the user types over a registry of 100,000 devices (goal p95 <= 20 ms), against
  `LIKE '%text%'` over the same names.

Run: `python3 tasks.py bench projections` (about 3-5 minutes with the 1M store cached; the build of
the read models alone takes a minute or two). EXPLORER_BENCH_EVENTS=N uses a smaller demo store;
EXPLORER_BENCH_PARTS="graph view" runs only those parts (of rebuild, graph, view, search); so does
`python -m benchmarks.bench_projections rebuild`.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.stores import demo_store, percentile
from explorer.domain.iot import device as dev
from explorer.projections import runner_for
from explorer.projections.analytics import activity_at
from explorer.projections.graph import graph_at
from explorer.projections.registry import registry_at
from explorer.projections.runner import BATCH_SIZE, ProjectionRunner, facts_of
from explorer.projections.search import SearchIndex, search
from explorer.store.base_types import NO_STREAM
from explorer.store.readdb import ReadDatabase
from explorer.store.records import AppendRequest, EventFilter, NewEvent
from explorer.store.sqlite import SQLiteEventStore

EVENTS = int(os.environ.get("EXPLORER_BENCH_EVENTS", "1000000"))
SEARCH_DEVICES = 100_000
WORDS = ("alpha", "bravo", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "iris", "jade", "kilo",
         "lumen", "maple", "nova", "onyx", "pixel", "quartz", "raven", "sierra", "talon", "umber", "vertex",
         "willow", "xenon", "yukon", "zephyr")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def scan_rate(store: SQLiteEventStore) -> float:
    started = time.perf_counter()
    n = sum(1 for _ in store.read_all())
    return n / (time.perf_counter() - started)


def raw_rate(store: SQLiteEventStore) -> float:
    """What the runner itself reads: raw rows, only the data decoded (a second, stricter baseline)."""
    started = time.perf_counter()
    n = 0
    for batch_start in range(1, store.head().position + 1, BATCH_SIZE):
        n += len(facts_of(store.read_raw(batch_start, batch_start + BATCH_SIZE - 1)))
    return n / (time.perf_counter() - started)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def bench_rebuild(store: SQLiteEventStore, work: Path) -> ProjectionRunner:
    print(f"### full build of every read model over {store.head().position:,} demo events")
    print(f"load average (1/5/15 min) before: {load()}")
    before, raw_before = scan_rate(store), raw_rate(store)
    runner = runner_for(store, ReadDatabase(work / "read.sqlite"))
    started = time.perf_counter()
    read = runner.catch_up()
    elapsed = time.perf_counter() - started
    after, raw_after = scan_rate(store), raw_rate(store)
    bare, raw = statistics.mean([before, after]), statistics.mean([raw_before, raw_after])
    rate = read / elapsed
    print(f"bare scan+decode (read_all): {before:,.0f} and {after:,.0f} events/s (mean {bare:,.0f})")
    print(f"raw rows + data decoded (what the runner reads): {raw_before:,.0f} and {raw_after:,.0f} events/s"
          f" (mean {raw:,.0f})")
    print(f"build of registry + search + graph + analytics: {rate:,.0f} events/s ({elapsed:.1f} s,"
          " indexes made at the end included)")
    print(f"ratio to bare scan+decode: {rate / bare:.2f} (goal >= 0.3); to the raw read: {rate / raw:.2f}")
    print(f"load average after: {load()}")
    size = sum(p.stat().st_size for p in work.glob("read.sqlite*"))
    print(f"read database: {size / 1e6:.0f} MB")
    # The registry and analytics as of a random position (the registry now joins two tables).
    rng = random.Random(7)
    head = store.head().position
    for name, query in (("registry_at", registry_at), ("activity_at", activity_at)):
        times = []
        for _ in range(30):
            p = rng.randint(1, head)
            started = time.perf_counter()
            query(runner.readdb, p)
            times.append(time.perf_counter() - started)
        print(f"{name} at 30 random positions: p50 {ms(percentile(times, 50))}, p95 {ms(percentile(times, 95))}")
    return runner


def bench_graph_query(runner: ProjectionRunner) -> None:
    print("\n### graph as of a random position")
    head = runner.store.head().position
    rng = random.Random(4)
    times, sizes = [], []
    for _ in range(200):
        p = rng.randint(1, head)
        started = time.perf_counter()
        g = graph_at(runner.readdb, p)
        times.append(time.perf_counter() - started)
        sizes.append(len(g.edges))
    print(f"graph_at over 200 random positions: p50 {ms(percentile(times, 50))}, p95 {ms(percentile(times, 95))}"
          f" (goal p95 <= 20 ms); edges per answer: median {statistics.median(sizes):,.0f}, max {max(sizes):,}")
    # Baseline 1: the previous implementation (before the in-memory edge mirror): the R*Tree
    # stabbing query joined to the edges, device keys mapped to stream ids through a dict.
    from explorer.projections.graph import NODES_AT, DeviceGraph
    from explorer.projections.runner import live_prefix
    pre = live_prefix(runner.readdb, DeviceGraph.name)
    db = runner.readdb.db
    names = dict(db.execute(f"SELECT device_key, stream_id FROM {pre}nodes"))
    rtree_times = []
    for _ in range(200):
        p = rng.randint(1, head)
        started = time.perf_counter()
        tuple(db.execute(NODES_AT.format(p=pre), (p,)))  # the devices: the same query graph_at makes
        pairs = db.execute(f"SELECT e.src, e.dst FROM {pre}spans s JOIN {pre}edges e ON e.edge_id = s.edge_id"
                           " WHERE s.lo <= ?1 AND s.hi > ?1", (p,)).fetchall()
        tuple((names[a], names[b]) for a, b in pairs)
        rtree_times.append(time.perf_counter() - started)
    print(f"baseline, the previous R*Tree join + key mapping at 200 other random positions: "
          f"p50 {ms(percentile(rtree_times, 50))}, p95 {ms(percentile(rtree_times, 95))}; ratio ours/previous at p95: "
          f"{percentile(times, 95) / percentile(rtree_times, 95):.2f}")
    # Baseline 2: the same answer folded from the connection events (what the read model saves).
    fold_times = []
    kinds = EventFilter(event_types=(dev.DEVICE_CONNECTED, dev.DEVICE_DISCONNECTED))
    for _ in range(5):
        p = rng.randint(head // 2, head)
        started = time.perf_counter()
        edges: set[tuple[str, str]] = set()
        for e in runner.store.read_all(1, to_position=p, filters=kinds):
            pair = (e.stream_id, dev.device_stream(e.data["peer_id"]))
            if e.type == dev.DEVICE_CONNECTED:
                edges.add(pair)
            else:
                edges.discard(pair)
        fold_times.append(time.perf_counter() - started)
    fold = statistics.median(fold_times)
    print(f"baseline, folding the connection events up to P (5 positions in the second half): median {ms(fold)};"
          f" the indexed query is {fold / percentile(times, 50):,.0f}x faster at the median")


def bench_graph_view(runner: ProjectionRunner) -> None:
    print("\n### graph view redraw on a cursor move")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from explorer.projections.graph import all_edges, all_nodes
    from explorer.projections.layout import force_layout
    from explorer.ui.context import AppContext
    from explorer.ui.views.graph_view import GraphView

    app = QApplication.instance() or QApplication([])
    context = AppContext()
    view = GraphView(context=context)
    view.resize(1000, 800)
    view.show()
    nodes, edges = all_nodes(runner.readdb), all_edges(runner.readdb)
    started = time.perf_counter()
    view.set_layout(force_layout(nodes, edges))
    print(f"layout of {len(nodes):,} devices and {len(edges):,} pairs ever connected: "
          f"{time.perf_counter() - started:.1f} s (once per store, in the background)")
    head = runner.store.head().position
    # A drag at the end of the history (the most edges), then one where the graph has about the
    # goal's 10,000 edges (found by bisection: the open edges grow with the position here).
    lo, hi = 1, head
    while hi - lo > 1000:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if len(graph_at(runner.readdb, mid).edges) < 10_000 else (lo, mid)
    for end in (head, max(hi, 200 * 500 + 1)):
        drag(app, view, runner, end)
    view.close()


def drag(app: object, view: object, runner: ProjectionRunner, end: int) -> None:
    """The cursor moves 500 events at a time through the 100,000 events before `end`."""
    positions = list(range(end - 200 * 500, end, 500))
    graphs = [graph_at(runner.readdb, p) for p in positions]
    view.show_graph(graphs[0])  # type: ignore[attr-defined]
    app.processEvents()  # type: ignore[attr-defined]

    def redraw(g: object) -> float:
        started = time.perf_counter()
        view.show_graph(g)  # type: ignore[attr-defined]
        view.plot.viewport().repaint()  # type: ignore[attr-defined]  # paint now, as the event loop would
        return time.perf_counter() - started

    moves, changes = [], []
    for g in graphs[1:]:
        moves.append(redraw(g))
        changes.append(len(view.added) + len(view.removed))  # type: ignore[attr-defined]
    same = [redraw(graphs[-1]) for _ in range(50)]
    g = graphs[-1]
    print(f"drag ending at position {end:,}: {len(g.nodes):,} devices, {len(g.edges):,} connections at the end "
          f"(min {min(len(x.edges) for x in graphs):,}); "
          f"edges added + removed per move: median {statistics.median(changes):,.0f}, max {max(changes):,}")
    print(f"redraw per cursor move (199 moves of 500 events): p50 {ms(percentile(moves, 50))}, "
          f"p95 {ms(percentile(moves, 95))} (goal p95 <= 50 ms at 10,000 edges)")
    print(f"baseline, redrawing the unchanged graph: p50 {ms(percentile(same, 50))}; "
          f"ratio move/unchanged at p50: {percentile(moves, 50) / percentile(same, 50):.2f}")
    # The view stays open for the next drag: a hidden view draws nothing (it would measure ~0 ms).


def bench_search(work: Path) -> None:
    print(f"\n### search as the user types over {SEARCH_DEVICES:,} devices")
    rng = random.Random(9)
    path = work / "search.evstore"
    names = []
    with SQLiteEventStore.create(path) as store:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        batch = []
        for i in range(SEARCH_DEVICES):
            device_id = f"{i:08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
            name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i}"
            names.append(name)
            batch.append(AppendRequest(dev.device_stream(device_id), dev.STREAM_TYPE, (NewEvent(
                dev.DEVICE_REGISTERED, {"device_id": device_id, "name": name, "kind": rng.choice(dev.KINDS),
                                        "owner": rng.choice(WORDS)}),), NO_STREAM,
                recorded_at=start + timedelta(seconds=i)))
            if len(batch) == 5000:
                store.append_batch(batch)
                batch = []
        runner = ProjectionRunner(store=store, readdb=ReadDatabase(work / "search-read.sqlite"),
                                  projections=[SearchIndex])
        runner.catch_up()
        readdb = runner.readdb
        times: list[float] = []
        like_times: list[float] = []
        prefix = readdb.db.execute("SELECT generation FROM projection_generations WHERE name = 'search'").fetchone()[0]
        for name in rng.sample(names, 40):
            typed = ""
            for ch in name[:12]:
                typed += ch
                started = time.perf_counter()
                search(readdb, typed, 50)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            readdb.db.execute(f"SELECT stream_id FROM search_g{prefix}_devices WHERE name LIKE ? LIMIT 50",
                              (f"%{name[:12]}%",)).fetchall()
            like_times.append(time.perf_counter() - started)
        print(f"prefix search per keystroke ({len(times)} keystrokes, 50 hits max): p50 {ms(percentile(times, 50))},"
              f" p95 {ms(percentile(times, 95))} (goal p95 <= 20 ms)")
        print(f"baseline, LIKE '%text%' over the same names: p50 {ms(percentile(like_times, 50))}, "
              f"p95 {ms(percentile(like_times, 95))}")


PARTS = ("rebuild", "graph", "view", "search")


def main(argv: list[str]) -> int:
    # Parts to run (default: all): argv, or EXPLORER_BENCH_PARTS="graph view" (tasks.py passes no
    # argv). Without "rebuild", only the graph read model is built (untimed) for the graph parts.
    wanted = argv or os.environ.get("EXPLORER_BENCH_PARTS", "").split()
    parts = [a for a in wanted if a in PARTS] or list(PARTS)
    unknown = [a for a in wanted if a not in PARTS]
    if unknown:
        print(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
        return 2
    source = demo_store(EVENTS)
    work = Path(tempfile.mkdtemp(prefix="bench-projections-"))
    try:
        # The cached store is shared: read it read-only, never write into it.
        store = SQLiteEventStore.open(source, read_only=True)
        if "rebuild" in parts:
            runner = bench_rebuild(store, work)
        elif "graph" in parts or "view" in parts:
            from explorer.projections.graph import DeviceGraph
            runner = ProjectionRunner(store=store, readdb=ReadDatabase(work / "read.sqlite"), projections=[DeviceGraph])
            runner.catch_up()
        if "graph" in parts:
            bench_graph_query(runner)
        if "view" in parts:
            bench_graph_view(runner)
        if "search" in parts:
            bench_search(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":  # `python -m benchmarks.bench_projections [PART...]` runs this module alone
    import sys

    sys.exit(main(sys.argv[1:]))
