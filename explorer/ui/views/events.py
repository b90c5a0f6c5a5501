"""The events table (centre): every event, or the selected stream's, with filters.

Clicking a row moves the as-of cursor there; moving the cursor selects its row when the current
filter shows it. At the end of the table new events are followed; elsewhere a button says how
many arrived.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDateTime, QItemSelectionModel, QModelIndex, Qt, QTimer, QTimeZone
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.models.events import COLUMNS, POSITION_ROLE, EventTableModel
from explorer.ui.models.reader import StoreReader

log = logging.getLogger(__name__)

ALL = "(all)"


def _utc(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toSecsSinceEpoch(), UTC)


class EventsView(QWidget):
    """Filters over a lazy events table.

    Attributes:
        context: the shared AppContext.
        model: the EventTableModel.
        table: the QTableView.
        event_type_box / stream_type_box: type filters.
        range_check, since_edit, until_edit: the recorded-time range filter.
        text_edit: the text filter.
        new_events_button: "N new events" (shown when the store grew while scrolled away).
    """

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model = EventTableModel(parent=self)
        self._choices_reader = StoreReader(self)
        self._choices_head = 0  # the types of events up to here are in the filter choices
        self._learning = False  # a look at newer events' types is under way
        self._new_events = 0
        self._syncing = False

        self.stream_label = QLabel("")
        self.stream_label.setTextFormat(Qt.TextFormat.PlainText)
        self.clear_stream_button = QToolButton()
        self.clear_stream_button.setText("✕")
        self.clear_stream_button.setToolTip("Show every stream's events (Esc)")
        self.clear_stream_button.clicked.connect(lambda: context.select_stream(None))

        self.event_type_box = QComboBox()
        self.event_type_box.setToolTip("Only events of this type")
        self.event_type_box.setMinimumContentsLength(14)
        self.stream_type_box = QComboBox()
        self.stream_type_box.setToolTip("Only events of streams of this type")
        for box in (self.event_type_box, self.stream_type_box):
            box.addItem(ALL)
            box.currentIndexChanged.connect(self._apply_filters)

        self.range_check = QCheckBox("From")
        self.range_check.setToolTip("Only events recorded in this time range (UTC)")
        self.since_edit = QDateTimeEdit()
        self.until_edit = QDateTimeEdit()
        for edit in (self.since_edit, self.until_edit):
            edit.setTimeZone(QTimeZone.utc())
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setCalendarPopup(True)
            edit.setEnabled(False)
            edit.dateTimeChanged.connect(self._apply_filters)
        self.range_check.toggled.connect(self._on_range_toggled)
        to_label = QLabel("to")

        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Text in type, stream, data or metadata…")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.setToolTip("Case-insensitive text filter; press Enter to apply (Ctrl+Shift+F)")
        self.text_edit.returnPressed.connect(self._apply_filters)
        self.text_edit.textChanged.connect(lambda text: text or self._apply_filters())
        focus = QAction("Filter Events by Text", self)
        focus.setShortcut(QKeySequence("Ctrl+Shift+F"))
        focus.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        focus.triggered.connect(lambda: (self.text_edit.setFocus(), self.text_edit.selectAll()))
        self.addAction(focus)

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(120)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop filtering")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.model.cancel_filter)

        self.count_label = QLabel("")
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.new_events_button = QPushButton("")
        self.new_events_button.setToolTip("Scroll to the newest events")
        self.new_events_button.hide()
        self.new_events_button.clicked.connect(self.scroll_to_end)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.stream_label)
        bar.addWidget(self.clear_stream_button)
        bar.addWidget(QLabel("Type"))
        bar.addWidget(self.event_type_box)
        bar.addWidget(QLabel("Stream type"))
        bar.addWidget(self.stream_type_box)
        bar.addWidget(self.text_edit, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        # Fixed row heights: the view never measures rows, which keeps 1,000,000 rows cheap.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        char = self.fontMetrics().horizontalAdvance("0")
        for column, chars in enumerate((8, 19, 19, 24, 18, 12)):
            self.table.setColumnWidth(column, char * chars + 12)
        self.table.clicked.connect(self._on_row_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)

        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.range_check)
        footer.addWidget(self.since_edit)
        footer.addWidget(to_label)
        footer.addWidget(self.until_edit)
        footer.addSpacing(12)
        footer.addWidget(self.count_label, 1)
        footer.addWidget(self.new_events_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(footer)

        self.model.reloaded.connect(self._on_reloaded)
        self.model.rows_appended.connect(self._on_rows_appended)
        self.model.busy_changed.connect(self._on_busy)
        self.model.progressed.connect(self._on_progress)
        # The visible page is asked for first; neighbours are prefetched after a short pause.
        self._prefetch = QTimer(self)
        self._prefetch.setSingleShot(True)
        self._prefetch.setInterval(60)
        self._prefetch.timeout.connect(self._prefetch_neighbours)
        self.table.verticalScrollBar().valueChanged.connect(lambda _v: self._on_scrolled())

        context.store_changed.connect(self._on_store_changed)
        context.stream_selected.connect(self._on_stream_selected)
        context.position_changed.connect(self._on_position_changed)
        context.head_changed.connect(self._on_head_changed)
        self._update_stream_label()
        if context.store is not None:
            self._on_store_changed(context.store)

    # -- store and filters --------------------------------------------------------------------

    def _on_store_changed(self, store: SQLiteEventStore | None) -> None:
        self._new_events = 0
        self.new_events_button.hide()
        self.model.cursor = self.context.position
        for box in (self.event_type_box, self.stream_type_box):
            box.blockSignals(True)
            box.clear()
            box.addItem(ALL)
            box.blockSignals(False)
        self.range_check.blockSignals(True)
        self.range_check.setChecked(False)
        self.range_check.blockSignals(False)
        for edit in (self.since_edit, self.until_edit):
            edit.setEnabled(False)
        self.text_edit.blockSignals(True)
        self.text_edit.clear()
        self.text_edit.blockSignals(False)
        self.model.set_store(store, self.context.head)
        self._update_stream_label()
        if store is None:
            self._choices_reader.set_store(None)
            return

        def load(s: SQLiteEventStore) -> tuple[list[str], list[str], Any]:
            return sorted(s.counts_by_event_type()), sorted(s.counts_by_stream_type()), s.time_span()

        # Its own connection: the GROUP BY must not hold up the first page of rows.
        self._choices_reader.set_store(store)
        self._choices_head, self._learning = self.context.head, False
        self._choices_reader.run(load, name="filter choices", on_result=self._fill_choices)

    def _fill_choices(self, result: tuple[list[str], list[str], Any]) -> None:
        event_types, stream_types, span = result
        for box, items in ((self.event_type_box, event_types), (self.stream_type_box, stream_types)):
            box.blockSignals(True)
            box.addItems(items)
            box.blockSignals(False)
        if span is not None:
            for edit, when in ((self.since_edit, span[0]), (self.until_edit, span[1])):
                edit.blockSignals(True)
                edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(when.timestamp()), QTimeZone.utc()))
                edit.blockSignals(False)

    def _learn_choices(self, head: int) -> None:
        """Add the event and stream types that events appended since the last look bring (one
        look at a time, over the new positions only: the choices never need a reopen)."""
        seen = self._choices_head
        if self._learning or head <= seen or self.context.store is None:
            return
        self._learning = True

        def load(s: SQLiteEventStore) -> tuple[int, set[str], set[str]]:
            return head, *s.types_between(seen + 1, head)

        def learnt(result: tuple[int, set[str], set[str]]) -> None:
            self._learning = False
            self._choices_head, event_types, stream_types = result
            for box, found in ((self.event_type_box, event_types), (self.stream_type_box, stream_types)):
                known = {box.itemText(i) for i in range(1, box.count())}
                if found - known:
                    current = box.currentText()
                    box.blockSignals(True)
                    box.clear()
                    box.addItems([ALL, *sorted(known | found)])
                    box.setCurrentText(current)
                    box.blockSignals(False)
            self._learn_choices(self.context.head)  # appended meanwhile

        def failed(exc: BaseException) -> None:
            self._learning = False
            log.debug("new event types not read (%s): the next head change tries again", exc)

        self._choices_reader.run(load, name="new filter choices", on_result=learnt, on_error=failed)

    def _on_range_toggled(self, on: bool) -> None:
        for edit in (self.since_edit, self.until_edit):
            edit.setEnabled(on)
        self._apply_filters()

    def _apply_filters(self, *_: Any) -> None:
        event_type = self.event_type_box.currentText()
        stream_type = self.stream_type_box.currentText()
        since = until = None
        if self.range_check.isChecked():
            # The edits show minutes: the range is from the first to the last minute shown,
            # whatever seconds an edit holds (it is seeded with the store's exact times).
            since = _utc(self.since_edit.dateTime()).replace(second=0, microsecond=0)
            until = _utc(self.until_edit.dateTime()).replace(second=59, microsecond=999999)
        self.model.update_query(
            event_types=(event_type,) if event_type and event_type != ALL else (),
            stream_types=(stream_type,) if stream_type and stream_type != ALL else (),
            since=since,
            until=until,
            text=self.text_edit.text().strip(),
        )

    def _on_stream_selected(self, stream_id: str | None) -> None:
        self.model.update_query(stream_id=stream_id)
        # One stream: its id in every row says nothing; give the room to the summary.
        self.table.setColumnHidden(COLUMNS.index("Stream"), bool(stream_id))
        self._update_stream_label()

    def _update_stream_label(self) -> None:
        stream_id = self.context.stream_id
        short = stream_id if not stream_id or len(stream_id) <= 24 else stream_id[:22] + "…"
        self.stream_label.setText(f"Stream {short}" if stream_id else "All streams")
        self.stream_label.setToolTip(stream_id or "")
        self.clear_stream_button.setVisible(bool(stream_id))

    def _on_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
            self.count_label.setText("Filtering…")
        else:
            self._update_count()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _update_count(self) -> None:
        rows = self.model.rowCount()
        noun = "event" if rows == 1 else "events"
        if self.model.query.is_everything:
            self.count_label.setText(f"{rows:,} {noun}")
        else:
            self.count_label.setText(f"{rows:,} {noun} match")

    def _on_reloaded(self) -> None:
        if not self.model.is_busy:  # belt and braces: never leave the busy bar up over a result
            self.progress.hide()
            self.cancel_button.hide()
        self._update_count()
        self._new_events = 0
        self.new_events_button.hide()
        self._select_position(self.context.position, scroll=True, center=True)

    # -- cursor ---------------------------------------------------------------------------------

    def _on_row_clicked(self, index: QModelIndex) -> None:
        position = index.data(POSITION_ROLE)
        if position is not None:
            self.context.set_position(int(position))
            self.context.event_selected.emit(int(position))

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # Keyboard navigation in the table moves the cursor too (but not our own syncing).
        if self._syncing or not current.isValid() or not self.table.hasFocus():
            return
        position = current.data(POSITION_ROLE)
        if position is not None:
            self.context.set_position(int(position))

    def _on_position_changed(self, position: int) -> None:
        self.model.set_cursor(position)
        self._select_position(position, scroll=True)

    def _select_position(self, position: int, *, scroll: bool, center: bool = False) -> None:
        row = self.model.row_of(position)
        if row is not None:
            # Ask for the cursor's page now rather than when the view next paints.
            self.model.request_page(row // self.model.page_size)
        self._syncing = True
        try:
            selection = self.table.selectionModel()
            if row is None:
                selection.clearSelection()
                return
            index = self.model.index(row, 0)
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
            if scroll:
                # A new list centres the cursor's row (context above and below); steps just keep
                # it visible, so the rows do not jump under the user's eyes.
                hint = QAbstractItemView.ScrollHint.PositionAtCenter if center else \
                    QAbstractItemView.ScrollHint.EnsureVisible
                self.table.scrollTo(index, hint)
        finally:
            self._syncing = False

    def selected_position(self) -> int | None:
        index = self.table.selectionModel().currentIndex()
        return index.data(POSITION_ROLE) if index.isValid() else None

    # -- growth -----------------------------------------------------------------------------------

    def at_end(self) -> bool:
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - 1

    def _on_head_changed(self, head: int) -> None:
        self._was_at_end = self.at_end()
        self.model.extend_to(head)
        self._learn_choices(head)

    def _on_rows_appended(self, count: int) -> None:
        self._update_count()
        if getattr(self, "_was_at_end", True) and self.model.rowCount() > count:
            self.scroll_to_end()
            return
        self._new_events += count
        self.new_events_button.setText(f"{self._new_events:,} new event{'' if self._new_events == 1 else 's'} ↓")
        self.new_events_button.show()

    def scroll_to_end(self) -> None:
        self._new_events = 0
        self.new_events_button.hide()
        self.table.scrollToBottom()

    def _on_scrolled(self) -> None:
        if self._new_events and self.at_end():
            self._new_events = 0
            self.new_events_button.hide()
        self._prefetch.start()

    def _prefetch_neighbours(self) -> None:
        first = self.table.rowAt(0)
        if first < 0:
            return
        page = first // self.model.page_size
        for neighbour in (page - 1, page + 1, page + 2):
            if neighbour >= 0 and neighbour * self.model.page_size < self.model.rowCount():
                self.model.request_page(neighbour)

    def visible_columns(self) -> tuple[str, ...]:
        return COLUMNS
