"""The installed app: bundle size and start time, frozen vs the same code run from the venv.

    python3 tasks.py bench package [--runs N] [--no-build]

Builds the bundle (packaging/build.py, which also checks it), then measures, interleaving frozen
and venv runs so the shared machine's noise hits both alike:
- `--version` (the start-up cost of the executable itself: bootloader, Python, our entry point),
  first run after the build and median of --runs;
- `--self-test` end to end (imports Qt, pyqtgraph and every module; makes a 3,000-event store,
  rebuilds the read models, writes a PDF, draws the window), median of a few runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _build_module():
    spec = importlib.util.spec_from_file_location("packaging_build", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench package")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--self-test-runs", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args(argv)
    build = _build_module()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        code = build.main([*(["--no-build"] if args.no_build else []), "--runs", str(args.runs), "--json", str(out)])
        if code != 0 or not out.exists():
            print("bench package: the build or its checks failed", file=sys.stderr)
            return 1
        result = json.loads(out.read_text())
    exe = Path(result["bundle"]) / build.EXE_NAME
    env = build.offscreen_env()
    frozen, venv = [], []
    for _ in range(args.self_test_runs):
        frozen.append(build.time_command([str(exe), "--self-test"], env))
        venv.append(build.time_command([sys.executable, "-m", "explorer", "--self-test"], env))
    start = result["start"]
    rows = [
        ("bundle size", f"{result['size_mb']} MB", "", ""),
        ("build time", f"{result.get('build_s', '-')} s", "", ""),
        ("--version, first run after build", f"{start['first_s']:.3f} s", "", ""),
        (f"--version, median of {start['runs']}", f"{start['frozen_median_s']:.3f} s",
         f"{start['venv_median_s']:.3f} s", f"{start['ratio_frozen_to_venv']:.2f}"),
        (f"--self-test, median of {args.self_test_runs}", f"{statistics.median(frozen):.2f} s",
         f"{statistics.median(venv):.2f} s", f"{statistics.median(frozen) / statistics.median(venv):.2f}"),
    ]
    print(f"\n| measure | frozen | venv (`python -m explorer`) | frozen / venv |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nmachine: {result['machine']}, Python {result['python']}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at {time.strftime('%H:%M UTC', time.gmtime())}")
    return 0
