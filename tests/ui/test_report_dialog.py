"""The Report dialog: scope prefilled from the app, a live preview of page 1, a written report."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import orjson
import pytest
from PySide6.QtCore import QThreadPool
from pytestqt.qtbot import QtBot

from explorer.reports.verify import verify_report
from explorer.ui.context import AppContext
from explorer.ui.views import ACTIONS
from explorer.ui.views.report_dialog import ReportDialog, open_report_dialog
from tests.helpers.ui import context, demo_file, save_artifact  # noqa: F401 - fixtures


@pytest.fixture
def dialog(qtbot: QtBot, context: AppContext) -> ReportDialog:
    sid = context.store.streams(limit=5)[4].stream_id
    context.select_stream(sid)
    context.set_position(context.head - 100)
    context.set_bookmarks([(context.head - 500, "suspicious <b>burst</b>")])
    with mock.patch("explorer.ui.views.report_dialog.QDesktopServices.openUrl") as opened:
        dlg = ReportDialog(context=context)
        qtbot.addWidget(dlg)
        dlg.opened = opened  # type: ignore[attr-defined]
        yield dlg
        dlg.done(0)
    QThreadPool.globalInstance().waitForDone(10_000)


def test_scope_is_prefilled_from_selection_and_cursor(dialog: ReportDialog, context: AppContext) -> None:
    assert dialog.stream_radio.isChecked()
    scope = dialog.scope()
    assert scope.stream_ids == (context.stream_id,)
    assert scope.from_position == 1 and scope.to_position == context.position
    assert dialog.stream_label.text() == context.stream_id


def test_region_prefills_the_range(qtbot: QtBot, context: AppContext) -> None:
    context.set_region((200, 900))
    dlg = ReportDialog(context=context)
    qtbot.addWidget(dlg)
    assert dlg.whole_radio.isChecked()  # no stream selected
    scope = dlg.scope()
    assert (scope.from_position, scope.to_position) == (200, 900) and scope.stream_ids == ()
    dlg.done(0)


def test_preview_renders_page_one(qtbot: QtBot, dialog: ReportDialog) -> None:
    dialog.show()
    with qtbot.waitSignal(dialog.preview_ready, timeout=20_000):
        pass
    image = dialog.preview_image
    assert image is not None and image.width() > 400
    assert "event(s) in scope" in dialog.message.text()
    save_artifact(dialog, "report-dialog")


def test_generate_writes_a_verifiable_report_and_opens_it(qtbot: QtBot, dialog: ReportDialog,
                                                          context: AppContext, tmp_path: Path) -> None:
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("json"))
    dialog.path_edit.setText(str(tmp_path / "dialog-report.json"))
    dialog.title_edit.setText("From the dialog")
    with qtbot.waitSignal(dialog.report_written, timeout=30_000) as blocker:
        dialog.generate_button.click()
    result = blocker.args[0]
    assert result.path == tmp_path / "dialog-report.json"
    report = orjson.loads(result.path.read_bytes())
    assert report["header"]["title"] == "From the dialog"
    assert {e["stream_id"] for e in report["events"]} == {context.stream_id}
    assert report["annotations"][0]["note"] == "suspicious <b>burst</b>"
    assert verify_report(context.store, result.path).ok
    dialog.opened.assert_called_once()
    qtbot.waitUntil(lambda: dialog.cancel_button.text() == "Close" and dialog.generate_button.isEnabled())


def test_pdf_from_the_dialog(qtbot: QtBot, dialog: ReportDialog, tmp_path: Path) -> None:
    dialog.path_edit.setText(str(tmp_path / "r.pdf"))
    assert dialog.fmt() == "pdf"
    with qtbot.waitSignal(dialog.report_written, timeout=60_000) as blocker:
        dialog.generate()
    assert blocker.args[0].path.read_bytes().startswith(b"%PDF") and blocker.args[0].pages >= 2


def test_a_pdf_is_written_by_a_child_process_not_on_a_thread_of_the_app(
        qtbot: QtBot, dialog: ReportDialog, tmp_path: Path) -> None:
    """Qt's text layout holds the GIL: a large PDF written on a pool thread froze the window."""
    dialog.path_edit.setText(str(tmp_path / "r.pdf"))
    in_app = mock.Mock(side_effect=AssertionError("written in the app's process"))
    with mock.patch("explorer.ui.views.report_dialog.write_report", in_app), \
            qtbot.waitSignal(dialog.report_written, timeout=60_000) as blocker:
        dialog.generate()
    assert blocker.args[0].pages >= 2 and not in_app.called
    qtbot.waitUntil(lambda: dialog.generate_button.isEnabled())


