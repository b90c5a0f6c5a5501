"""Take the README's screenshots: run the app offscreen on a demo store and save PNGs.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--scale 2]

Makes a demo store (200 devices, 20,000 events) and its read models in a temporary folder,
opens the real main window, selects the busiest device, moves the as-of cursor into its history
and saves a picture of each step. Nothing in the user's own folders is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (2 = a 200%% screen)")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="explorer-shots-"))
    for name in ("DATA", "CACHE", "LOG", "CONFIG"):
        os.environ[f"EXPLORER_{name}_DIR"] = str(scratch / name.lower())
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    sys.path.insert(0, str(ROOT))

    from PySide6.QtCore import QEventLoop

    from explorer import paths
    from explorer.demo import generate_demo
    from explorer.store.records import EventFilter
    from explorer.store.sqlite import SQLiteEventStore
    from explorer.ui.app import make_application
    from explorer.ui.main_window import MainWindow
    from explorer.ui.settings import Settings

    store_path = paths.demo_store_path()
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with SQLiteEventStore.create(store_path) as store:
        generate_demo(store, devices=200, events=args.events)
        try:  # device names in the stream browser come from the registry read model
            from explorer.projections import runner_for

            runner = runner_for(store)
            runner.catch_up()
            runner.readdb.close()
        except Exception as exc:  # noqa: BLE001 - screenshots without names are still useful
            print(f"(read models not built: {exc})")

    app = make_application()
    window = MainWindow(settings=Settings(path=scratch / "settings.ini"), restore=False)
    window.resize(1600, 1000)
    window.show()
    window.default_layout()

    def settle(seconds: float = 1.5) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    def shoot(name: str) -> None:
        settle()
        args.out.mkdir(parents=True, exist_ok=True)
        suffix = "" if args.scale == 1.0 else f"@{args.scale:g}x"
        path = args.out / f"{name}{suffix}.png"
        window.grab().save(str(path))
        print(f"saved {path}")

    def shoot_dialog(dialog: Any, name: str) -> None:
        dialog.resize(760, 460)
        dialog.show()
        settle()
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{name}.png"
        dialog.grab().save(str(path))
        print(f"saved {path}")
        dialog.close()

    window.open_store(store_path)
    settle(3)
    window.show_tab(window.views["overview"])
    shoot("overview")

    store = window.context.store
    busiest = max(store.streams(), key=lambda info: info.version)
    window.context.select_stream(busiest.stream_id)
    settle()
    stream_positions = store.positions(filters=EventFilter(stream_ids=(busiest.stream_id,)))
    window.context.set_position(stream_positions[len(stream_positions) // 3])
    shoot("device-as-of-cursor")

    state_view = window.views["state"]
    first, last = stream_positions[len(stream_positions) // 10], stream_positions[len(stream_positions) // 3]
    window.context.set_region((first, last))
    shoot_dialog(state_view.open_compare(first, last), "compare")
    history = state_view.open_history("calls_out")
    if history is not None:
        shoot_dialog(history, "field-history")

    window.context.set_position(stream_positions[len(stream_positions) // 3 + 1])
    events = window.views["events"]
    detail = window.views["detail"]
    detail.tabs.setCurrentIndex(1)
    shoot("event-json")
    detail.tabs.setCurrentIndex(0)

    window.context.select_stream(None)
    browser = window.views["streams"]
    name = browser.model.names.get(busiest.stream_id, busiest.stream_id.split("-")[1][:4])
    browser.filter_edit.setText(name.split("-")[0])
    window.show_tab(events)
    events.text_edit.setText("night")
    events._apply_filters()
    shoot("filters")

    events.text_edit.setText("")
    events._apply_filters()
    browser.filter_edit.setText("")
    window.context.set_position(store.head().position * 2 // 3)
    for key in ("graph", "analytics"):
        window.show_tab(window.views[key])
        settle(3)
        if key == "analytics":  # the most suspicious device's calls per hour, as an analyst would pick it
            window.views[key].table.selectRow(0)
            settle(2)
            window.show_tab(window.views[key])  # selecting a stream brings its events forward
            settle(2)
        shoot(key)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
