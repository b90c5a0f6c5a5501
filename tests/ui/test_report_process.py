"""A PDF report is written by a child process: result, errors, cancel and a child that dies."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from explorer.reports.model import ReportCancelled, ReportError, ReportScope
from explorer.reports.verify import verify_report
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.report_process import write_pdf_in_process
from tests.helpers.ui import demo_file  # noqa: F401 - fixture

WHOLE = ReportScope(from_position=1, to_position=2000)


def _children() -> list[str]:
    return [p.name for p in multiprocessing.active_children()]


def test_a_pdf_is_written_by_a_child_process(demo_file: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    children: set[str] = set()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        children.update(_children())

    target = tmp_path / "r.pdf"
    result = write_pdf_in_process(demo_file, ReportScope(from_position=1, to_position=400), target,
                                  options={"title": "From a child", "bookmarks": [(10, "look")]},
                                  progress=progress)
    assert "pdf-report" in children  # the report's work ran there, not on a thread of this process
    assert result.path == target and result.pages >= 2 and result.events == 400
    assert result.report.header.title == "From a child" and result.report.annotations[0].note == "look"
    assert target.read_bytes().startswith(b"%PDF") and seen[-1][0] == seen[-1][1]
    with SQLiteEventStore.open(demo_file, read_only=True) as store:
        assert verify_report(store, target).ok
    assert _children() == []


def test_the_child_s_report_error_is_raised_here(demo_file: Path) -> None:
    with pytest.raises(ReportError, match="that is the event store this report is made of"):
        write_pdf_in_process(demo_file, WHOLE, demo_file, options={})
    assert _children() == []


def test_a_cancel_stops_the_child_and_leaves_nothing(demo_file: Path, tmp_path: Path) -> None:
    asked: list[int] = []
    target = tmp_path / "r.pdf"
    with pytest.raises(ReportCancelled):
        write_pdf_in_process(demo_file, WHOLE, target, options={},
                             progress=lambda done, total: asked.append(done), cancelled=lambda: bool(asked))
    assert _children() == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("how", "raised", "says"), [
    (signal.SIGKILL, ReportError, "ended without writing the report"),  # killed: its part files are removed here
    (signal.SIGTERM, ReportCancelled, "stopped"),  # terminated (an app that quits): it stops as on a cancel
])
def test_a_child_that_is_killed_leaves_no_part_file(demo_file: Path, tmp_path: Path, how: signal.Signals,
                                                    raised: type[Exception], says: str) -> None:
    parts: list[str] = []

    def kill_when_drawing(done: int, total: int) -> None:
        if done > total // 2 and not parts:  # the PDF's part file is being written by now
            parts.extend(p.name for p in tmp_path.iterdir())
            for child in multiprocessing.active_children():
                os.kill(child.pid, how)

    target = tmp_path / "r.pdf"
    with pytest.raises(raised, match=says):
        write_pdf_in_process(demo_file, WHOLE, target, options={}, progress=kill_when_drawing)
    assert any(name.startswith(".r.pdf.") and name.endswith(".part") for name in parts)
    assert list(tmp_path.iterdir()) == []
    assert _children() == []
