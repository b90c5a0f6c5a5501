"""The one entry point: sub-commands run headless, a typo never opens a window."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, timeout=60)


def test_an_unknown_word_is_an_error_not_a_window() -> None:
    result = run("infoo")
    assert result.returncode == 2
    assert result.stderr.startswith("error: 'infoo' is neither a command nor an existing store file")
    assert "Traceback" not in result.stderr


def test_version_and_help() -> None:
    from explorer import __version__

    assert run("--version").stdout.strip() == f"event-explorer {__version__}"
    helped = run("--help")
    assert helped.returncode == 0 and "verify" in helped.stdout
