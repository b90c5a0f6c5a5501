"""The browsing views together in a window: stream browser, events table, detail, overview.

Also the HTML-injection case: payload text is shown literally everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QLabel, QTableWidget
from pytestqt.qtbot import QtBot

from explorer.store.records import EventFilter, NewEvent
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.main_window import MainWindow
from explorer.ui.models.streams import STREAM_ID_ROLE
from explorer.ui.settings import Settings
from tests.helpers.ui import append_events, demo_copy, demo_file, save_artifact  # noqa: F401 - fixtures


@pytest.fixture
def win(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    window = MainWindow(settings=Settings(path=tmp_path / "settings.ini"), restore=False)
    window.message_hook = lambda kind, title, text: pytest.fail(f"unexpected dialog: {text}")
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    yield window
    QThreadPool.globalInstance().waitForDone(10_000)


def open_store(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.store_opened, timeout=15_000):
        window.open_store(path)


def test_selecting_a_stream_in_the_browser_shows_its_events(qtbot: QtBot, win: MainWindow, demo_file: Path) -> None:
    open_store(qtbot, win, demo_file)
    browser = win.views["streams"]
    tree, model = browser.tree, browser.model
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.rowCount(model.index(0, 0)) > 0, timeout=10_000)
    index = model.index(3, 0, model.index(0, 0))
    stream_id = index.data(STREAM_ID_ROLE)
    tree.scrollTo(index)
    events_view = win.views["events"]
    with qtbot.waitSignal(events_view.model.reloaded, timeout=10_000):
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualRect(index).center())
    assert win.context.stream_id == stream_id
    assert win.tabs.currentWidget() is events_view
    store = win.context.store
    expected = store.positions(filters=EventFilter(stream_ids=(stream_id,)))
    assert [events_view.model.position_at(r) for r in range(events_view.model.rowCount())] == expected
    assert stream_id in win.statusBar().findChild(QLabel).text()

    # Esc (View > Show Whole Store) goes back to every event and the overview.
    win.clear_selection_action.trigger()
    assert win.context.stream_id is None and win.tabs.currentWidget() is win.views["overview"]


def test_device_names_appear_once_the_read_models_are_built_after_opening(
        qtbot: QtBot, win: MainWindow, demo_copy: Path) -> None:
    """A store opened before its read models existed listed bare ids until it was opened again."""
    from explorer import paths
    from explorer.ui.models.streams import device_names

    with SQLiteEventStore.open(demo_copy, read_only=True) as store:
        assert not paths.read_db_path(store.store_id).exists()  # nothing built yet: no names at first
    open_store(qtbot, win, demo_copy)
    model = win.views["streams"].model
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.rowCount(model.index(0, 0)) > 0, timeout=10_000)
    qtbot.waitUntil(lambda: bool(device_names(win.context.store)), timeout=60_000)  # the app built them
    names = device_names(win.context.store)

    def labels() -> list[str]:
        device = model.index(0, 0)
        return [str(model.index(r, 0, device).data()) for r in range(model.rowCount(device))]

    qtbot.waitUntil(lambda: any(name in label for name in names.values() for label in labels()), timeout=15_000)


def test_stream_filter_box_narrows_as_the_user_types(qtbot: QtBot, win: MainWindow, demo_file: Path) -> None:
    open_store(qtbot, win, demo_file)
    browser = win.views["streams"]
    qtbot.waitUntil(lambda: browser.model.rowCount() == 1, timeout=10_000)
    target = win.context.store.streams(limit=9)[8].stream_id
    with qtbot.waitSignal(browser.model.types_loaded, timeout=10_000):
        qtbot.keyClicks(browser.filter_edit, target.removeprefix("device-")[:5])
    device = browser.model.index(0, 0)
    qtbot.waitUntil(lambda: browser.model.rowCount(device) >= 1, timeout=10_000)
    shown = [browser.model.index(r, 0, device).data(STREAM_ID_ROLE) for r in range(browser.model.rowCount(device))]
    assert target in shown and len(shown) < 30
    assert browser.tree.isExpanded(device)


def test_clicking_a_row_moves_the_cursor_and_the_cursor_selects_the_row(
        qtbot: QtBot, win: MainWindow, demo_file: Path) -> None:
    open_store(qtbot, win, demo_file)
    view = win.views["events"]
    win.show_tab(view)
    table = view.table
    table.scrollToTop()
    index = view.model.index(4, 1)
    qtbot.waitUntil(lambda: view.model.event_at(4) is not None, timeout=10_000)
    with qtbot.waitSignal(win.context.position_changed, timeout=5_000) as blocker:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center())
    assert blocker.args == [5] and win.context.position == 5

    win.context.set_position(1500)
    assert view.selected_position() == 1500
    assert table.rowAt(table.visualRect(view.model.index(1499, 0)).center().y()) == 1499  # scrolled into view
    detail = win.views["detail"]
    qtbot.waitUntil(lambda: detail.current is not None and detail.current.position == 1500, timeout=5_000)
    event = win.context.store.events_at([1500])[0]
    assert detail.hash_edit.text() == event.chain_hash
    assert f'"position": 1500' in detail.raw.toPlainText()
    # Events after the cursor are dimmed: they have not happened as of the cursor.
    assert view.model.index(1500, 1).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert view.model.index(1498, 1).data(Qt.ItemDataRole.ForegroundRole) is None
    qtbot.waitUntil(lambda: view.model.event_at(1499) is not None, timeout=10_000)
    save_artifact(win, "events-table-cursor")


def test_new_events_are_followed_at_the_end_and_counted_elsewhere(
        qtbot: QtBot, win: MainWindow, demo_copy: Path) -> None:
    open_store(qtbot, win, demo_copy)
    view = win.views["events"]
    win.show_tab(view)
    view.scroll_to_end()
    append_events(demo_copy, 4)
    with qtbot.waitSignal(view.model.rows_appended, timeout=10_000):
        win.context.set_head(2004)
    assert view.at_end() and view.new_events_button.isHidden()

    view.table.scrollToTop()
    append_events(demo_copy, 3)
    with qtbot.waitSignal(view.model.rows_appended, timeout=10_000):
        win.context.set_head(2007)
    assert view.new_events_button.isVisible() and view.new_events_button.text().startswith("3 new events")
    assert not view.at_end()
    view.new_events_button.click()
    assert view.at_end() and view.new_events_button.isHidden()
    assert view.model.rowCount() == 2007


def test_overview_counts_match_the_store(qtbot: QtBot, win: MainWindow, demo_file: Path) -> None:
    open_store(qtbot, win, demo_file)
    overview = win.views["overview"]
    qtbot.waitUntil(lambda: overview.summary is not None, timeout=10_000)
    store = win.context.store
    shown = {overview.event_table.item(r, 0).text(): int(overview.event_table.item(r, 1).text().replace(",", ""))
             for r in range(overview.event_table.rowCount())}
    assert shown == store.counts_by_event_type()
    assert sum(overview.summary.histogram) == store.head().position
    assert "2,000 events in 30 streams" in overview.headline.text()


INJECTED = {"title": "<b>x</b>", "picture": "<img src=x onerror=alert(1)>", "nested": {"note": "<i>y</i>"}}


def test_payload_html_is_shown_as_plain_text_everywhere(qtbot: QtBot, win: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "html.evstore"
    with SQLiteEventStore.create(path) as store:
        store.append("note-<b>1</b>", "Note", [NewEvent("<b>NoteAdded</b>", INJECTED, {"actor": "<img src=y>"})], 0)
    open_store(qtbot, win, path)
    win.context.set_position(1)
    detail = win.views["detail"]
    qtbot.waitUntil(lambda: detail.current is not None, timeout=5_000)

    items = {}
    stack = [detail.tree.topLevelItem(i) for i in range(detail.tree.topLevelItemCount())]
    while stack:
        item = stack.pop()
        items[item.text(0)] = item.text(1)
        stack.extend(item.child(i) for i in range(item.childCount()))
    assert items["title"] == "<b>x</b>" and items["picture"] == "<img src=x onerror=alert(1)>"
    assert items["note"] == "<i>y</i>" and items["actor"] == "<img src=y>"
    assert '"title": "<b>x</b>"' in detail.raw.toPlainText()
    assert "<b>NoteAdded</b>" in detail.title.text()

    view = win.views["events"]
    qtbot.waitUntil(lambda: view.model.event_at(0) is not None, timeout=10_000)
    row = [view.model.index(0, c).data() for c in range(view.model.columnCount())]
    assert row[3] == "note-<b>1</b>" and row[4] == "<b>NoteAdded</b>" and row[5] == "<img src=y>"
    assert "<img src=x onerror=" in row[6]  # the generic one-line summary, literally

    overview = win.views["overview"]
    qtbot.waitUntil(lambda: overview.summary is not None, timeout=10_000)
    table: QTableWidget = overview.event_table
    assert table.item(0, 0).text() == "<b>NoteAdded</b>"

    # No label anywhere may interpret markup that came from the store.
    for label in win.findChildren(QLabel):
        if "<" in label.text():
            assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName() or label.text()
    win.show_tab(view)
    detail.tabs.setCurrentIndex(1)
    save_artifact(win, "html-injection")


def test_an_empty_store_opens_quietly(qtbot: QtBot, win: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "empty.evstore"
    SQLiteEventStore.create(path).close()
    open_store(qtbot, win, path)
    overview = win.views["overview"]
    qtbot.waitUntil(lambda: overview.summary is not None, timeout=10_000)
    assert "0 events in 0 streams" in overview.headline.text()
    assert win.views["events"].model.rowCount() == 0
    assert win.views["streams"].model.rowCount() == 0
    assert win.views["detail"].hash_edit.text() == ""


def test_the_overview_of_an_empty_store_says_so_on_the_hour_around_now(qtbot: QtBot, win: MainWindow,
                                                                       tmp_path: Path, demo_file: Path) -> None:
    """Not a second of 1970 ("00.100 … 00.900"), nor the chart of the store open before."""
    import time

    overview = win.views["overview"]
    open_store(qtbot, win, demo_file)
    qtbot.waitUntil(lambda: overview.summary is not None and overview.summary.head == 2000, timeout=10_000)
    path = tmp_path / "empty.evstore"
    SQLiteEventStore.create(path).close()
    open_store(qtbot, win, path)
    qtbot.waitUntil(lambda: overview.summary is not None and overview.summary.head == 0, timeout=10_000)
    plot = overview.plot.getPlotItem()
    (x0, x1), _ = plot.getViewBox().viewRange()
    assert x0 < time.time() < x1 and x1 - x0 < 2 * 3600
    assert plot.titleLabel.text.startswith("No events yet") and overview.bars is None
    assert plot.getAxis("bottom").caption.endswith("(UTC)")


def test_type_and_time_range_filters_in_the_events_view(qtbot: QtBot, win: MainWindow, demo_file: Path) -> None:
    from datetime import timedelta

    from PySide6.QtCore import QDateTime, QTimeZone

    open_store(qtbot, win, demo_file)
    view = win.views["events"]
    qtbot.waitUntil(lambda: view.event_type_box.count() > 1, timeout=10_000)
    with qtbot.waitSignal(view.model.reloaded, timeout=10_000):
        view.event_type_box.setCurrentText("DeviceConnected")
    store = win.context.store
    assert view.model.rowCount() == store.counts_by_event_type()["DeviceConnected"]

    first, _last = store.time_span()
    since, until = first + timedelta(days=2), first + timedelta(days=3)
    view.since_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(since.timestamp()), QTimeZone.utc()))
    view.until_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(until.timestamp()), QTimeZone.utc()))
    with qtbot.waitSignal(view.model.reloaded, timeout=10_000):
        view.range_check.setChecked(True)
    query = view.model.query
    expected = store.positions(filters=EventFilter(event_types=("DeviceConnected",), since=query.since,
                                                   until=query.until))
    assert 0 < len(expected) < store.counts_by_event_type()["DeviceConnected"]
    assert [view.model.position_at(r) for r in range(view.model.rowCount())] == expected
    assert view.count_label.text() == f"{len(expected):,} events match"
    # The edits show minutes: the range is the minutes shown, whatever seconds the edit holds.
    shown_since = since.replace(second=0, microsecond=0)
    assert (query.since, query.until) == (shown_since, until.replace(second=59, microsecond=999999))
    view.since_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(since.timestamp()) + 47, QTimeZone.utc()))
    view._apply_filters()
    assert view.model.query.since == shown_since  # 47 hidden seconds later: the same minute shown


def test_the_type_filters_learn_types_that_arrive_after_opening(qtbot: QtBot, win: MainWindow, tmp_path: Path,
                                                                demo_file: Path) -> None:
    import shutil

    from explorer.store import NewEvent
    from explorer.store.base_types import ANY
    from explorer.store.sqlite import SQLiteEventStore

    path = tmp_path / "growing.evstore"
    shutil.copy(demo_file, path)
    open_store(qtbot, win, path)
    view = win.views["events"]
    qtbot.waitUntil(lambda: view.event_type_box.count() > 1, timeout=10_000)
    view.event_type_box.setCurrentText("DeviceConnected")
    with SQLiteEventStore.open(path) as writer:  # another writer brings a new stream type and event type
        writer.append("ticket-1", "Ticket", [NewEvent("TicketOpened", {"title": "x"})], ANY)
    qtbot.waitUntil(lambda: view.event_type_box.findText("TicketOpened") > 0
                    and view.stream_type_box.findText("Ticket") > 0, timeout=15_000)
    assert view.event_type_box.currentText() == "DeviceConnected"  # the user's choice stays
    items = [view.event_type_box.itemText(i) for i in range(1, view.event_type_box.count())]
    assert items == sorted(items)
