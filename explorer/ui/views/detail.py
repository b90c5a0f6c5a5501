"""The event detail pane: the event at the as-of cursor, as a tree and as raw JSON, with its hash.

Everything here is plain text: payloads are never interpreted as HTML.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.store.records import RecordedEvent, format_time
from explorer.ui.context import AppContext

log = logging.getLogger(__name__)


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def fill_tree(parent: QTreeWidgetItem, value: Any) -> None:
    """Add `value` (a JSON value) below `parent` as key/value items (plain strings only)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return
    for key, child in items:
        item = QTreeWidgetItem(parent, [str(key), ""])
        if isinstance(child, (dict, list)):
            item.setText(1, f"{{{len(child)} keys}}" if isinstance(child, dict) else f"[{len(child)} items]")
            fill_tree(item, child)
        else:
            text = _scalar_text(child)
            item.setText(1, text)
            item.setToolTip(1, text)


class EventDetail(QWidget):
    """Shows the event at the cursor (or the one picked) in full.

    Attributes:
        context: the shared AppContext.
        current: the event shown, or None.
        title: one line naming the event.
        tree: data and metadata as a collapsible tree.
        raw: the event as pretty JSON (monospace, read-only, copyable).
        hash_edit: the event's chain hash (read-only, copyable).
    """

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.current: RecordedEvent | None = None
        self._wanted = 0
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.title = QLabel("No event")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Field", "Value"])
        self.tree.setColumnWidth(0, 220)
        self.tree.setUniformRowHeights(True)
        self.tree.setToolTip("Data and metadata of the event at the cursor")

        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setFont(mono)
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.raw.setToolTip("The event as JSON; select and copy with Ctrl+C")

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.tree, "Tree")
        self.tabs.addTab(self.raw, "JSON")

        self.hash_edit = QLineEdit()
        self.hash_edit.setReadOnly(True)
        self.hash_edit.setFont(mono)
        self.hash_edit.setToolTip("SHA-256 chain hash up to and including this event")
        copy = QToolButton()
        copy.setText("Copy JSON")
        copy.setToolTip("Copy the event as JSON to the clipboard")
        copy.clicked.connect(self.copy_json)

        hash_row = QHBoxLayout()
        hash_row.setContentsMargins(0, 0, 0, 0)
        chain_label = QLabel("Chain hash")
        hash_row.addWidget(chain_label)
        hash_row.addWidget(self.hash_edit, 1)
        hash_row.addWidget(copy)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(hash_row)

        # Dragging the cursor moves it many times a second: show only where it comes to rest.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._load)
        context.position_changed.connect(self.show_position)
        context.event_selected.connect(self.show_position)
        context.store_changed.connect(lambda _store: self.show_position(context.position))
        if context.store is not None:
            self.show_position(context.position)

    def show_position(self, position: int) -> None:
        self._wanted = position
        self._timer.start()

    def _load(self) -> None:
        store = self.context.store
        if store is None or self._wanted <= 0:
            self.show_event(None)
            return
        # One primary-key lookup: cheap enough for the GUI thread.
        events = store.events_at([self._wanted])
        self.show_event(events[0] if events else None)

    def show_event(self, event: RecordedEvent | None) -> None:
        self.current = event
        self.tree.clear()
        if event is None:
            self.title.setText("No event (the cursor is before the first event)")
            self.raw.setPlainText("")
            self.hash_edit.setText("")
            return
        self.title.setText(f"#{event.position:,}  {event.type}  ·  {event.stream_id} v{event.version}")
        header = QTreeWidgetItem(self.tree, ["event", ""])
        for key, value in (("position", event.position), ("type", event.type),
                           ("stream", event.stream_id), ("stream type", event.stream_type),
                           ("version", event.version), ("recorded at", format_time(event.recorded_at)),
                           ("occurred at", event.occurred_at or ""), ("event id", event.event_id)):
            QTreeWidgetItem(header, [key, str(value)])
        if event.problem:
            QTreeWidgetItem(header, ["problem", event.problem])
        for name, value in (("data", event.data), ("metadata", event.metadata)):
            top = QTreeWidgetItem(self.tree, [name, f"{{{len(value)} keys}}"])
            fill_tree(top, value)
        self.tree.expandToDepth(1)
        header.setExpanded(False)
        self.raw.setPlainText(json.dumps(event.to_json(), indent=2, ensure_ascii=False, sort_keys=True))
        self.hash_edit.setText(event.chain_hash)

    def copy_json(self) -> None:
        QGuiApplication.clipboard().setText(self.raw.toPlainText())
