"""Make the screenshots of docs/commands.md: register, connect, and a conflict resolved.

Run: `QT_QPA_PLATFORM=offscreen .venv/bin/python -m docs.screenshots.make_commands` from the
repository root. It drives the real main window on a fresh demo store, with the real
simulator (`event-explorer simulate`) in another process making the conflict.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

OUT = Path(__file__).resolve().parent


def wait(app: QApplication, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.005)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def shot(widget: QWidget, name: str) -> None:
    widget.grab().save(str(OUT / f"{name}.png"))
    print(f"saved {name}.png")


def main() -> int:
    app = QApplication.instance() or QApplication([])
    home = Path(tempfile.mkdtemp(prefix="explorer-shots-"))
    for key in ("DATA", "CACHE", "LOG", "CONFIG"):
        os.environ[f"EXPLORER_{key}_DIR"] = str(home / key.lower())

    from explorer.demo import generate_demo
    from explorer.domain.iot import device as dev
    from explorer.store.sqlite import SQLiteEventStore
    from explorer.ui.main_window import MainWindow

    path = home / "plant.evstore"
    with SQLiteEventStore.create(path) as store:
        generate_demo(store, devices=24, events=1500, seed=5, days=5)
    window = MainWindow(restore=False)
    window.resize(1800, 960)
    window.show()
    window.open_store(path, read_only=False)
    wait(app, lambda: window.context.store is not None)
    panel = window.views["commands"]
    # The state view and the command panel side by side: the pending marks and the form at once.
    from PySide6.QtCore import Qt
    right = [d for k, d in window.docks.items() if window.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea]
    for dock in right:
        window.removeDockWidget(dock)
    shown = [window.docks[k] for k in ("state", "commands") if k in window.docks]
    for dock in shown:
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock, Qt.Orientation.Horizontal)
        dock.show()
    window.resizeDocks(shown, [420] * len(shown), Qt.Orientation.Horizontal)
    history: list[str] = []
    panel.status_changed.connect(history.append)

    def submit_and_wait(outcome: str) -> None:
        del history[:]
        panel.submit.click()
        wait(app, lambda: outcome in history)
    panel.actor.setText("dana")
    panel.follow.setChecked(True)  # the as-of cursor follows the head, so the state view shows "now"
    wait(app, lambda: bool(panel.devices))

    # 1. Register a new device: the preview, then confirmed.
    panel.target.setCurrentIndex(panel.target.findData("__new__"))
    panel.set_field("name", "lab-camera-1")
    panel.set_field("kind", "camera")
    panel.set_field("owner", "acme-logistics")
    settle(app)
    shot(window, "commands-1-register-preview")
    submit_and_wait("confirmed")
    new_stream = window.context.stream_id
    wait(app, lambda: panel.base is not None and panel.base.stream_id == new_stream)
    settle(app)
    shot(window, "commands-2-register-confirmed")

    # 2. Connect it to another device: a pending edge / pending peer, then confirmed.
    panel.task.setCurrentIndex(panel.task.findData(dev.ConnectDevice))
    peer = next(s for s, (name, active) in panel.devices.items() if active and name.startswith("gateway"))
    if "graph" in window.views:
        window.show_tab(window.views["graph"])  # the dashed pending edge
    panel.set_field("peer_id", dev.device_id_of(peer))
    settle(app, 1.5)
    shot(window, "commands-3-connect-preview")
    submit_and_wait("confirmed")
    settle(app, 1.5)
    shot(window, "commands-4-connect-confirmed")
    window.show_tab(window.views["events"])

    # 3. A conflict made by the simulator in another process, resolved by confirming again.
    panel.task.setCurrentIndex(panel.task.findData(dev.RenameDevice))
    panel.set_field("name", "lab-camera-entrance")
    head = window.context.head
    subprocess.run([sys.executable, "-m", "explorer", "simulate", str(path), "--rate", "50", "--duration", "2",
                    "--devices", "1", "--stream", new_stream, "--seed", "9", "--max-events", "3"],
                   check=True, capture_output=True)
    wait(app, lambda: window.context.head > head)
    settle(app)
    shot(window, "commands-5-stale-preview")
    submit_and_wait("conflicted")
    settle(app)
    shot(window, "commands-6-conflict")
    submit_and_wait("confirmed")
    settle(app)
    shot(window, "commands-7-conflict-resolved")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
