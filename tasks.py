#!/usr/bin/env python3
"""Developer tasks that work on a fresh machine with only Python 3.11+ and pip.

    python3 tasks.py run [ARGS...]   make .venv, install the app, start it (demo store by default)
    python3 tasks.py test [PYTEST ARGS...]   make .venv, install app + test tools, run every test
    python3 tasks.py bench [NAME...]  run the benchmarks (figures go to docs/benchmarks.md by hand)
    python3 tasks.py package   build the desktop bundle with PyInstaller and check it

Each task installs what it needs itself; a second run reuses the environment.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("EXPLORER_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")

EXTRAS = {"run": "", "test": "test", "bench": "test,bench", "package": "test,package"}


def ensure_env(extras: str) -> None:
    """Create the virtual environment and install the project with `extras` (once)."""
    if not PY.exists():
        print(f"tasks: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp_key = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + extras.encode()
    ).hexdigest()[:16]
    stamp = VENV / f".installed-{stamp_key}"
    if stamp.exists():
        return
    spec = f".[{extras}]" if extras else "."
    print(f"tasks: installing {spec} into {VENV}", flush=True)
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", spec],
        cwd=ROOT,
        check=True,
    )
    stamp.touch()


def run(args: list[str]) -> int:
    ensure_env(EXTRAS["run"])
    return subprocess.call([str(PY), "-m", "explorer", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_env(EXTRAS["test"])
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    lint = subprocess.call([str(BIN / "lint-imports")], cwd=ROOT, env=env)
    if lint != 0:
        print("tasks: the layer contracts are broken (see above)", file=sys.stderr)
        return lint
    return subprocess.call([str(PY), "-m", "pytest", *args], cwd=ROOT, env=env)


def bench(args: list[str]) -> int:
    ensure_env(EXTRAS["bench"])
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return subprocess.call([str(PY), "-m", "benchmarks", *args], cwd=ROOT, env=env)


def package(args: list[str]) -> int:
    ensure_env(EXTRAS["package"])
    return subprocess.call([str(PY), str(ROOT / "packaging" / "build.py"), *args], cwd=ROOT)


TASKS = {"run": run, "test": test, "bench": bench, "package": package}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        print(__doc__, file=sys.stderr)
        return 2
    return TASKS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