def test_cancel_leaves_no_file(qtbot: QtBot, dialog: ReportDialog, tmp_path: Path) -> None:
    dialog.whole_radio.setChecked(True)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("html"))
    dialog.path_edit.setText(str(tmp_path / "r.html"))
    with qtbot.waitSignal(dialog.report_failed, timeout=30_000) as blocker:
        dialog.generate()
        dialog.cancel_or_close()
    assert blocker.args[0] in ("cancelled", "Cancelled; no report was written.")
    assert not (tmp_path / "r.html").exists()
    assert not list(tmp_path.glob(".r.html*"))


def test_bad_folder_gets_a_message(dialog: ReportDialog, tmp_path: Path) -> None:
    dialog.path_edit.setText(str(tmp_path / "nowhere" / "r.pdf"))
    dialog.generate()
    assert "does not exist" in dialog.message.text()


@pytest.mark.parametrize("case", ["no name", "no folder", "declined replace"])
def test_a_message_about_the_users_action_outlasts_the_preview(
        qtbot: QtBot, dialog: ReportDialog, tmp_path: Path, case: str) -> None:
    """QA F4: Generate clicked before the preview came; "20,000 event(s) in scope" replaced the answer."""
    (tmp_path / "old.pdf").write_text("old")
    target, said = {"no name": ("", "Choose a file"),
                    "no folder": (str(tmp_path / "nope" / "r.pdf"), "does not exist"),
                    "declined replace": (str(tmp_path / "old.pdf"), "Nothing was written")}[case]
    dialog.ask = lambda title, text: False
    dialog.path_edit.setText(target)
    with qtbot.waitSignal(dialog.preview_ready, timeout=30_000):
        dialog.generate()  # the preview asked for when the dialog opened is still on its way
        assert said in dialog.message.text()
    assert said in dialog.message.text()
    with qtbot.waitSignal(dialog.preview_ready, timeout=30_000):  # another preview, as after a choice
        dialog.refresh_preview()
    assert said in dialog.message.text()
    dialog.path_edit.setText(str(tmp_path / "new.pdf"))  # the name it was about changed: the scope again
    assert "event(s) in scope" in dialog.message.text()


def test_action_is_registered_with_ctrl_e(qtbot: QtBot) -> None:
    spec = next(a for a in ACTIONS if a.handler.endswith("report_dialog:open_report_dialog"))
    assert spec.shortcut == "Ctrl+E" and spec.menu == "File"
    window = mock.Mock()
    assert open_report_dialog(window, AppContext()) is None
    window.show_error.assert_called_once()


def test_a_typed_name_of_an_existing_file_is_replaced_only_when_the_user_says_so(
        qtbot: QtBot, dialog: ReportDialog, tmp_path: Path) -> None:
    keep = tmp_path / "notes.csv"
    keep.write_text("precious")
    asked: list[str] = []
    dialog.ask = lambda title, text: asked.append(text) or False
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("csv"))
    dialog.path_edit.setText(str(keep))
    dialog.generate()
    assert asked and str(keep) in asked[0]
    assert keep.read_text() == "precious" and "Nothing was written" in dialog.message.text()
    dialog.ask = lambda title, text: True
    with qtbot.waitSignal(dialog.report_written, timeout=30_000):
        dialog.generate()
    assert keep.read_text().startswith("position,")


def test_an_existing_sidecar_is_replaced_only_when_the_user_says_so(
        qtbot: QtBot, dialog: ReportDialog, tmp_path: Path) -> None:
    sidecar = tmp_path / "week.csv.verify.json"
    sidecar.write_text("the block of an older report")
    asked: list[str] = []
    dialog.ask = lambda title, text: asked.append(text) or False
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("csv"))
    dialog.path_edit.setText(str(tmp_path / "week.csv"))
    dialog.generate()
    assert asked and str(sidecar) in asked[0]
    assert sidecar.read_text() == "the block of an older report" and not (tmp_path / "week.csv").exists()


def test_the_store_itself_is_never_replaced_by_a_report(qtbot: QtBot, dialog: ReportDialog,
                                                        context: AppContext) -> None:
    store_path = context.store.path
    before = store_path.stat().st_size
    dialog.ask = lambda title, text: True  # the user even says yes to replacing it
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("csv"))
    dialog.path_edit.setText(str(store_path))
    with qtbot.waitSignal(dialog.report_failed, timeout=30_000) as blocker:
        dialog.generate()
    assert "that is the event store this report is made of" in blocker.args[0]
    assert store_path.stat().st_size == before and context.store.head().position == context.head


