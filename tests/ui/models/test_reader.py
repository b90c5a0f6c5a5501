"""The store reader: results reach their model only while the model exists."""

from __future__ import annotations

import threading
from pathlib import Path

from pytestqt.qtbot import QtBot
from shiboken6 import delete

from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.models.events import EventTableModel
from tests.helpers.ui import demo_file  # noqa: F401 - fixture


def test_a_page_that_arrives_after_its_model_was_deleted_is_dropped(qtbot: QtBot, demo_file: Path) -> None:  # noqa: F811
    store = SQLiteEventStore.open(demo_file, read_only=True)
    model = EventTableModel()
    model.set_store(store, store.head().position)
    reader = model.reader
    release, started = threading.Event(), threading.Event()

    def slow_page(_store: SQLiteEventStore) -> list[object]:
        started.set()
        release.wait(10)
        return []

    delivered: list[object] = []
    worker = reader.run(slow_page, name="slow page",
                        on_result=lambda rows: (delivered.append(rows), model.dataChanged.emit(model.index(0, 0),
                                                                                                model.index(0, 0))))
    finished: list[bool] = []
    worker.signals.finished.connect(lambda: finished.append(True))
    assert started.wait(10)
    release.set()
    assert reader.pool.waitForDone(10_000)  # read and returned; its result waits in the GUI thread's queue
    delete(model)  # the window closed meanwhile (its reader goes with it)
    qtbot.waitUntil(lambda: bool(finished), timeout=10_000)  # queued after the result: it was dealt with
    assert delivered == []  # dropped, not sent to a deleted model (which raised RuntimeError in the event loop)
    store.close()
