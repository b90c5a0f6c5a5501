"""The lazy events table model: positions only, pages on demand, filters, growth."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from explorer.store.records import EventFilter
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.models.events import COLUMNS, LOADING, POSITION_ROLE, EventQuery, EventTableModel
from tests.helpers.ui import append_events, demo_copy, demo_file  # noqa: F401 - fixtures


def open_model(qtbot: QtBot, path: Path, **kwargs: int) -> tuple[EventTableModel, SQLiteEventStore]:
    store = SQLiteEventStore.open(path, read_only=True)
    model = EventTableModel(**kwargs)
    model.set_store(store, store.head().position)
    return model, store


def load_row(qtbot: QtBot, model: EventTableModel, row: int) -> None:
    if model.event_at(row) is None:
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            pass


def test_unfiltered_rows_are_every_position_and_nothing_is_read_up_front(qtbot: QtBot, demo_file: Path) -> None:
    model, store = open_model(qtbot, demo_file, page_size=50)
    assert model.rowCount() == store.head().position == 2000
    assert model.columnCount() == len(COLUMNS)
    assert model.cached_pages() == 0
    # The position column needs no read; other columns show a placeholder until the page arrives.
    assert model.index(1234, 0).data() == "1235"
    with qtbot.waitSignal(model.page_loaded, timeout=10_000) as blocker:
        assert model.index(1234, 4).data() == LOADING
    assert blocker.args == [1234 // 50]
    event = store.events_at([1235])[0]
    assert model.index(1234, 4).data() == event.type
    assert model.index(1234, 3).data() == event.stream_id
    assert model.index(1234, 1).data() == event.recorded_at.strftime("%Y-%m-%d %H:%M:%S")  # UTC, to the second
    assert model.index(1234, 6).data()  # a one-line summary
    assert model.cached_pages() == 1


def test_model_passes_the_model_tester_with_pages_loaded(qtbot: QtBot, qtmodeltester, demo_file: Path) -> None:
    model, _store = open_model(qtbot, demo_file, page_size=100)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.index(0, 1).data()
    qtmodeltester.check(model)


def test_page_cache_stays_bounded(qtbot: QtBot, demo_file: Path) -> None:
    model, _store = open_model(qtbot, demo_file, page_size=20, max_pages=5)
    for page in range(12):
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            model.request_page(page)
    assert model.cached_pages() == 5


def test_filters_match_the_store(qtbot: QtBot, demo_file: Path) -> None:
    model, store = open_model(qtbot, demo_file)
    stream_id = store.streams(limit=3)[2].stream_id
    with qtbot.waitSignal(model.reloaded, timeout=10_000):
        model.set_query(EventQuery(stream_id=stream_id))
    expected = store.positions(filters=EventFilter(stream_ids=(stream_id,)))
    assert [model.index(r, 0).data(POSITION_ROLE) for r in range(model.rowCount())] == expected
    assert model.row_of(expected[1]) == 1 and model.row_of(expected[1] + 1) in (None, 2)

    with qtbot.waitSignal(model.reloaded, timeout=10_000):
        model.set_query(EventQuery(event_types=("DeviceConnected",)))
    assert model.rowCount() == store.counts_by_event_type()["DeviceConnected"]


def test_text_filter_finds_payload_text(qtbot: QtBot, demo_file: Path) -> None:
    model, store = open_model(qtbot, demo_file)
    name = store.events_at([1])[0].data["name"]  # the first event registers a named device
    with qtbot.waitSignal(model.reloaded, timeout=10_000):
        model.set_query(EventQuery(text=name.upper()))  # case-insensitive
    found = [model.position_at(r) for r in range(model.rowCount())]
    assert 1 in found
    for event in store.events_at(found):
        assert name.casefold() in (str(event.data) + str(event.metadata) + event.stream_id).casefold()


def test_growth_appends_rows(qtbot: QtBot, demo_copy: Path) -> None:
    model, store = open_model(qtbot, demo_copy)
    append_events(demo_copy, 3)
    with qtbot.waitSignal(model.rows_appended, timeout=10_000) as blocker:
        model.extend_to(store.head().position)
    assert blocker.args == [3]
    assert model.rowCount() == 2003 and model.position_at(2002) == 2003

    with qtbot.waitSignal(model.reloaded, timeout=10_000):
        model.set_query(EventQuery(stream_types=("Ticket",)))
    assert model.rowCount() == 3
    append_events(demo_copy, 2)
    with qtbot.waitSignal(model.rows_appended, timeout=10_000) as blocker:
        model.extend_to(store.head().position)
    assert blocker.args == [2]
    assert [model.position_at(r) for r in range(5)] == [2001, 2002, 2003, 2004, 2005]
