"""Benchmark stores, made once and cached in /tmp/explorer-bench (safe across processes)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from explorer.demo import generate_demo
from explorer.store.sqlite import SQLiteEventStore

BENCH_DIR = Path(os.environ.get("EXPLORER_BENCH_DIR", "/tmp/explorer-bench"))


def demo_store(events: int, devices: int = 2000, seed: int = 11, days: int = 60) -> Path:
    """The path of a demo store of about `events` events; generated on first use, then reused.

    Open it read-only (or copy it) in a benchmark that writes: it is shared.
    """
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"demo-{events}-{devices}-{seed}-{days}.evstore"
    if path.exists():
        return path
    with open(BENCH_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path
        tmp = path.with_suffix(".partial")
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        started = time.perf_counter()
        with SQLiteEventStore.create(tmp) as store:
            generate_demo(store, devices=devices, events=events, seed=seed, days=days)
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tmp.rename(path)
        print(f"(made {path.name} in {time.perf_counter() - started:.1f} s)", flush=True)
    return path


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
