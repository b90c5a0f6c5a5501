"""Run the command line as a user would: `python -m explorer ...` in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, user: str | None = None, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The finished process (text stdout/stderr); `user` runs it as that user through runuser."""
    command = [sys.executable, "-m", "explorer", *args]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=full_env,
                          cwd=cwd or ROOT)


_BATCH = """
import contextlib, io, json, sys
from explorer.cli import main
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    results.append([code, out.getvalue(), err.getvalue()])
sys.stdout.write(json.dumps(results))
"""


def run_cli_batch(commands: list[list[str]], user: str | None = None, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> list[tuple[int, str, str]]:
    """Run several sub-commands in ONE fresh process (start-up costs ~1 s on a busy machine):
    [(exit code, stdout, stderr)] in order."""
    command = [sys.executable, "-c", _BATCH, json.dumps(commands)]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=full_env, cwd=cwd or ROOT)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return [(code, out, err) for code, out, err in json.loads(done.stdout)]


def can_run_as(user: str) -> str | None:
    """None when `runuser -u user` works here, else why not (a skip reason)."""
    if os.geteuid() != 0:
        return "not running as root, so runuser cannot switch user"
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    probe = subprocess.run(["runuser", "-u", user, "--", sys.executable, "-c", "import explorer"],
                           capture_output=True, text=True, timeout=60, cwd="/")
    if probe.returncode != 0:
        return f"cannot run Python as {user}: {probe.stderr.strip()[-200:]}"
    return None


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The process failed with `code`, printing one `error:` line and no traceback; returns it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
