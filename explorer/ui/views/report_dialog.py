"""The Report dialog (File > Audit Report…, Ctrl+E): scope, format, live preview, progress, cancel.

The scope is prefilled from the app: the selected stream, the as-of cursor (the range ends
there) and the region selection (the range is the region). The preview is page 1 of the PDF,
rendered in a worker from a store clone whenever the scope settles; the report itself is written
by another worker with progress and cancel (a PDF by a child process: ui/report_process.py).
"Open when done" hands the file to the desktop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDateTime, QThreadPool, QTimer, QTimeZone, QUrl, Qt, Signal
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.reports.model import ReportCancelled, ReportError, ReportScope
from explorer.reports.writer import FORMATS, ReportResult, report_files, summary_run, write_report
from explorer.store.bookmarks import BookmarkStore
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel
from explorer.ui import workers
from explorer.ui.context import AppContext
from explorer.ui.report_process import write_pdf_in_process

log = logging.getLogger(__name__)

FORMAT_NAMES = {"pdf": "PDF (archival PDF/A, paged)", "html": "HTML (one file, prints well)",
                "csv": "CSV (one row per event)", "json": "JSON (complete, machine-readable)"}
PREVIEW_SCALE = 0.62
PREVIEW_DELAY_MS = 400


class ReportDialog(QDialog):
    """Choose what to report and in which format; preview page 1; write with progress.

    Attributes:
        context: the app context (store, stream selection, cursor, region).
        result: the last ReportResult written, or None.
        preview_image: the last preview (a QImage), or None.
        ask: (title, text) -> True to go on; asks before a typed file name replaces a file
            (a QMessageBox; tests answer it).

    Signals:
        preview_ready: a new preview image is shown.
        report_written(object): the ReportResult of a finished report.
        report_failed(str): why a report was not written (one sentence).
    """

    preview_ready = Signal()
    report_written = Signal(object)
    report_failed = Signal(str)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.result: ReportResult | None = None
        self.preview_image: Any = None
        self._preview_worker: workers.Worker | None = None
        self._report_worker: workers.Worker | None = None
        self._preview_serial = 0
        self._preview_pending = False  # a preview was stopped or put off while a report is written
        self._preview_running = False  # a preview worker is preparing the current choices
        self._keep_message = False  # the message answers the user's last action: a preview leaves it
        self._file_message = False  # ... and it is about the file name: editing the name ends it
        self._scope_text = ""  # what the last preview said about the scope
        self._replace_confirmed: Path | None = None  # the file the save dialog already asked about
        self._target: Path | None = None  # the file the report being written goes to
        self.ask = self._ask
        self.setWindowTitle("Audit Report")
        self.setObjectName("report-dialog")
        self.resize(1150, 720)
        store = context.store
        assert store is not None, "the dialog needs an open store"
        # What the dialog shows is what it reports: the store and the stream selected when it
        # opened (the main window stays usable beside it; a later selection does not change it).
        self.store = store
        self.stream_id = context.stream_id

        # -- scope ------------------------------------------------------------------------
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("Title (default: from the scope)")
        self.stream_radio = QRadioButton("Selected &stream")
        self.connected_radio = QRadioButton("Selected stream and every &connected device")
        self.whole_radio = QRadioButton("&Whole store")
        self.streams = QButtonGroup(self)
        for button in (self.stream_radio, self.connected_radio, self.whole_radio):
            self.streams.addButton(button)
        self.stream_label = QLabel(self.stream_id or "(no stream selected)")
        self.stream_label.setTextFormat(Qt.TextFormat.PlainText)
        has_stream = self.stream_id is not None
        self.stream_radio.setEnabled(has_stream)
        self.connected_radio.setEnabled(has_stream)
        (self.stream_radio if has_stream else self.whole_radio).setChecked(True)

        head = context.head
        self.from_spin = QSpinBox()
        self.to_spin = QSpinBox()
        for spin in (self.from_spin, self.to_spin):
            spin.setRange(1, max(1, head))
            spin.setGroupSeparatorShown(True)
        if context.region is not None:
            first, last = sorted(context.region)
            self.from_spin.setValue(max(1, first))
            self.to_spin.setValue(max(1, last))
            range_text = f"the region {first:,}–{last:,}"
        else:
            self.from_spin.setValue(1)
            self.to_spin.setValue(max(1, context.position or head))
            range_text = f"up to the cursor ({context.position:,})"
        self.range_box = QGroupBox(f"Positions (prefilled: {range_text})")
        range_row = QHBoxLayout(self.range_box)
        range_row.addWidget(QLabel("from"))
        range_row.addWidget(self.from_spin)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self.to_spin)
        range_row.addStretch(1)

        self.time_check = QCheckBox("Only events &recorded between (UTC)")
        self.since_edit = QDateTimeEdit()
        self.until_edit = QDateTimeEdit()
        utc = QTimeZone.utc()
        cursor_time = store.recorded_at_of(context.position) if context.position else None
        end = cursor_time or datetime.now(UTC)
        for edit, value in ((self.since_edit, end - timedelta(days=7)), (self.until_edit, end)):
            edit.setTimeZone(utc)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
            edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(value.timestamp()) + 1, utc))
            edit.setEnabled(False)
        self.time_check.toggled.connect(self.since_edit.setEnabled)
        self.time_check.toggled.connect(self.until_edit.setEnabled)

        self.types_edit = QLineEdit()
        self.types_edit.setPlaceholderText("all (or e.g. DeviceConnected, CallReported)")
        self.actor_edit = QLineEdit()
        self.actor_edit.setPlaceholderText("all (or e.g. alice, ops-bot)")

        # -- output -----------------------------------------------------------------------
        self.format_combo = QComboBox()
        for key in FORMATS:
            self.format_combo.addItem(FORMAT_NAMES[key], key)
        self.path_edit = QLineEdit(str(Path.home() / f"audit-report-{datetime.now():%Y%m%d-%H%M}.pdf"))
        self.path_edit.textChanged.connect(self._file_changed)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.bookmarks_check = QCheckBox("Include saved &bookmarks as annotations")
        self.bookmarks_check.setChecked(True)
        self.data_check = QCheckBox("Add an &appendix with every event's full data")
        self.open_check = QCheckBox("&Open the report when done")
        self.open_check.setChecked(True)

        form = QFormLayout()
        form.addRow("Title", self.title_edit)
        scope_box = QVBoxLayout()
        scope_box.addWidget(self.stream_radio)
        scope_box.addWidget(self.stream_label)
        scope_box.addWidget(self.connected_radio)
        scope_box.addWidget(self.whole_radio)
        form.addRow("Streams", scope_box)
        form.addRow(self.range_box)
        form.addRow(self.time_check)
        times = QHBoxLayout()
        times.addWidget(self.since_edit)
        times.addWidget(QLabel("to"))
        times.addWidget(self.until_edit)
        form.addRow("", times)
        form.addRow("Event types", self.types_edit)
        form.addRow("Actors", self.actor_edit)
        form.addRow("Format", self.format_combo)
        form.addRow("File", path_row)
        form.addRow(self.bookmarks_check)
        form.addRow(self.data_check)
        form.addRow(self.open_check)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() * 4)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy the digest
        self.generate_button = QPushButton("&Generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)

        left = QVBoxLayout()
        left.addLayout(form)
        left.addStretch(1)
        left.addWidget(self.message)
        left.addLayout(buttons)

        self.preview_label = QLabel("Preparing the preview…")
        self.preview_label.setTextFormat(Qt.TextFormat.PlainText)
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setMinimumWidth(int(842 * PREVIEW_SCALE) + 8)
        scroll = QScrollArea()
        scroll.setWidget(self.preview_label)
        scroll.setWidgetResizable(True)
        preview_box = QVBoxLayout()
        caption = QLabel("Preview: page 1")
        preview_box.addWidget(caption)
        preview_box.addWidget(scroll, 1)

        layout = QHBoxLayout(self)
        left_widget = QWidget()
        left_widget.setLayout(left)
        layout.addWidget(left_widget, 1)
        layout.addLayout(preview_box, 1)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.refresh_preview)
        for signal in (self.title_edit.textChanged, self.types_edit.textChanged, self.actor_edit.textChanged):
            signal.connect(self._schedule_preview)
        for spin in (self.from_spin, self.to_spin):
            spin.valueChanged.connect(self._schedule_preview)
        for edit in (self.since_edit, self.until_edit):
            edit.dateTimeChanged.connect(self._schedule_preview)
        self.time_check.toggled.connect(self._schedule_preview)
        self.streams.buttonToggled.connect(lambda *_: self._schedule_preview())
        self.bookmarks_check.toggled.connect(self._schedule_preview)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        context.store_changed.connect(self._store_changed)
        self._schedule_preview()

    def _open_store(self) -> SQLiteEventStore | None:
        """The store this dialog reports on, or None once the main window has closed it."""
        return self.store if self.context.store is self.store else None

    def _store_changed(self, store: object) -> None:
        if store is self.store:
            return
        self._preview_timer.stop()
        if self._preview_worker is not None:
            self._preview_worker.cancel()
        self._preview_serial += 1  # a late preview of the closed store is not shown
        self.generate_button.setEnabled(False)
        gone = f"{self.store.name} was closed in the main window; this dialog reports on that store only."
        self.preview_label.setText(gone)
        if self._report_worker is None:  # a report being written goes on (from its own connection)
            self.message.setText(gone + " Close it, and open the report dialog again for the store now open.")

    # -- what the user chose ---------------------------------------------------------------

    def scope(self) -> ReportScope:
        stream = self.stream_id
        stream_ids: tuple[str, ...] = ()
        connected = None
        if self.stream_radio.isChecked() and stream:
            stream_ids = (stream,)
        elif self.connected_radio.isChecked() and stream:
            connected = stream
        since = until = None
        if self.time_check.isChecked():
            since = datetime.fromtimestamp(self.since_edit.dateTime().toSecsSinceEpoch(), UTC)
            until = datetime.fromtimestamp(self.until_edit.dateTime().toSecsSinceEpoch(), UTC)
        return ReportScope(
            stream_ids=stream_ids,
            connected_to=connected,
            since=since,
            until=until,
            from_position=self.from_spin.value(),
            to_position=self.to_spin.value(),
            event_types=_words(self.types_edit.text()),
            actors=_words(self.actor_edit.text()),
        )

    def fmt(self) -> str:
        return str(self.format_combo.currentData())

    def _bookmarks(self, store_id: str) -> Callable[[], list[tuple[int, str]] | None]:
        """What the report annotates, for a worker to call: the bookmarks the app shows, or else
        those saved in the read database, read there (never on the GUI thread)."""
        if not self.bookmarks_check.isChecked():
            return lambda: None
        if self.context.bookmarks:
            shown = list(self.context.bookmarks)
            return lambda: shown
        return lambda: saved_bookmarks(store_id)

    def _format_changed(self) -> None:
        path = Path(self.path_edit.text())
        if path.suffix.lower().lstrip(".") in FORMATS:
            self.path_edit.setText(str(path.with_suffix("." + self.fmt())))

    def browse(self) -> None:
        fmt = self.fmt()
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the report as", self.path_edit.text(),
                                                f"{fmt.upper()} files (*.{fmt});;All files (*)")
        if chosen:  # the save dialog has asked before choosing an existing file
            self._replace_confirmed = Path(chosen)
            self.path_edit.setText(chosen)

    def _ask(self, title: str, text: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    # -- preview ----------------------------------------------------------------------------

    def _schedule_preview(self, *_args: Any) -> None:
        self._keep_message = self._file_message = False  # the user changed a choice
        self._preview_timer.start()

    def _tell(self, text: str, *, about_file: bool = False) -> None:
        """Answer the user's last action: the text stays until they change a choice (or, when it
        is `about_file`, the file name), however late a preview arrives."""
        self.message.setText(text)
        self._keep_message = True
        self._file_message = about_file

    def _file_changed(self) -> None:
        if self._file_message and self._report_worker is None:  # the name the message was about is gone
            self._keep_message = self._file_message = False
            self.message.setText(self._scope_text)

    def refresh_preview(self) -> None:
        """Render page 1 of the PDF for the current choices in a worker (newest request wins)."""
        store = self._open_store()
        if store is None:
            return
        if self._report_worker is not None:  # one pass over the events at a time: after the report
            self._defer_preview()
            return
        if self._preview_worker is not None:
            self._preview_worker.cancel()
        self._preview_serial += 1
        self._preview_pending = False
        serial = self._preview_serial
        scope, title = self.scope(), self.title_edit.text()
        bookmarks_of = self._bookmarks(store.store_id)
        clone = store.clone()

        def job(cancelled: Any, progress: Any) -> Any:
            from explorer.reports.pdf import render_first_page

            try:
                bookmarks = bookmarks_of()
                run = summary_run(clone, scope, title=title, bookmarks=bookmarks, cancelled=cancelled,
                                  progress=progress, time_travel=TimeTravel(clone, None))
                assert run.report is not None
                return render_first_page(run.report, [], scale=PREVIEW_SCALE, count=False), run.report
            finally:
                clone.close()

        self.preview_label.setText("Preparing the preview…")
        self._preview_running = True
        worker = workers.Worker(job, name="report-preview")
        worker.signals.progressed.connect(lambda done, total, s=serial: self._preview_progressed(s, done, total))
        worker.signals.returned.connect(lambda value, s=serial: self._show_preview(s, value))
        worker.signals.errored.connect(lambda exc, s=serial: self._preview_failed(s, exc))
        self._preview_worker = worker
        QThreadPool.globalInstance().start(worker)

    def _pause_preview(self) -> None:
        """Put off a preview not yet shown until the report is written: a preview of a large
        scope is a whole pass over its events, and it would compete with the report for the cores."""
        waiting = self._preview_timer.isActive()
        self._preview_timer.stop()
        if self._preview_running or waiting:
            self._defer_preview()

    def _defer_preview(self) -> None:
        """Drop the preview being prepared (its late answer too); `_finished` asks for it again."""
        if self._preview_worker is not None:
            self._preview_worker.cancel()
        self._preview_serial += 1
        self._preview_running = False
        self._preview_pending = True
        self.preview_label.setText("The preview follows once the report is written.")

    def _preview_progressed(self, serial: int, done: int, total: int) -> None:
        if serial == self._preview_serial and self._preview_running:  # a large scope: say how far it is
            self.preview_label.setText(f"Preparing the preview… {100 * done // max(total, 1)} %")

    def _show_preview(self, serial: int, value: Any) -> None:
        if serial != self._preview_serial:
            return
        self._preview_running = False
        image, report = value
        self.preview_image = image
        self.preview_label.setPixmap(QPixmap.fromImage(image))
        count = report.integrity.event_count
        self._scope_text = f"{count:,} event(s) in scope. {report.header.scope.describe()}"
        if not self._keep_message:
            self.message.setText(self._scope_text)
        self.generate_button.setEnabled(self._report_worker is None)
        self.preview_ready.emit()

    def _preview_failed(self, serial: int, exc: BaseException) -> None:
        if serial != self._preview_serial:
            return
        self._preview_running = False
        self.preview_label.setText(_reason(exc))
        if not self._keep_message:
            self.message.setText(_reason(exc))

    # -- writing ----------------------------------------------------------------------------

    def generate(self) -> None:
        store = self._open_store()
        if store is None or self._report_worker is not None:
            return
        text = self.path_edit.text().strip()
        if not text:
            self._tell("Choose a file to write the report to.", about_file=True)
            return
        path = Path(text).expanduser()
        if not path.suffix:
            path = path.with_suffix("." + self.fmt())
        if not path.parent.is_dir():
            self._tell(f"The folder {path.parent} does not exist.", about_file=True)
            return
        existing = [p for p in report_files(path, self.fmt()) if p.exists() and p != self._replace_confirmed]
        if existing:  # the sidecar too: it may belong to an older report kept under another name
            names = "\n".join(str(p) for p in existing)
            question = "Replace the file?" if len(existing) == 1 else "Replace the files?"
            if not self.ask(question, f"Already there:\n{names}\n\nReplace with the new report?"):
                self._tell("Nothing was written; choose another file name.", about_file=True)
                return
        scope, title, fmt = self.scope(), self.title_edit.text(), self.fmt()
        self._target = path
        bookmarks_of = self._bookmarks(store.store_id)
        include_data = self.data_check.isChecked()
        if fmt == "pdf":  # Qt's text layout holds the GIL: in a process of its own (ui/report_process.py)
            store_path = store.path

            def job(cancelled: Any, progress: Any) -> ReportResult:
                options = dict(title=title, bookmarks=bookmarks_of(), include_data=include_data)
                return write_pdf_in_process(store_path, scope, path, options=options, progress=progress,
                                            cancelled=cancelled)
        else:
            clone = store.clone()

            def job(cancelled: Any, progress: Any) -> ReportResult:
                try:
                    return write_report(clone, scope, path, fmt=fmt, title=title, bookmarks=bookmarks_of(),
                                        include_data=include_data, time_travel=TimeTravel(clone, None),
                                        progress=progress, cancelled=cancelled)
                finally:
                    clone.close()

        worker = workers.Worker(job, name="report")
        worker.signals.progressed.connect(self._progressed)
        worker.signals.returned.connect(self._written)
        worker.signals.errored.connect(self._failed)
        worker.signals.finished.connect(self._finished)
        self._pause_preview()
        self._report_worker = worker
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.generate_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._file_message = False
        self.message.setText(f"Writing {path.name}…")
        QThreadPool.globalInstance().start(worker)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setValue(int(1000 * done / max(total, 1)))

    def _written(self, result: ReportResult) -> None:
        self.result = result
        pages = f", {result.pages} pages" if result.pages else ""
        side = f"; verification block {result.sidecar.name}" if result.sidecar else ""
        self.message.setText(f"Wrote {result.path} ({result.events:,} events{pages}{side}). "
                             f"Event-list digest {result.report.integrity.event_list_digest}")
        if self.open_check.isChecked():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(result.path)))
        self.report_written.emit(result)

    def _failed(self, exc: BaseException) -> None:
        reason = _reason(exc, self._target)  # the file the user chose, not a hidden part file's name
        self.message.setText(reason)
        self.report_failed.emit(reason)

    def _finished(self) -> None:
        cancelled = self._report_worker is not None and self._report_worker.is_cancelled
        self._report_worker = None
        self.progress.setVisible(False)
        self.generate_button.setEnabled(self._open_store() is not None)
        self.cancel_button.setText("Close")
        if cancelled:
            self.message.setText("Cancelled; no report was written.")
            self.report_failed.emit("cancelled")
        self._keep_message = True
        if self._preview_pending:
            self._preview_timer.start()

    def cancel_or_close(self) -> None:
        if self._report_worker is not None:
            self._report_worker.cancel()
        else:
            self.reject()

    def done(self, code: int) -> None:
        if self._report_worker is not None:
            self._report_worker.cancel()
        if self._preview_worker is not None:
            self._preview_worker.cancel()
        self._preview_timer.stop()
        super().done(code)


def saved_bookmarks(store_id: str) -> list[tuple[int, str]] | None:
    """The bookmarks saved in the store's read database (a worker calls this), or None."""
    try:
        readdb = ReadDatabase.for_store(store_id)
        try:
            return BookmarkStore(readdb).pairs()
        finally:
            readdb.close()
    except Exception:  # noqa: BLE001 - a report without annotations beats no report
        log.exception("bookmarks unavailable for the report")
        return None


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in (p.strip() for p in text.replace(";", ",").split(",")) if w)


def _reason(exc: BaseException, target: Path | None = None) -> str:
    if isinstance(exc, ReportCancelled):
        return "Cancelled; no report was written."
    if isinstance(exc, ReportError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" to {target}" if target is not None else ""
        return f"The report could not be written{where}: {exc.strerror or exc}"
    return f"The report failed: {exc}"


def open_report_dialog(window: Any, context: AppContext) -> ReportDialog | None:
    """ACTIONS handler (File > Audit Report…, Ctrl+E)."""
    if context.store is None:
        if window is not None and hasattr(window, "show_error"):
            window.show_error("Audit report", "Open a store first; a report is made of a store's events.")
        return None
    dialog = ReportDialog(context=context, parent=window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
