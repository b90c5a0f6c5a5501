"""The selected stream's state as of the cursor, as a tree; compare two points; a field's history.

The state is replayed in the background (TimeTravel over a store clone and the read database's
snapshots); while the cursor is dragged only the newest request runs and stale answers are
dropped. Fields the stream's latest event (as of the cursor) changed are highlighted with
old → new, and a pending command preview is laid over the tree in italics until it settles.
Every value is plain text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QGuiApplication, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QTableView,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from explorer.domain.plugins import pack_for
from explorer.store.records import RecordedEvent, format_time
from explorer.timetravel import Change, FieldChange, diff
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.views.latest_reader import Connections, LatestReader

log = logging.getLogger(__name__)

PathRole = Qt.ItemDataRole.UserRole + 1
"""The dotted state path of a row (`last_call.number`, `peers.0`)."""
MarkRole = Qt.ItemDataRole.UserRole + 2
"""How a row is marked: "", "changed", "added", "removed" or "pending"."""
PositionRole = Qt.ItemDataRole.UserRole + 3
"""The event position a history or compare row points at."""

# A pending preview stays on the tree until it settles one way or the other.
SETTLED = frozenset({"rejected", "confirmed"})


def format_value(value: Any) -> str:
    """One line of plain text for a state value (strings as they are, the rest as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return f"{{{len(value)} fields}}"
    if isinstance(value, list):
        return f"[{len(value)} item{'' if len(value) == 1 else 's'}]"
    return json.dumps(value, ensure_ascii=False)


def format_short(value: Any, width: int = 60) -> str:
    """A value on one line for an old → new cell; containers in compact JSON, cut to `width`."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def change_text(change: Change) -> str:
    if change.kind == "added":
        return f"added: {format_short(change.new)}"
    if change.kind == "removed":
        return f"removed (was {format_short(change.old)})"
    return f"{format_short(change.old)} → {format_short(change.new)}"


@dataclass(frozen=True, slots=True)
class StateResult:
    """One answer of the state job.

    Attributes:
        stream_id / stream_type: the stream.
        position: the cursor the state is for.
        version: the stream's version as of that position (0: no event yet).
        state: the state, exactly as TimeTravel.state_at returns it.
        changes: what the stream's event at `version` changed (empty at version 0).
        event: that event (the stream's latest as of the cursor), or None.
    """

    stream_id: str
    stream_type: str
    position: int
    version: int
    state: Any
    changes: tuple[Change, ...]
    event: RecordedEvent | None


def compute_state(conn: Connections, stream_id: str, position: int) -> StateResult:
    """The stream's state as of `position` and what its latest event changed (a worker job)."""
    store, tt = conn.store, conn.timetravel
    info = store.stream_info(stream_id)
    if info is None:  # selected before its first event is read (a device being registered): empty, not an error
        return StateResult(stream_id, "", position, 0, {}, (), None)
    version = store.stream_version_at(stream_id, position)
    event: RecordedEvent | None = None
    changes: tuple[Change, ...] = ()
    if version == 0:
        state = tt.state_at(stream_id, version=0).state
    else:
        # One replay to the version before, then the event itself: the state state_at gives for
        # `version`, and what that event changed, for the price of one fold.
        previous = tt.state_at(stream_id, version=version - 1).state
        event = next(iter(store.read_stream(stream_id, version, version)), None)
        if event is None:
            state = tt.state_at(stream_id, version=version).state
        else:
            state = pack_for(info.stream_type).decider.evolve(previous, event.type, event.data)
        changes = tuple(diff(previous, state))
    return StateResult(stream_id, info.stream_type, position, version, state, changes, event)


@dataclass(frozen=True, slots=True)
class _Row:
    path: str
    parent: str  # the parent row's path, "" for a top-level row
    name: str
    value: str
    has_children: bool
    mark: str
    change: str


class StateTreeModel(QStandardItemModel):
    """A state as a tree of Field / Value / Change rows (plain text, read-only).

    Each row carries its dotted path (PathRole) and its mark (MarkRole); marks colour the row
    (changed: highlighted background; pending: italic with a "pending" badge; removed: struck
    through). When the new state has the same shape as the shown one (the usual case while the
    cursor moves inside one stream) only the cells that differ are updated, so the view keeps
    its expansion, selection and scroll position and nothing flickers.

    Attributes:
        stream_type: the stream type whose labels name the fields.
    """

    COLUMNS = ("Field", "Value", "Change")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.stream_type = ""
        self._shape: list[tuple[str, bool]] = []
        self._items: dict[str, tuple[QStandardItem, QStandardItem, QStandardItem]] = {}
        self._rows: dict[str, _Row] = {}

    def show_state(
        self,
        state: Any,
        *,
        stream_type: str,
        changes: tuple[Change, ...] | list[Change] = (),
        pending: tuple[Change, ...] | list[Change] = (),
    ) -> bool:
        """Show `state`, marking `changes` and `pending` paths; True if the tree was rebuilt."""
        rows = self._flatten(state, stream_type, changes, pending)
        shape = [(row.path, row.has_children) for row in rows]
        self.stream_type = stream_type
        if shape == self._shape:
            for row in rows:
                if row != self._rows[row.path]:
                    self._update(row)
            return False
        self.beginResetModel()
        self.blockSignals(True)  # one reset for the whole rebuild, not a signal per row
        try:
            self.removeRows(0, self.rowCount())
            self._items = {}
            for row in rows:
                parent = self._items[row.parent][0] if row.parent else self.invisibleRootItem()
                items = (QStandardItem(row.name), QStandardItem(row.value), QStandardItem(row.change))
                items[0].setToolTip(row.path)
                for item in items:
                    item.setEditable(False)
                    item.setData(row.path, PathRole)
                self._fill(items, row)
                parent.appendRow(list(items))
                self._items[row.path] = items
        finally:
            self.blockSignals(False)
            self.endResetModel()
        self._shape = shape
        self._rows = {row.path: row for row in rows}
        return True

    def _update(self, row: _Row) -> None:
        # Touch only what differs: each setData is a dataChanged signal and a repaint.
        items, old = self._items[row.path], self._rows[row.path]
        if row.value != old.value:
            items[1].setText(row.value)
            items[1].setToolTip(row.value)
        if row.change != old.change:
            items[2].setText(row.change)
            items[2].setToolTip(row.change)
        if row.mark != old.mark:
            for item in items:
                item.setData(row.mark, MarkRole)
            _style(items, row.mark, old.mark)
        self._rows[row.path] = row

    @staticmethod
    def _fill(items: tuple[QStandardItem, QStandardItem, QStandardItem], row: _Row) -> None:
        items[1].setText(row.value)
        items[1].setToolTip(row.value)
        items[2].setText(row.change)
        items[2].setToolTip(row.change)
        for item in items:
            item.setData(row.mark, MarkRole)
        _style(items, row.mark, "")

    @staticmethod
    def _flatten(state: Any, stream_type: str, changes: Any, pending: Any) -> list[_Row]:
        label = pack_for(stream_type).label
        marks: dict[str, tuple[str, str]] = {c.path: (c.kind, change_text(c)) for c in changes}
        for c in pending:
            marks[c.path] = ("pending", "pending: " + change_text(c))
        rows: list[_Row] = []

        def add(path: str, parent: str, key: str, value: Any) -> None:
            shown = label(path)
            mark, text = marks.get(path, ("", ""))
            container = isinstance(value, dict | list)
            rows.append(_Row(path, parent, shown if shown != path else key, format_value(value), container, mark, text))
            if isinstance(value, dict):
                for child_key, child in value.items():
                    add(f"{path}.{child_key}", path, str(child_key), child)
            elif isinstance(value, list):
                for i, child in enumerate(value):
                    add(f"{path}.{i}", path, f"[{i}]", child)

        if isinstance(state, dict):
            for key, value in state.items():
                add(str(key), "", str(key), value)
        else:
            add("$", "", "$", state)
        known = {row.path for row in rows}
        for change in (*changes, *pending):
            if change.kind == "removed" and change.path not in known:
                parent = change.path.rsplit(".", 1)[0] if "." in change.path else ""
                parent = parent if parent in known else ""
                mark, text = marks[change.path]
                rows.append(_Row(change.path, parent, label(change.path) if label(change.path) != change.path
                                 else change.path.rsplit(".", 1)[-1], "(removed)", False, mark, text))
                known.add(change.path)
        # Rows must come after their parent for building; a removed row's parent is always earlier.
        return rows

    def index_of(self, path: str) -> QModelIndex:
        """The Field-column index of a dotted path, or an invalid index."""
        items = self._items.get(path)
        return items[0].index() if items is not None else QModelIndex()

    def marked(self) -> dict[str, str]:
        """{path: mark} of every marked row (what tests and the status line read)."""
        out: dict[str, str] = {}

        def walk(parent: QModelIndex) -> None:
            for row in range(self.rowCount(parent)):
                index = self.index(row, 0, parent)
                mark = index.data(MarkRole)
                if mark:
                    out[index.data(PathRole)] = mark
                walk(index)

        walk(QModelIndex())
        return out

    def as_state(self) -> dict[str, str]:
        """{path: value text} of every leaf row: the tree as the user reads it."""
        out: dict[str, str] = {}

        def walk(parent: QModelIndex) -> None:
            for row in range(self.rowCount(parent)):
                index = self.index(row, 0, parent)
                if self.rowCount(index):
                    walk(index)
                else:
                    out[index.data(PathRole)] = self.index(row, 1, parent).data()

        walk(QModelIndex())
        return out


def _style(items: tuple[QStandardItem, ...], kind: str, previous: str) -> None:
    if previous:
        # Clear what the earlier mark set: rows are reused while the cursor moves.
        for item in items:
            item.setData(None, Qt.ItemDataRole.BackgroundRole)
            item.setData(None, Qt.ItemDataRole.ForegroundRole)
            item.setData(None, Qt.ItemDataRole.FontRole)
    if not kind:
        return
    palette = QGuiApplication.palette()
    if kind == "pending":
        for item in items:
            font = QFont()
            font.setItalic(True)
            item.setFont(font)
            item.setForeground(QBrush(palette.color(QPalette.ColorRole.Link)))
        return
    # The highlight colour at low alpha reads on both light and dark palettes.
    background = QColor(palette.color(QPalette.ColorRole.Highlight))
    background.setAlpha(70)
    for item in items:
        item.setBackground(QBrush(background))
        if kind == "removed":
            font = QFont()
            font.setStrikeOut(True)
            item.setFont(font)
    bold = QFont()
    bold.setBold(True)
    if kind == "removed":
        bold.setStrikeOut(True)
    items[2].setFont(bold)


def leaf_values(state: Any, prefix: str = "") -> dict[str, str]:
    """{path: value text} of a state's leaves, the same way the tree shows them (for comparing)."""
    out: dict[str, str] = {}
    if isinstance(state, dict) and state:
        for key, value in state.items():
            out.update(leaf_values(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(state, list) and state:
        for i, value in enumerate(state):
            out.update(leaf_values(value, f"{prefix}.{i}"))
    else:
        out[prefix or "$"] = format_value(state)
    return out


def _table_model(headers: list[str], rows: list[list[str]], positions: list[int] | None = None) -> QStandardItemModel:
    model = QStandardItemModel(0, len(headers))
    model.setHorizontalHeaderLabels(headers)
    for i, row in enumerate(rows):
        items = [QStandardItem(text) for text in row]
        for item in items:
            item.setEditable(False)
            item.setToolTip(item.text())
            if positions is not None:
                item.setData(positions[i], PositionRole)
        model.appendRow(items)
    return model


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class CompareDialog(QDialog):
    """The diff of the selected stream's state between two positions.

    Signals:
        compared(object): the list of Change rows shown (after each computation).
    """

    compared = Signal(object)

    def __init__(self, *, view: StateView, first: int, last: int) -> None:
        super().__init__(view)
        self.setWindowTitle("Compare states")
        self.view = view
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        head = max(view.context.head, 0)
        self.first = QSpinBox()
        self.last = QSpinBox()
        for spin, value, tip in ((self.first, first, "The earlier position (state as of this event)"),
                                 (self.last, last, "The later position (state as of this event)")):
            spin.setRange(0, head)
            spin.setValue(value)
            spin.setGroupSeparatorShown(True)
            spin.setToolTip(tip)
            spin.valueChanged.connect(self.recompute)
        form = QFormLayout()
        form.addRow("From position", self.first)
        form.addRow("To position", self.last)
        self.summary = _plain_label()
        self.table = QTableView()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.model = _table_model(["Field", "Change", "From", "To"], [])
        self.table.setModel(self.model)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(640, 380)
        self.changes: list[Change] = []
        self.recompute()

    def recompute(self) -> None:
        store, stream_id = self.view.context.store, self.view.context.stream_id
        if store is None or stream_id is None:
            self.summary.setText("Select a stream to compare.")
            return
        a, b = self.first.value(), self.last.value()
        self.summary.setText(f"Comparing positions {a:,} and {b:,}…")

        def job(conn: Connections, _cancelled: Any) -> tuple[int, int, int, int, list[Change]]:
            sa = conn.timetravel.state_at(stream_id, position=a)
            sb = conn.timetravel.state_at(stream_id, position=b)
            return a, b, sa.version, sb.version, diff(sa.state, sb.state)

        self.view.reader.submit(store, "compare", job, self._show, self._failed)

    def _show(self, result: tuple[int, int, int, int, list[Change]]) -> None:
        a, b, va, vb, changes = result
        stream_type = self.view.model.stream_type
        label = pack_for(stream_type).label if stream_type else (lambda p: p)
        rows = [[label(c.path), c.kind, format_short(c.old) if c.kind != "added" else "",
                 format_short(c.new) if c.kind != "removed" else ""] for c in changes]
        self.model = _table_model(["Field", "Change", "From", "To"], rows)
        self.table.setModel(self.model)
        self.table.resizeColumnsToContents()
        self.changes = changes
        self.summary.setText(
            f"Version {va} (position {a:,}) → version {vb} (position {b:,}): "
            + (f"{len(changes)} field(s) differ." if changes else "no difference.")
        )
        self.compared.emit(changes)

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(f"Could not compare: {exc}")


class HistoryDialog(QDialog):
    """The events that changed one field; activating a row moves the cursor there.

    Signals:
        loaded(object): the FieldChange list shown.
    """

    loaded = Signal(object)

    def __init__(self, *, view: StateView, stream_id: str, path: str, title: str) -> None:
        super().__init__(view)
        self.view = view
        self.path = path
        self.setWindowTitle(f"History of {title}")
        self.summary = _plain_label(f"Loading the history of {title} in {stream_id}…")
        self.table = QTableView()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip("Click an event to move the as-of cursor there")
        self.model = _table_model(["Position", "Version", "Recorded", "Event", "From", "To"], [])
        self.table.setModel(self.model)
        self.table.clicked.connect(self.go_to)
        self.table.activated.connect(self.go_to)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(720, 360)
        self.changes: list[FieldChange] = []
        store = view.context.store
        if store is not None:
            view.reader.submit(store, "history",
                               lambda conn, _c: conn.timetravel.history(stream_id, path),
                               self._show, self._failed)

    def _show(self, changes: list[FieldChange]) -> None:
        self.changes = changes
        rows = [[f"{c.position:,}", str(c.version), format_time(c.recorded_at), c.event_type,
                 format_short(c.old), format_short(c.new)] for c in changes]
        self.model = _table_model(["Position", "Version", "Recorded", "Event", "From", "To"], rows,
                                  [c.position for c in changes])
        self.table.setModel(self.model)
        self.table.resizeColumnsToContents()
        self.summary.setText(f"{len(changes)} event(s) changed this field. Click one to move the cursor there.")
        self.loaded.emit(changes)

    def _failed(self, exc: BaseException) -> None:
        self.summary.setText(f"Could not load the history: {exc}")

    def go_to(self, index: QModelIndex) -> None:
        position = index.data(PositionRole)
        if position:
            self.view.context.set_position(int(position))
            self.view.context.event_selected.emit(int(position))


class StateView(QWidget):
    """The selected stream's state as of the as-of cursor.

    Attributes:
        context: the app's shared state.
        model: the StateTreeModel shown.
        reader: the latest-wins background reader (state, compare and history jobs).
        result: the StateResult shown, or None.

    Signals:
        state_shown(object): a StateResult was put on the tree (also after a pending overlay).
        failed(str): a state could not be computed (the message shown).
    """

    state_shown = Signal(object)
    failed = Signal(str)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.reader = LatestReader(name="state", parent=self)
        self.model = StateTreeModel(self)
        self.result: StateResult | None = None
        self.compare_dialog: CompareDialog | None = None
        self.history_dialog: HistoryDialog | None = None
        self._pending: PendingPreview | None = None

        self.header = _plain_label("Select a stream to see its state as of the cursor.")
        self.header.setWordWrap(True)
        self.pending_label = _plain_label()
        self.pending_label.setWordWrap(True)
        self.pending_label.setVisible(False)
        font = self.pending_label.font()
        font.setItalic(True)
        self.pending_label.setFont(font)
        self.pending_label.setForegroundRole(QPalette.ColorRole.Link)
        # The busy hint changes text, never visibility: showing and hiding a widget would
        # re-lay out the dock (and repaint the window) on every cursor move.
        self.busy = _plain_label("")
        self.busy.setEnabled(False)
        self.busy.setFixedWidth(self.busy.fontMetrics().horizontalAdvance("computing…") + 8)
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip(
            "Show what changed in this stream's state between two positions (default: the ends of the range selection)")
        self.compare_button.clicked.connect(self.open_compare)
        self.expand_button = QToolButton()
        self.expand_button.setText("Expand all")
        self.expand_button.setToolTip("Expand every field of the tree")
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.setToolTip("Right-click a field for its history")
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.header().setStretchLastSection(True)
        self._sized_for: str | None = None
        self.expand_button.clicked.connect(self.tree.expandAll)
        # Expanded paths survive a rebuild of the tree (another stream shape, a pending preview).
        self._expanded: set[str] = set()
        self.tree.expanded.connect(lambda index: self._expanded.add(index.data(PathRole)))
        self.tree.collapsed.connect(lambda index: self._expanded.discard(index.data(PathRole)))

        bar = QHBoxLayout()
        bar.addWidget(self.compare_button)
        bar.addWidget(self.expand_button)
        bar.addStretch(1)
        bar.addWidget(self.busy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.pending_label)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)

        context.position_changed.connect(self.refresh)
        context.stream_selected.connect(self._stream_selected)
        context.store_changed.connect(self._store_changed)
        context.head_changed.connect(lambda _head: self.refresh())
        context.pending_changed.connect(self._pending_changed)
        self._pending_changed(context.pending)
        self.refresh()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # Wide enough for Field, Value and the old → new column side by side in a dock.
        return QSize(460, 420)

    # -- following the cursor ------------------------------------------------------------------

    def _store_changed(self, _store: Any) -> None:
        self.result = None
        self.model.show_state({}, stream_type="")
        self.refresh()

    def _stream_selected(self, _stream_id: Any) -> None:
        self.result = None
        self.refresh()

    def refresh(self, *_args: Any) -> None:
        """Ask for the state as of the cursor; only the newest request is computed and shown."""
        store, stream_id, position = self.context.store, self.context.stream_id, self.context.position
        if store is None or stream_id is None:
            self.reader.forget("state")
            self.busy.setText("")
            self.header.setText("Select a stream to see its state as of the cursor.")
            if self.model.rowCount():
                self.model.show_state({}, stream_type="")
            return
        self.busy.setText("computing…")
        self.reader.submit(store, "state", lambda conn, _c: compute_state(conn, stream_id, position),
                           self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.busy.setText("")
        message = f"Could not compute the state: {exc}"
        self.header.setText(message)
        self.failed.emit(message)

    def _show(self, result: StateResult) -> None:
        if result.stream_id != self.context.stream_id:
            return  # the selection moved on while this was computed
        self.busy.setText("")
        self.result = result
        self._render()

    def _render(self) -> None:
        result = self.result
        if result is None:
            return
        pending = self._pending
        if pending is not None:
            state = pending.state_after
            pending_changes = diff(pending.state_before, pending.state_after)
            rebuilt = self.model.show_state(state, stream_type=result.stream_type, pending=pending_changes)
        else:
            rebuilt = self.model.show_state(result.state, stream_type=result.stream_type, changes=result.changes)
        if rebuilt:
            self._restore_expanded()
        if pending is not None:
            self.header.setText(f"{result.stream_id} — pending preview over the current state "
                                "(italic fields: what the command would change)")
        else:
            self.header.setText(self._header_text(result))
        self.state_shown.emit(result)

    def _header_text(self, result: StateResult) -> str:
        where = f"{result.stream_id} — version {result.version} as of position {result.position:,}"
        if result.event is None:
            return where + " (no event of this stream yet)"
        at = "at the cursor" if result.event.position == result.position else f"at position {result.event.position:,}"
        return f"{where}\nHighlighted: what {result.event.type} (version {result.event.version}, {at}) changed"

    def _restore_expanded(self) -> None:
        for path in list(self._expanded):
            index = self.model.index_of(path)
            if index.isValid():
                self.tree.expand(index)
        if self._sized_for != self.context.stream_id:
            # Size the value column once per stream, so dragging the cursor does not make it jump.
            self._sized_for = self.context.stream_id
            for column, widest in ((0, 180), (1, 140)):
                self.tree.resizeColumnToContents(column)
                self.tree.setColumnWidth(column, min(max(self.tree.columnWidth(column), 80), widest))

    # -- pending previews -----------------------------------------------------------------------

    def _pending_changed(self, pending: PendingPreview | None) -> None:
        shown = pending if (pending is not None and pending.status not in SETTLED
                            and pending.stream_id == self.context.stream_id) else None
        if shown is None and pending is not None and pending.status == "rejected" \
                and pending.stream_id == self.context.stream_id:
            self.pending_label.setText(f"Rejected, rolled back: {pending.message or 'the store refused the command'}")
            self.pending_label.setVisible(True)
        elif shown is not None:
            kinds = ", ".join(t for t, _ in shown.events) or "no events"
            text = f"Pending ({shown.status}): {kinds}"
            if shown.message:
                text += f" — {shown.message}"
            self.pending_label.setText(text)
            self.pending_label.setVisible(True)
        else:
            self.pending_label.setVisible(False)
        changed = (shown is None) != (self._pending is None) or shown != self._pending
        self._pending = shown
        if changed and self.result is not None:
            self._render()

    # -- compare and history --------------------------------------------------------------------

    def open_compare(self, first: int | None = None, last: int | None = None) -> CompareDialog:
        """Open the compare dialog (default points: the region's ends, else stream start → cursor)."""
        if first is None or last is None or isinstance(first, bool):
            if self.context.region is not None:
                first, last = self.context.region
            else:
                first, last = self._stream_first_position(), self.context.position
        if self.compare_dialog is not None:
            self.compare_dialog.close()
            self.compare_dialog.deleteLater()
        self.compare_dialog = CompareDialog(view=self, first=int(first), last=int(last))
        self.compare_dialog.show()
        return self.compare_dialog

    def _stream_first_position(self) -> int:
        store, stream_id = self.context.store, self.context.stream_id
        if store is None or stream_id is None:
            return 0
        info = store.stream_info(stream_id)  # one indexed lookup: fine on the GUI thread
        return info.first_position if info is not None else 0

    def open_history(self, path: str) -> HistoryDialog | None:
        """Open the history of the field at `path` of the selected stream."""
        stream_id = self.context.stream_id
        if stream_id is None or self.context.store is None:
            return None
        title = pack_for(self.model.stream_type).label(path) if self.model.stream_type else path
        if self.history_dialog is not None:
            self.history_dialog.close()
            self.history_dialog.deleteLater()
        self.history_dialog = HistoryDialog(view=self, stream_id=stream_id, path=path, title=title)
        self.history_dialog.show()
        return self.history_dialog

    def _context_menu(self, point: QPoint) -> None:
        index = self.tree.indexAt(point)
        if not index.isValid():
            return
        path = index.data(PathRole)
        menu = QMenu(self)
        history = QAction("History of this field", menu)
        history.setToolTip("The events that changed this field; click one to move the cursor there")
        history.triggered.connect(lambda: self.open_history(path))
        copy = QAction("Copy value", menu)
        copy.triggered.connect(
            lambda: QGuiApplication.clipboard().setText(self.model.index(index.row(), 1, index.parent()).data() or ""))
        menu.addAction(history)
        menu.addAction(copy)
        menu.exec(self.tree.viewport().mapToGlobal(point))


def create(context: AppContext) -> StateView:
    """The view factory the main window calls (VIEWS)."""
    return StateView(context=context)


def open_compare_action(window: Any, context: AppContext) -> None:
    """ACTIONS handler: open Compare on the state view (the region's ends by default)."""
    view = window.findChild(StateView) if window is not None else None
    if view is not None:
        view.open_compare()
