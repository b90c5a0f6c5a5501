"""The Bookmarks view: add at the cursor with a note, list, jump, edit, delete; the timeline hears."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from explorer.store.bookmarks import BookmarkStore
from explorer.store.readdb import ReadDatabase
from explorer.ui.context import AppContext
from explorer.ui.views import VIEWS
from explorer.ui.views.bookmarks import BookmarksView
from tests.helpers.ui import context, demo_file  # noqa: F401 - fixtures


def test_add_list_jump_edit_delete(qtbot: QtBot, qtmodeltester, context: AppContext) -> None:
    view = BookmarksView(context=context)
    qtbot.addWidget(view)
    context.set_position(321)
    view.note_edit.setText("first <i>look</i>")
    with qtbot.waitSignal(context.bookmarks_changed) as published:
        view.add_button.click()
    assert published.args[0] == [(321, "first <i>look</i>")]
    context.set_position(1000)
    view.note_edit.setText("second")
    view.add_at_cursor()
    model = view.model
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    assert model.index(0, 0).data() == "321" and model.index(0, 2).data() == "first <i>look</i>"
    assert model.index(0, 1).data().startswith("20")

    with qtbot.waitSignal(context.event_selected) as jumped:
        view.jump_to_row(0)
    assert jumped.args == [321] and context.position == 321

    assert model.setData(model.index(1, 2), "renamed  note")
    assert BookmarkStore(ReadDatabase.for_store(context.store.store_id)).pairs()[1] == (1000, "renamed note")

    view.table.selectRow(0)
    with qtbot.waitSignal(context.bookmarks_changed) as after:
        view.delete_button.click()
    assert after.args[0] == [(1000, "renamed note")]
    qtmodeltester.check(model)


def test_bookmarks_load_for_the_opened_store(qtbot: QtBot, context: AppContext) -> None:
    BookmarkStore(ReadDatabase.for_store(context.store.store_id)).add(77, "saved before")
    view = BookmarksView(context=context)
    qtbot.addWidget(view)
    assert context.bookmarks == [(77, "saved before")]
    context.set_store(None)
    assert view.model.rowCount() == 0 and not view.add_button.isEnabled()


def test_registered_as_a_view() -> None:
    assert any(v.factory == "explorer.ui.views.bookmarks:create" for v in VIEWS)


def test_a_store_without_events_has_nothing_to_bookmark(qtbot: QtBot, tmp_path) -> None:
    from explorer.store.sqlite import SQLiteEventStore

    context = AppContext()
    context.set_store(SQLiteEventStore.create(tmp_path / "empty.evstore"))
    view = BookmarksView(context=context)
    qtbot.addWidget(view)
    assert context.position == 0
    view.add_at_cursor()
    assert view.model.rowCount() == 0 and "no events yet" in view.status.text()
    context.set_store(None)


def test_a_note_is_one_line_whether_added_edited_or_saved_before(qtbot: QtBot, context: AppContext) -> None:
    """The note box, the table's editor and the reports' annotations agree: white space runs
    (a pasted line break, a tab) are one space."""
    saved = BookmarkStore(ReadDatabase.for_store(context.store.store_id))
    saved.add(50, "saved by an\nolder version")
    view = BookmarksView(context=context)
    qtbot.addWidget(view)
    context.set_position(321)
    view.note_edit.setText("   spaced\nnewline  note  ")  # what a paste can leave in the box
    view.add_at_cursor()
    model = view.model
    assert [model.index(r, 2).data() for r in range(2)] == ["saved by an older version", "spaced newline note"]
    assert saved.pairs()[1] == (321, "spaced newline note")
    assert model.setData(model.index(1, 2), "edited\n\tin the  table")
    assert saved.pairs()[1] == (321, "edited in the table")
    assert context.bookmarks == [(50, "saved by an older version"), (321, "edited in the table")]
