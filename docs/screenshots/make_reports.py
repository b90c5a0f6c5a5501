"""Make the screenshots of docs/reports.md: page 1 and an event page of a PDF report, and the dialog.

Run: `QT_QPA_PLATFORM=offscreen .venv/bin/python -m docs.screenshots.make_reports` from the
repository root (needs `pdftoppm` from poppler-utils). It writes a real report of the planted
night caller's first week from a fresh demo store, rasterizes two of its pages and shows the
Report dialog with the same device selected.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

OUT = Path(__file__).resolve().parent


def main() -> int:
    from explorer.demo import generate_demo
    from explorer.reports.model import ReportScope
    from explorer.reports.writer import write_report
    from explorer.store.sqlite import SQLiteEventStore
    from explorer.ui.context import AppContext
    from explorer.ui.views.report_dialog import ReportDialog

    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EXPLORER_CACHE_DIR"] = tmp
        path = Path(tmp) / "demo.evstore"
        with SQLiteEventStore.create(path) as store:
            summary = generate_demo(store, devices=120, events=12_000, seed=7, days=30)
        store = SQLiteEventStore.open(path, read_only=True)
        positions = [e.position for e in store.read_stream(summary.night_caller)]
        pdf = Path(tmp) / "report.pdf"
        write_report(store, ReportScope(stream_ids=(summary.night_caller,),
                                        since=datetime(2026, 10, 1, tzinfo=UTC), until=datetime(2026, 10, 8, tzinfo=UTC)),
                     pdf, title="Night caller: first week of October", generated_by="auditor@example.org",
                     bookmarks=[(positions[12], "Calls to unknown numbers start at night"),
                                (positions[40], "Second burst of night calls")])
        for page, name in ((1, "report-page-1"), (3, "report-events")):
            subprocess.run(["pdftoppm", "-png", "-r", "90", "-f", str(page), "-l", str(page), "-singlefile",
                            str(pdf), str(OUT / name)], check=True)

        context = AppContext()
        context.set_store(store)
        context.select_stream(summary.night_caller)
        context.set_position(positions[60])
        dialog = ReportDialog(context=context)
        dialog.resize(1250, 760)
        dialog.show()
        deadline = time.perf_counter() + 60
        while dialog.preview_image is None and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.02)
        app.processEvents()
        dialog.grab().save(str(OUT / "report-dialog.png"))
        dialog.done(0)
        context.set_store(None)
    print(f"wrote {OUT}/report-page-1.png, report-events.png, report-dialog.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
