"""Where a CSV report's time goes, per event: cumulative stages over the same events, CPU time.

Each stage adds one piece of the report's per-event work to the one before, calling the
report's own functions (the store's raw read, orjson, the domain pack's evolve and sentence,
`field_changes`, the chain bytes' SHA-256). The last line is the real thing: the one-process CSV
(`ReportRun.entries` + `csv.write_csv`) over the same events. From these, the cost of the
domain's text (sentence and field diff) and of everything else is told apart, which says what a
report could cost at best if the domain's text were free.

Run: `BENCH_REPORTS_ONLY=costs python3 tasks.py bench reports` (the first 200,000 events of the
1M demo store; BENCH_REPORTS_COST_EVENTS=N for another count). Each stage runs 3 times,
interleaved; medians are printed.
"""

from __future__ import annotations

import gc
import hashlib
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson

STAGES = ("read_all", "raw rows", "+ decode", "+ fold", "+ event hash", "+ sentence", "+ field diff", "CSV report")


def stage_costs(store_path: Path, events: int, rounds: int = 3) -> dict[str, float]:
    """Median CPU microseconds per event of each stage (STAGES), over positions 1..events."""
    from explorer.domain.plugins import pack_for
    from explorer.reports import csv as csv_report
    from explorer.reports.model import ReportScope, field_changes, start_report
    from explorer.store.sqlite import SQLiteEventStore

    store = SQLiteEventStore.open(store_path, read_only=True)
    loads, dumps, sha256 = orjson.loads, orjson.dumps, hashlib.sha256

    def scan(depth: int) -> None:
        """Stages 1..6 of the list: raw rows plus the first `depth` pieces of work."""
        states: dict[str, dict] = {}
        names: dict[str, str] = {}
        kits: dict[str, tuple] = {}
        for position, sid, stype, version, etype, rec_us, eid, data_text, meta_text, _chash in store.read_raw(
                1, events):
            if depth < 1:
                continue
            data, meta = loads(data_text), loads(meta_text)
            if depth < 2:
                continue
            kit = kits.get(stype)
            if kit is None:
                pack = pack_for(stype)
                kit = kits[stype] = (pack.decider.evolve, pack.decider.initial_state, pack.sentence)
            before = states.get(sid) or kit[1]()
            after = states[sid] = kit[0](before, etype, data)
            name = after.get("name")
            if name:
                names[sid] = names[sid.partition("-")[2]] = name
            if depth < 3:
                continue
            sha256(b"".join((dumps([position, sid, stype, version, etype, rec_us, eid]), b"\n",
                             data_text.encode(), b"\n", meta_text.encode()))).hexdigest()
            if depth < 4:
                continue
            kit[2](etype, data, sid, names.get)
            if depth < 5:
                continue
            field_changes(before, after, stype, names.get)

    def report() -> None:
        run = start_report(store, ReportScope(to_position=events))
        csv_report.write_csv(run.entries(), io.StringIO())

    work: dict[str, Callable[[], object]] = {
        "read_all": lambda: sum(1 for _ in store.read_all(1, events)),
        "raw rows": lambda: scan(0),
        "+ decode": lambda: scan(1),
        "+ fold": lambda: scan(2),
        "+ event hash": lambda: scan(3),
        "+ sentence": lambda: scan(4),
        "+ field diff": lambda: scan(5),
        "CSV report": report,
    }
    times: dict[str, list[float]] = {name: [] for name in STAGES}
    for _ in range(rounds):
        for name in STAGES:
            gc.collect()
            started = time.process_time()
            work[name]()
            times[name].append((time.process_time() - started) / events * 1e6)
    store.close()
    return {name: statistics.median(values) for name, values in times.items()}


def print_costs(costs: dict[str, float], events: int, cores: int) -> None:
    base = costs["read_all"]
    for name in STAGES:
        print(f"     {name:14s} {costs[name]:6.1f} us/event  ({costs[name] / base:4.2f}x read_all)")
    text = costs["+ field diff"] - costs["+ event hash"]  # sentence + field diff
    rest = costs["CSV report"] - text
    print(f"     of the CSV report's {costs['CSV report']:.1f} us/event: the domain's text (sentence + field diff) "
          f"{text:.1f}, everything else {rest:.1f} (read, decode, fold, hash, cells, digest, counts)")
    print(f"     1,000,000 events with the domain's text free, split perfectly over {cores} cores: "
          f">= {rest * 1e6 / cores / 1e6:.1f} s of CPU per core ({events:,} events measured)")
