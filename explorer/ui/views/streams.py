"""The stream browser (left dock): stream types, their streams, and a filter box.

Selecting a stream selects it in the AppContext (every view follows); the filter narrows by id
prefix as the user types, and by device name when the read models offer a search.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QLineEdit, QTreeView, QVBoxLayout, QWidget

from explorer.ui.context import AppContext
from explorer.ui.models.streams import STREAM_ID_ROLE, StreamTreeModel

log = logging.getLogger(__name__)


class StreamBrowser(QWidget):
    """Stream types with counts and their streams; a filter box on top.

    Attributes:
        context: the shared AppContext.
        model: the StreamTreeModel.
        filter_edit: the filter box.
        tree: the QTreeView.
    """

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model = StreamTreeModel(parent=self)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by stream id or device name…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Type the start of a stream id (with or without its type prefix), or words of a device name once the read models are built (Ctrl+F)")
        focus = QAction("Filter Streams", self)
        focus.setShortcut(QKeySequence.StandardKey.Find)
        focus.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        focus.triggered.connect(self._focus_filter)
        self.addAction(focus)
        # Wait for a pause in typing so each keystroke does not start a query.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(lambda: self.model.set_filter(self.filter_edit.text()))
        self.filter_edit.textChanged.connect(lambda _text: self._debounce.start())

        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)  # lets the view skip measuring 100,000 rows
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # A fixed width: ResizeToContents would measure every loaded row on each page insert.
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self.tree.header().resizeSection(1, self.fontMetrics().horizontalAdvance("10,000,000") + 16)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.tree.activated.connect(self._on_current_changed)

        self.hint = QLabel("")
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.hint)

        self.model.types_loaded.connect(self._on_types_loaded)
        context.store_changed.connect(self._on_store_changed)
        context.stream_selected.connect(self._on_stream_selected)
        # Other writers add streams: recount (at most every 2 s, the count is a GROUP BY).
        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(2000)
        self._recount.timeout.connect(self.model.refresh_counts)
        context.head_changed.connect(lambda _head: self._recount.isActive() or self._recount.start())
        # Names come from the registry read model: read them again as it advances (built after the
        # store opened, a rename applied), at most every 2 s.
        self._registry_at: int | None = None
        self._rename = QTimer(self)
        self._rename.setSingleShot(True)
        self._rename.setInterval(2000)
        self._rename.timeout.connect(self.model.reload_names)
        context.checkpoints_changed.connect(self._on_checkpoints)
        if context.store is not None:
            self._on_store_changed(context.store)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self.fontMetrics().horizontalAdvance("0") * 34, 400)

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def _on_checkpoints(self, checkpoints: dict[str, int]) -> None:
        registry = checkpoints.get("registry")
        if registry is not None and registry != self._registry_at:
            self._registry_at = registry
            if not self._rename.isActive():
                self._rename.start()

    def _on_store_changed(self, store: Any) -> None:
        self._registry_at = None
        self._rename.stop()
        self.model.set_store(store)
        self.hint.setText("" if store is not None else "No store open.")

    def _on_types_loaded(self) -> None:
        # One stream type (the usual case) or a filter: show the streams straight away.
        if len(self.model.types) == 1 or self.model.filter_text:
            for row in range(self.model.rowCount()):
                self.tree.expand(self.model.index(row, 0))
        if self.model.filter_text and not self.model.types:
            self.hint.setText(f"No stream id starts with “{self.model.filter_text}”.")
        else:
            self.hint.setText("")

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        stream_id = current.data(STREAM_ID_ROLE) if current.isValid() else None
        if stream_id:
            self.context.select_stream(stream_id)

    def _on_stream_selected(self, stream_id: str | None) -> None:
        if stream_id is None:
            self.tree.clearSelection()
            self.tree.setCurrentIndex(QModelIndex())
            return
        index = self.model.index_of_stream(stream_id)
        if index.isValid() and index != self.tree.currentIndex():
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index)