def test_a_preview_waits_while_a_report_is_written(qtbot: QtBot, dialog: ReportDialog, tmp_path: Path) -> None:
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("json"))
    dialog.path_edit.setText(str(tmp_path / "r.json"))
    dialog.refresh_preview()
    preview = dialog._preview_worker
    assert preview is not None and dialog.preview_label.text() == "Preparing the preview…"
    with qtbot.waitSignal(dialog.report_written, timeout=30_000):
        dialog.generate()
        # The report's pass goes first (a preview of a large scope is a pass of its own).
        assert preview.is_cancelled
        assert dialog.preview_label.text() == "The preview follows once the report is written."
        dialog.whole_radio.setChecked(True)  # a choice changed meanwhile: put off too
        dialog.refresh_preview()
        assert dialog._preview_worker is preview
    written = dialog.message.text()
    assert written.startswith("Wrote ")
    with qtbot.waitSignal(dialog.preview_ready, timeout=30_000):
        pass
    assert dialog.preview_image is not None
    assert dialog.message.text() == written  # the preview does not hide how the report went


def test_the_preview_says_how_far_it_is(qtbot: QtBot, dialog: ReportDialog) -> None:
    texts: list[str] = []
    show = dialog.preview_label.setText
    dialog.preview_label.setText = lambda text: (texts.append(text), show(text))  # type: ignore[method-assign]
    dialog.whole_radio.setChecked(True)
    with qtbot.waitSignal(dialog.preview_ready, timeout=30_000):
        dialog.refresh_preview()
    assert "Preparing the preview… 100 %" in texts


def test_the_report_is_of_the_stream_the_dialog_names_whatever_is_selected_later(
        qtbot: QtBot, dialog: ReportDialog, context: AppContext, tmp_path: Path) -> None:
    """The dialog stays open beside the main window: selecting another stream there, or none,
    must not change what the dialog (which still names its stream) reports."""
    named = dialog.stream_label.text()
    other = next(s.stream_id for s in context.store.streams(limit=10) if s.stream_id != named)
    context.select_stream(other)
    context.select_stream(None)
    assert dialog.stream_radio.isChecked() and dialog.scope().stream_ids == (named,)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("json"))
    dialog.path_edit.setText(str(tmp_path / "r.json"))
    with qtbot.waitSignal(dialog.report_written, timeout=30_000) as written:
        dialog.generate()
    assert written.args[0].report.header.scope.stream_ids == (named,)


def test_a_dialog_whose_store_was_closed_writes_no_report_of_another(
        qtbot: QtBot, dialog: ReportDialog, context: AppContext, tmp_path: Path) -> None:
    from explorer.store.sqlite import SQLiteEventStore

    qtbot.waitUntil(lambda: dialog.preview_image is not None, timeout=30_000)
    other = SQLiteEventStore.open(context.store.path, read_only=True)  # "another store" opened in the window
    context.set_store(other)
    assert "was closed in the main window" in dialog.message.text()
    assert not dialog.generate_button.isEnabled()
    dialog.path_edit.setText(str(tmp_path / "r.json"))
    dialog.generate()
    assert dialog._report_worker is None and not (tmp_path / "r.json").exists()


def test_saved_bookmarks_are_read_by_the_workers_never_on_the_gui_thread(
        qtbot: QtBot, context: AppContext, tmp_path: Path) -> None:
    """With no bookmarks shown in the app, the report reads those saved in the read database: a
    SQLite read, so it runs in the preview's and the report's workers, not when Generate is pressed."""
    import threading

    from explorer.store.bookmarks import BookmarkStore
    from explorer.store.readdb import ReadDatabase

    saved = ReadDatabase.for_store(context.store.store_id)
    BookmarkStore(saved).add(1500, "saved, not shown")
    saved.close()
    context.set_bookmarks([])
    readers: list[str] = []
    real = ReadDatabase.for_store

    def for_store(store_id: str) -> ReadDatabase:
        readers.append(threading.current_thread().name)
        return real(store_id)

    with mock.patch("explorer.ui.views.report_dialog.ReadDatabase.for_store", side_effect=for_store):
        dlg = ReportDialog(context=context)
        qtbot.addWidget(dlg)
        dlg.whole_radio.setChecked(True)
        with qtbot.waitSignal(dlg.preview_ready, timeout=30_000):
            dlg.refresh_preview()
        dlg.format_combo.setCurrentIndex(dlg.format_combo.findData("json"))
        dlg.path_edit.setText(str(tmp_path / "r.json"))
        with qtbot.waitSignal(dlg.report_written, timeout=30_000) as written:
            dlg.generate()
    dlg.done(0)
    assert len(readers) >= 2 and threading.main_thread().name not in readers
    assert [(a.position, a.note) for a in written.args[0].report.annotations] == [(1500, "saved, not shown")]


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_a_file_that_cannot_be_written_is_named_in_the_message(qtbot: QtBot, dialog: ReportDialog, fmt: str) -> None:
    """/proc takes no new files: the message names the file the user chose (it named none)."""
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(fmt))
    target = Path("/proc") / f"event-explorer-test.{fmt}"
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(dialog.report_failed, timeout=60_000) as blocker:
        dialog.generate()
    assert blocker.args[0].startswith(f"The report could not be written to {target}: "), blocker.args[0]
    assert dialog.message.text() == blocker.args[0]
