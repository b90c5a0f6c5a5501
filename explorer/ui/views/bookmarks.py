"""Saved investigations: bookmarks with notes on the timeline.

Add a bookmark at the as-of cursor with a note, list them, jump to one, edit its note, delete it.
They are kept in the store's read database (explorer.store.bookmarks), published with
`context.set_bookmarks` so the timeline draws them, and exported into reports as annotations.
The bookmark table is a few rows in a small local file: reading it on the GUI thread is an
indexed lookup, not a scan of the store.

A note is one line of plain text (`one_line`): a note typed or pasted into the note box, one edited
in the table, and one saved by an older version are all kept and shown with every run of white
space (line breaks, tabs) as one space, as the reports print the annotations.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from explorer.store.bookmarks import Bookmark, BookmarkStore
from explorer.store.readdb import ReadDatabase
from explorer.store.records import format_time
from explorer.ui.context import AppContext

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex
COLUMNS = ("Position", "Recorded at", "Note")


def one_line(note: str) -> str:
    """A note as the app keeps and shows it: one line, white space runs as one space, trimmed
    (`explorer.reports.model.annotations_in` prints annotations the same way)."""
    return " ".join(str(note).split())


class BookmarkModel(QAbstractTableModel):
    """The bookmarks of the open store; the note column is editable.

    Signals:
        note_edited(int, str): a bookmark id and its new note (the view saves it).
    """

    note_edited = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[Bookmark] = []
        self.times: dict[int, str] = {}

    def set_rows(self, rows: list[Bookmark], times: dict[int, str]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.times = dict(times)
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt override
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 3:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        mark = self.rows[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == 0:
                return f"{mark.position:,}" if role == Qt.ItemDataRole.DisplayRole else mark.position
            if column == 1:
                return self.times.get(mark.position, "")
            return mark.note
        if role == Qt.ItemDataRole.ToolTipRole and column == 2:
            return mark.note
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == 2 else base

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or index.column() != 2 or role != Qt.ItemDataRole.EditRole:
            return False
        mark = self.rows[index.row()]
        note = one_line(value)
        self.rows[index.row()] = Bookmark(mark.id, mark.position, note, mark.created_at)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole])
        self.note_edited.emit(mark.id, note)
        return True


class BookmarksView(QWidget):
    """Add at the cursor with a note, list, jump (double-click or Enter), edit, delete.

    Attributes:
        context: the app context.
        model: the BookmarkModel shown.
        marks: the open store's BookmarkStore, or None without a store.
    """

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model = BookmarkModel(self)
        self.marks: BookmarkStore | None = None

        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Note for a bookmark at the cursor…")
        self.note_edit.setMaxLength(2000)
        self.note_edit.returnPressed.connect(self.add_at_cursor)
        self.add_button = QPushButton("&Add at Cursor")
        self.add_button.setToolTip("Bookmark the event at the as-of cursor with this note")
        self.add_button.clicked.connect(self.add_at_cursor)
        self.delete_button = QPushButton("&Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.jump_button = QPushButton("&Go To")
        self.jump_button.setToolTip("Move the cursor to the selected bookmark (or double-click it)")
        self.jump_button.clicked.connect(self.jump_to_selected)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.SelectedClicked)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda index: self.jump_to_row(index.row()))
        self.model.note_edited.connect(self._save_note)

        top = QHBoxLayout()
        top.addWidget(self.note_edit, 1)
        top.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.jump_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        context.store_changed.connect(self._on_store_changed)
        self._on_store_changed(context.store)

    # -- store -------------------------------------------------------------------------------

    def _on_store_changed(self, store: Any) -> None:
        if self.marks is not None:
            self.marks.readdb.close()
            self.marks = None
        if store is not None:
            try:
                self.marks = BookmarkStore(ReadDatabase.for_store(store.store_id))
            except Exception as exc:  # noqa: BLE001 - no cache folder: bookmarks are off, the app runs
                log.exception("bookmarks unavailable")
                self.status.setText(f"Bookmarks unavailable: {exc}")
        enabled = self.marks is not None
        for widget in (self.note_edit, self.add_button, self.delete_button, self.jump_button):
            widget.setEnabled(enabled)
        self.reload()

    def reload(self) -> None:
        """Read the bookmarks again and publish them to the timeline."""
        rows = [replace(m, note=one_line(m.note)) for m in self.marks.list()] if self.marks is not None else []
        store = self.context.store
        times: dict[int, str] = {}
        for mark in rows:
            when = store.recorded_at_of(mark.position) if store is not None and mark.position > 0 else None
            times[mark.position] = format_time(when)[:19].replace("T", " ") if when else ""
        self.model.set_rows(rows, times)
        self.context.set_bookmarks([(m.position, m.note) for m in rows])

    # -- actions -----------------------------------------------------------------------------

    def add_at_cursor(self) -> None:
        if self.marks is None:
            return
        position = self.context.position
        if position < 1:
            self.status.setText("Nothing to bookmark: the store has no events yet")
            return
        note = one_line(self.note_edit.text()) or f"Bookmark at position {position:,}"
        self.marks.add(position, note)
        self.note_edit.clear()
        self.status.setText(f"Bookmarked position {position:,}")
        self.reload()

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def delete_selected(self) -> None:
        row = self.selected_row()
        if self.marks is None or row is None:
            return
        mark = self.model.rows[row]
        self.marks.delete(mark.id)
        self.status.setText(f"Deleted the bookmark at position {mark.position:,}")
        self.reload()

    def jump_to_selected(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.jump_to_row(row)

    def jump_to_row(self, row: int) -> None:
        if 0 <= row < len(self.model.rows):
            position = self.model.rows[row].position
            self.context.set_position(position)
            self.context.event_selected.emit(position)

    def _save_note(self, bookmark_id: int, note: str) -> None:
        if self.marks is not None:
            self.marks.update(bookmark_id, note)
            self.context.set_bookmarks([(m.position, m.note) for m in self.model.rows])

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Delete and self.table.hasFocus():
            self.delete_selected()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.hasFocus():
            self.jump_to_selected()
        else:
            super().keyPressEvent(event)


def create(context: AppContext) -> BookmarksView:
    """The view factory the main window calls (VIEWS)."""
    return BookmarksView(context=context)
