"""Benchmark stores, made once and cached in /tmp/explorer-bench (safe across processes)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from explorer.demo import generate_demo
from explorer.store.sqlite import SQLiteEventStore

BENCH_DIR = Path(os.environ.get("EXPLORER_BENCH_DIR", "/tmp/explorer-bench"))


def cached_store(name: str, fill: Callable[[SQLiteEventStore], None]) -> Path:
    """The path of BENCH_DIR/<name>.evstore, made once by `fill` (under a lock, then renamed).

    Open it read-only (or copy it) in a benchmark that writes: it is shared.
    """
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{name}.evstore"
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
            fill(store)
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tmp.rename(path)
        print(f"(made {path.name} in {time.perf_counter() - started:.1f} s)", flush=True)
    return path


def demo_store(events: int, devices: int = 2000, seed: int = 11, days: int = 60) -> Path:
    """The path of a demo store of about `events` events; generated on first use, then reused."""
    return cached_store(
        f"demo-{events}-{devices}-{seed}-{days}",
        lambda store: generate_demo(store, devices=devices, events=events, seed=seed, days=days) and None,
    )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
