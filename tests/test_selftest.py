"""`event-explorer --self-test` in-process: it passes on a working install, and names what fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import __version__, entry, selftest
from explorer.store.base import VerifyResult
from explorer.store.sqlite import SQLiteEventStore


def test_every_step_passes_with_one_line_summary(qapp, isolated_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {name: os.environ.get(name) for name in selftest.ENV_DIRS}

    code = selftest.main([])

    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"event-explorer {__version__} self-test: ok, {len(selftest.STEPS)} steps passed")
    for name, _ in selftest.STEPS:
        assert name in lines[0]
    # The user's directories (here the test's) are untouched and the environment is restored.
    assert {name: os.environ.get(name) for name in selftest.ENV_DIRS} == before
    assert not any(isolated_dirs.rglob("*")), list(isolated_dirs.rglob("*"))


def test_entry_point_dispatches_to_the_self_test(qapp, capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.main(["--self-test", "--step", "verify"]) == 0
    assert "self-test: ok, 2 steps passed" in capsys.readouterr().out


def test_json_has_steps_facts_and_about(qapp, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--json", "--step", "state_at", "--step", "paths", "--events", "500"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert [s["name"] for s in report["steps"]] == ["store", "state_at", "paths"]
    assert 2 * selftest.DEFAULT_DEVICES <= report["facts"]["store"]["events"] <= 500  # "about" 500: the demo's way
    assert report["steps"][0]["detail"].startswith(f"{report['facts']['store']['events']:,} events")
    defaults = report["facts"]["paths"]["platform_defaults"]
    assert set(defaults) == {"data", "cache", "logs", "settings"}
    assert all(Path(p).is_absolute() for p in defaults.values())
    assert report["about"]["version"] == __version__
    assert report["about"]["fts5"] is True


def test_a_failing_check_exits_1_naming_the_step(qapp, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def tampered(self: SQLiteEventStore, progress=None) -> VerifyResult:
        return VerifyResult(ok=False, checked=10, digest="", first_bad_position=10, message="hash mismatch")

    monkeypatch.setattr(SQLiteEventStore, "verify", tampered)

    code = selftest.main(["--step", "verify", "--step", "sqlite"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "FAILED 1 of 3 steps: verify failed (verify failed at position 10: hash mismatch)" in err


def test_a_module_missing_from_the_build_is_a_failure(qapp, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "explorer.commands", None)  # import now raises ModuleNotFoundError

    code = selftest.main(["--step", "preview"])

    assert code == 1
    assert "preview missing (explorer.commands is not part of this build)" in capsys.readouterr().err


def test_an_unexpected_error_is_reported_not_raised(qapp, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("explorer.demo.generate_demo", broken)

    code = selftest.main(["--step", "verify", "--verbose"])

    out, err = capsys.readouterr()
    assert code == 1
    assert "store failed (OSError: disk full)" in err
    assert "verify failed (skipped: no demo store" in err
    assert "Traceback" in err  # --verbose shows where


def test_keep_leaves_the_store_report_and_screenshot(qapp, tmp_path: Path) -> None:
    assert selftest.main(["--keep", str(tmp_path / "kept"), "--step", "report", "--events", "400"]) == 0
    assert (tmp_path / "kept" / "data" / "selftest.evstore").is_file()
    assert (tmp_path / "kept" / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.main(["--events", "5"]) == 2
    assert "error: --events must be at least" in capsys.readouterr().err
    assert selftest.main(["--step", "nope"]) == 2


def test_a_report_that_does_not_verify_fails(qapp, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.reports import verify

    def tampered(store: object, path: object, **kwargs: object) -> verify.ReportVerification:
        result = verify.ReportVerification()
        result.add(7, "event 7 differs from the store")
        return result

    monkeypatch.setattr(verify, "verify_report", tampered)

    assert selftest.main(["--step", "report", "--events", "400"]) == 1
    assert "report failed (the report does not verify: ['event 7 differs from the store']" in capsys.readouterr().err


def test_a_process_without_widgets_fails_the_window_step_instead_of_aborting(capsys: pytest.CaptureFixture[str]) -> None:
    # In a subprocess: a QGuiApplication, once made, stays for the life of the process.
    code = (
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication([])\n"
        "from explorer import selftest\n"
        "raise SystemExit(selftest.main(['--step', 'window', '--events', '200']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 1, proc.stderr
    assert "window failed (this process already runs a QGuiApplication, which cannot show a window)" in proc.stderr
