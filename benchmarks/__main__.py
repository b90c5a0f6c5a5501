"""Run benchmarks: `python -m benchmarks [NAME...]`; each bench_<NAME>.py has main(argv) -> int."""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

import os


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem[len("bench_"):] for p in Path(__file__).parent.glob("bench_*.py"))
    print(f"# machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    code = 0
    for name in names:
        print(f"\n## {name}", flush=True)
        code |= importlib.import_module(f"benchmarks.bench_{name}").main([]) or 0
    return code


sys.exit(main(sys.argv[1:]))
