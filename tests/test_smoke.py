"""End-to-end smoke: a demo store through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.stores import make_demo


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, timeout=120)


def test_demo_info_and_verify_agree_on_the_digest(tmp_path: Path) -> None:
    summary = make_demo(tmp_path / "demo.evstore")
    info = run_cli("info", str(tmp_path / "demo.evstore"), "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["head_position"] == summary.events
    assert data["digest"] == summary.digest
    verify = run_cli("verify", str(tmp_path / "demo.evstore"))
    assert verify.returncode == 0
    assert summary.digest in verify.stdout
