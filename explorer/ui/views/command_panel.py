"""The command panel: task-based commands with an optimistic preview and visible consistency.

Pick a device (the selected stream, or a new one) and a task of its stream type; the form is
generated from the command's field metadata. Every edit previews on the GUI thread (pure decide
+ fold on the state loaded once): the events and the state diff, published to every view as
`context.pending`. Submit runs `explorer.commands.handle` in a worker with the version the
preview was computed on; the pending item then goes submitted -> recorded (position) ->
confirmed (read models passed it) with the inconsistency window in ms, or rejected (rolled
back, reason shown), or conflicted (re-decided on the fresh state; the user confirms again).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDateTime, Qt, QTimer, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer import commands
from explorer.domain.decider import DomainError
from explorer.domain.iot import device as dev
from explorer.domain.plugins import pack_for
from explorer.store.errors import ConcurrencyError, StoreError
from explorer.store.readdb import ReadDatabase
from explorer.store.records import EventFilter
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel
from explorer.ui import workers
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.live_feed import LiveFeed

log = logging.getLogger(__name__)

NEW_DEVICE = "__new__"
SLOW_CONFIRM_MS = 10_000
ACTOR_KEY = "commands/actor"
AUTO_RETRY_KEY = "commands/auto_retry"
SHORT_ID = 8  # the characters of a device id the pickers show ("name (d23f0824)")
_DEVICE_ID = re.compile(r"(?:device-)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.IGNORECASE)
_LABEL = re.compile(r".*\(([0-9a-f]{%d})\)" % SHORT_ID, re.IGNORECASE | re.DOTALL)

# Task names a person reads in the menu; other packs fall back to the class name.
TASK_NAMES = {
    "RegisterDevice": "Register",
    "RenameDevice": "Rename",
    "ConnectDevice": "Connect to…",
    "DisconnectDevice": "Disconnect from…",
    "ReportCall": "Report call",
    "DecommissionDevice": "Decommission",
}


def _settings() -> Any:
    """The app's Settings; None when they cannot be read."""
    from explorer.ui import settings as app_settings

    try:
        return app_settings.Settings()
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class Base:
    """The state a preview is computed on: a device's state at a version (0 for a new device)."""

    stream_id: str
    stream_type: str
    version: int
    state: dict[str, Any]
    new: bool = False


def _read_database(store: SQLiteEventStore) -> ReadDatabase | None:
    """The store's read database (snapshots), or None when it cannot be opened."""
    try:
        return ReadDatabase.for_store(store.store_id)
    except Exception:  # noqa: BLE001 - snapshots only save time; fold without them
        log.warning("no read database for %s; folding from the first event", store.path, exc_info=True)
        return None


def _load_job(store: SQLiteEventStore, stream_id: str) -> Callable[..., Base]:
    def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> Base:
        clone = store.clone()
        readdb = _read_database(clone)
        try:
            tt = TimeTravel(clone, readdb) if readdb is not None else None
            loaded = commands.load(clone, stream_id, timetravel=tt)
            return Base(stream_id, loaded.stream_type, loaded.version, loaded.state)
        finally:
            clone.close()
            if readdb is not None:
                readdb.close()
    return job


def _devices_job(store: SQLiteEventStore, known: dict[str, tuple[str, bool]],
                 from_position: int = 1) -> Callable[..., tuple[int, dict[str, tuple[str, bool]]]]:
    """(head, stream id -> (name, active)) from the indexed registration/rename/decommission events
    after `from_position`, on top of what is `known`."""
    known = dict(known)

    def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> tuple[int, dict[str, tuple[str, bool]]]:
        clone = store.clone()
        try:
            found: dict[str, tuple[str, bool]] = {}
            head = clone.head().position
            wanted = EventFilter(event_types=(dev.DEVICE_REGISTERED, dev.DEVICE_RENAMED, dev.DEVICE_DECOMMISSIONED))
            for event in clone.read_all(from_position, head, filters=wanted):
                name, active = found.get(event.stream_id) or known.get(event.stream_id, ("", True))
                if event.type == dev.DEVICE_DECOMMISSIONED:
                    active = False
                else:
                    name = str(event.data.get("name", name))
                found[event.stream_id] = (name, active)
                if cancelled():
                    break
            return head, found
        finally:
            clone.close()
    return job


class UnresolvedDevice(ValueError):
    """What was typed into a device picker names no device, or more than one."""


def _now_utc() -> QDateTime:
    return QDateTime.currentDateTimeUtc()


class CommandPanel(QWidget):
    """Issue commands on the selected device (or a new one) with a live preview.

    Attributes:
        context: the app context (selection, head, checkpoints, pending preview).
        status: the pending item's state: "", "preview", "invalid", "submitted", "recorded",
            "confirmed", "rejected" or "conflicted".
        base: the state previews are computed on, or None while it loads.
        last_window_ms: the last measured inconsistency window (recorded -> confirmed), or None.
        last_recorded: the last command's Recorded, or None.

    Signals:
        status_changed(str): the pending item moved to a new status.
        base_loaded(object): the Base previews now use.
    """

    status_changed = Signal(str)
    base_loaded = Signal(object)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("command-panel")
        self.context = context
        self.settings = _settings()
        self.feed = LiveFeed.for_context(context)
        self.status = ""
        self.base: Base | None = None
        self.last_window_ms: float | None = None
        self.last_recorded: commands.Recorded | None = None
        self.devices: dict[str, tuple[str, bool]] = {}
        self._command_id = str(uuid.uuid4())
        self._editors: dict[str, tuple[str, QWidget]] = {}
        self._command: Any = None
        self._pending: PendingPreview | None = None
        self._preview: commands.Preview | None = None
        self._submitted_at = 0.0
        self._recorded_at = 0.0
        self._awaiting: int = 0  # the position that must be confirmed
        self._submitting = False
        self._loading: workers.Worker | None = None
        self._building = False
        self._workers: list[workers.Worker] = []
        self._names_at = 0  # device names are known up to this position
        self._names_running = False
        self._keep_progress = False  # the outcome of the last command stays readable
        self._touched = False  # no "not allowed" alarm before the user typed anything
        self._selected_before: str | None = None
        self._submit_store: SQLiteEventStore | None = None
        # The device each picker of the form was set to by the user (field -> device id), kept while
        # the same form is rebuilt (a rejection, a conflict, a reload) so a rebuild never chooses for them.
        self._picked: dict[str, str] = {}
        self._form_for: tuple[Any, Any] = (None, None)

        self.notice = QLabel()
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.body = QWidget()

        self.target = QComboBox()
        self.target.setObjectName("command-target")
        self.task = QComboBox()
        self.task.setObjectName("command-task")
        self.form_box = QGroupBox("Command")
        self.form = QFormLayout(self.form_box)
        self.help = QLabel()
        self.help.setTextFormat(Qt.TextFormat.PlainText)
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: palette(mid);")

        self.message = QLabel()
        self.message.setObjectName("command-message")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.preview_text = QPlainTextEdit()
        self.preview_text.setObjectName("command-preview")
        self.preview_text.setReadOnly(True)
        self.preview_text.setMaximumBlockCount(400)
        self.preview_text.setMinimumHeight(120)

        self.submit = QPushButton("Submit")
        self.submit.setObjectName("command-submit")
        self.submit.setDefault(True)
        self.discard = QPushButton("Discard")
        self.auto_retry = QCheckBox("Retry automatically when still valid")
        self.progress = QLabel()
        self.progress.setObjectName("command-progress")
        self.progress.setTextFormat(Qt.TextFormat.PlainText)
        self.progress.setWordWrap(True)
        self.actor = QLineEdit()
        self.actor.setPlaceholderText(commands.default_actor())
        self.actor.setToolTip("Recorded as the actor of every command (empty: your OS user name)")
        self.follow = QCheckBox("Follow head (move the as-of cursor when others append)")
        # A paused or failing read model never passes the position: say so rather than wait mutely.
        self._slow_confirm = QTimer(self)
        self._slow_confirm.setSingleShot(True)
        self._slow_confirm.setInterval(SLOW_CONFIRM_MS)
        self._slow_confirm.timeout.connect(self._confirm_is_slow)

        top = QFormLayout()
        top.addRow("Device", self.target)
        top.addRow("Task", self.task)
        buttons = QHBoxLayout()
        buttons.addWidget(self.submit)
        buttons.addWidget(self.discard)
        buttons.addStretch(1)
        preview_box = QGroupBox("Preview (nothing is recorded until you submit)")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addWidget(self.message)
        preview_layout.addWidget(self.preview_text)
        options = QGroupBox("Settings")
        options_layout = QFormLayout(options)
        options_layout.addRow("Actor", self.actor)
        options_layout.addRow(self.auto_retry)
        options_layout.addRow(self.follow)

        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(top)
        body.addWidget(self.help)
        body.addWidget(self.form_box)
        body.addWidget(preview_box, 1)
        body.addLayout(buttons)
        body.addWidget(self.progress)
        body.addWidget(options)
        outer = QVBoxLayout(self)
        outer.addWidget(self.notice)
        outer.addWidget(self.body, 1)

        if self.settings is not None:
            self.actor.setText(str(self.settings.get(ACTOR_KEY)))
            self.auto_retry.setChecked(bool(self.settings.get(AUTO_RETRY_KEY)))
        self.follow.setChecked(self.feed.follow_head)

        self.target.currentIndexChanged.connect(self._on_target_changed)
        self.task.currentIndexChanged.connect(self._on_task_changed)
        self.submit.clicked.connect(self.submit_command)
        self.discard.clicked.connect(self.discard_command)
        self.actor.editingFinished.connect(self._save_actor)
        self.auto_retry.toggled.connect(self._save_auto_retry)
        self.follow.toggled.connect(self.feed.set_follow_head)
        self.feed.follow_head_changed.connect(self.follow.setChecked)
        context.store_changed.connect(self._on_store_changed)
        context.stream_selected.connect(self._on_stream_selected)
        context.head_changed.connect(self._on_head_changed)
        context.checkpoints_changed.connect(self._on_checkpoints_changed)
        self._on_store_changed(context.store)

    def _start(self, job: Callable[..., Any], name: str, on_result: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> workers.Worker:
        """Start a worker and keep a reference to it until it reported.

        Without the reference, the Worker (and its signal object) may be collected once the pool
        deleted the runnable, and its queued `returned` is then silently dropped.
        """
        worker = workers.start(job, name=name, on_result=on_result, on_error=on_error)
        self._workers.append(worker)
        worker.signals.finished.connect(self._forget_finished)
        return worker

    def _forget_finished(self) -> None:
        # Keep the most recent few: a finished signal may arrive before returned is delivered.
        del self._workers[:-8]

    # -- settings ------------------------------------------------------------------------------

    @property
    def actor_name(self) -> str:
        return self.actor.text().strip() or commands.default_actor()

    def _save_actor(self) -> None:
        if self.settings is not None:
            self.settings.set(ACTOR_KEY, self.actor.text().strip())

    def _save_auto_retry(self, on: bool) -> None:
        if self.settings is not None:
            self.settings.set(AUTO_RETRY_KEY, on)

    # -- store and selection --------------------------------------------------------------------

    def _on_store_changed(self, store: SQLiteEventStore | None) -> None:
        self._reset_pending()
        self.base = None
        self.devices = {}
        if store is None:
            self._show_notice("Open a store to issue commands.")
            return
        if store.read_only:
            self._show_notice(f"{store.name} is open read-only, so commands are off: nothing can be "
                              "recorded. Reopen it writable (File ▸ Open) to issue commands.")
            return
        self.notice.hide()
        self.body.show()
        self._names_at = 0
        self._names_running = True
        self._start(_devices_job(store, {}), "device names", self._on_devices)
        self._fill_targets()

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()
        self.body.hide()

    def _on_devices(self, result: tuple[int, dict[str, tuple[str, bool]]]) -> None:
        head, found = result
        first = self._names_at == 0
        self._names_at = head
        self._names_running = False
        if not found and not first:
            return
        self.devices.update(found)
        if first:
            self._fill_targets()
        else:
            index = self.target.findData(self.context.stream_id)
            if index > 0:
                self.target.setItemText(index, self.device_label(self.context.stream_id))
        if self.status not in ("submitted", "recorded", "conflicted"):
            self._refresh_pickers()

    def _refresh_names(self) -> None:
        """Pick up devices registered, renamed or decommissioned since the last look (a worker)."""
        store = self.context.store
        if store is None or store.read_only or self._names_running or self._names_at >= self.context.head:
            return
        self._names_running = True
        self._start(_devices_job(store, self.devices, self._names_at + 1), "device names", self._on_devices,
                    lambda exc: setattr(self, "_names_running", False))

    def device_label(self, stream_id: str) -> str:
        name = self.devices.get(stream_id, ("", True))[0]
        short = dev.device_id_of(stream_id)[:8]
        return f"{name} ({short})" if name else short

    def _fill_targets(self) -> None:
        selected = self.context.stream_id
        self._building = True
        self.target.clear()
        self.target.addItem("New device", NEW_DEVICE)
        info = self.context.store.stream_info(selected) if (selected and self.context.store) else None
        if selected and (info is None or pack_for(info.stream_type).commands):
            self.target.addItem(self.device_label(selected), selected)
            self.target.setCurrentIndex(1)
        self._building = False
        self._on_target_changed()

    def _on_stream_selected(self, stream_id: str | None) -> None:
        if self._submitting or self.status in ("submitted", "recorded"):
            return  # a new device we just selected ourselves; keep the flow on screen
        if self.context.store is None or self.context.store.read_only:
            return
        self._fill_targets()

    def _on_target_changed(self, *_: object) -> None:
        if self._building:
            return
        store = self.context.store
        if store is None or store.read_only:
            return
        target = self.target.currentData()
        self._reset_pending(keep_progress=self._keep_progress)
        self._keep_progress = False
        if target == NEW_DEVICE or target is None:
            self.base = Base("", dev.STREAM_TYPE, 0, dev.initial_state(), new=True)
            self._fill_tasks()
            self.base_loaded.emit(self.base)
            return
        self.base = None
        self.message.setText("Loading the device's current state…")
        self._fill_tasks()
        if self._loading is not None:
            self._loading.cancel()
        self._loading = self._start(_load_job(store, target), "command base", self._on_base, self._on_base_error)

    def _on_base(self, base: Base) -> None:
        if self.target.currentData() != base.stream_id:
            return  # the user moved on
        self._loading = None
        self.base = base
        self._fill_tasks()
        self.base_loaded.emit(base)

    def _on_base_error(self, exc: BaseException) -> None:
        self._loading = None
        self.message.setText(f"Cannot load the device's state: {exc}")

    def reload_base(self) -> None:
        """Load the target device's current state again (after a command, or on request)."""
        self._on_target_changed()

    # -- tasks and generated forms --------------------------------------------------------------

    def _fill_tasks(self) -> None:
        base = self.base
        stream_type = base.stream_type if base is not None else dev.STREAM_TYPE
        wanted = self.task.currentData()
        self._building = True
        self.task.clear()
        for command_type in pack_for(stream_type).commands:
            registering = command_type is dev.RegisterDevice
            if base is not None and base.new != registering:
                continue  # a new device can only be registered; a known one not again
            self.task.addItem(TASK_NAMES.get(command_type.__name__, command_type.__name__), command_type)
        index = self.task.findData(wanted)
        self.task.setCurrentIndex(max(index, 0))
        self._building = False
        self._on_task_changed()

    def _on_task_changed(self, *_: object) -> None:
        if self._building:
            return
        self._build_form(self.task.currentData())
        self.update_preview()

    def _build_form(self, command_type: type | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._editors = {}
        self._touched = False
        form_for = (self.target.currentData(), command_type)
        if form_for != self._form_for:
            self._form_for, self._picked = form_for, {}
        if command_type is None:
            self.help.setText("")
            return
        self.help.setText((command_type.__doc__ or "").strip().splitlines()[0])
        for spec in fields(command_type):
            editor_kind = spec.metadata.get("editor", "text")
            if editor_kind == "fact":
                continue  # filled in by the application from the store, never typed
            editor = self._make_editor(spec.name, editor_kind, spec.metadata)
            editor.setObjectName(f"field-{spec.name}")
            self._editors[spec.name] = (editor_kind, editor)
            self.form.addRow(spec.metadata.get("label", spec.name), editor)
            if editor_kind == "device" and self._picked.get(spec.name):
                self._touched = True  # the user's own choice, kept: its problems are shown as such

    def _edited(self, *_: object) -> None:
        self._touched = True
        self.update_preview()

    def _make_editor(self, name: str, kind: str, meta: dict[str, Any]) -> QWidget:
        changed = self._edited
        if kind == "choice":
            box = QComboBox()
            for choice in meta.get("choices", ()):
                box.addItem(str(choice), choice)
            box.currentIndexChanged.connect(changed)
            return box
        if kind == "number":
            spin = QSpinBox()
            spin.setRange(int(meta.get("minimum", -(2**31))), int(meta.get("maximum", 2**31 - 1)))
            spin.valueChanged.connect(changed)
            return spin
        if kind == "datetime":
            when = QDateTimeEdit(_now_utc())
            when.setTimeZone(QTimeZone.utc())
            when.setDisplayFormat("yyyy-MM-dd HH:mm:ss 'UTC'")
            when.setCalendarPopup(True)
            when.dateTimeChanged.connect(changed)
            return when
        if kind == "device":
            picker = QComboBox()
            picker.setEditable(True)
            picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            picker.lineEdit().setPlaceholderText("a device (name or id)")
            self._fill_picker(name, picker, remembered=True)
            picker.currentIndexChanged.connect(lambda *_: self._picker_edited(name, picker))
            picker.editTextChanged.connect(lambda *_: self._picker_edited(name, picker))
            return picker
        if kind == "uuid":
            row = QWidget()
            layout = QHBoxLayout(row)
            layout.setContentsMargins(0, 0, 0, 0)
            line = QLineEdit(str(uuid.uuid4()))
            line.setReadOnly(True)
            line.setObjectName("uuid")
            button = QToolButton()
            button.setText("New id")
            button.clicked.connect(lambda: (line.setText(str(uuid.uuid4())), changed()))
            layout.addWidget(line, 1)
            layout.addWidget(button)
            return row
        line = QLineEdit()
        line.textChanged.connect(changed)
        return line

    def _picker_edited(self, name: str, picker: QComboBox) -> None:
        try:
            chosen = self._field_value("device", picker)
        except UnresolvedDevice:
            chosen = ""
        if chosen:
            self._picked[name] = chosen
        else:
            self._picked.pop(name, None)
        self._edited()

    def _fill_picker(self, name: str, picker: QComboBox, *, remembered: bool = False) -> None:
        """List the devices `picker` offers for the current task.

        A new picker (`remembered`) shows the device the user chose on this form before, if it is still
        offered, else nothing. A refresh keeps the text and cursor exactly as they were: the list
        changes under the user (other writers), what they typed or chose does not.
        """
        base = self.base
        line = picker.lineEdit()
        text, cursor = picker.currentText(), line.cursorPosition()
        selected_from, selected = line.selectionStart(), len(line.selectedText())
        picker.blockSignals(True)
        picker.clear()
        if isinstance(self.task.currentData(), type) and self.task.currentData() is dev.DisconnectDevice:
            # Disconnect: only the peers the device is connected to.
            for peer in (base.state.get("peers", []) if base else []):
                picker.addItem(self.device_label(dev.device_stream(peer)), peer)
        else:
            me = base.stream_id if base else ""
            for stream_id, (_, active) in sorted(self.devices.items(), key=lambda kv: kv[1][0].lower()):
                if stream_id != me and active:
                    picker.addItem(self.device_label(stream_id), dev.device_id_of(stream_id))
        if remembered:
            wanted = self._picked.get(name)
            index = picker.findData(wanted) if wanted else -1
            if wanted and index < 0 and base is not None:
                del self._picked[name]  # no longer offered: back to no choice, never another device
            picker.setCurrentIndex(index)
        else:
            index = picker.findText(text)
            picker.setCurrentIndex(index)
            if picker.currentText() != text:
                picker.setEditText(text)
            line.setCursorPosition(cursor)
            if selected:
                line.setSelection(selected_from, selected)
        picker.blockSignals(False)

    def _refresh_pickers(self) -> None:
        for name, (kind, editor) in self._editors.items():
            if kind == "device":
                self._fill_picker(name, editor)  # type: ignore[arg-type]
        self.update_preview()

    def resolve_device(self, text: str, offered: list[str] | None = None) -> str:
        """The device id `text` means: a (stream) id, a picker label, a name or a unique short id.

        Where a name or a short id fits several devices, the one the picker `offered` (device ids)
        wins, then the only active one. Raises UnresolvedDevice naming `text` otherwise.
        """
        text = text.strip()
        full = _DEVICE_ID.fullmatch(text)
        if full:
            return full.group(1).lower()
        label = _LABEL.fullmatch(text)
        if label:
            text_id = label.group(1).lower()
            matches = [s for s in self.devices if dev.device_id_of(s).lower().startswith(text_id)]
        else:
            folded = text.casefold()
            matches = [s for s, (name, _) in self.devices.items() if name.casefold() == folded]
            if not matches and len(text) >= SHORT_ID:
                matches = [s for s in self.devices if dev.device_id_of(s).lower().startswith(text.lower())]
        if len(matches) > 1:
            narrowed = [s for s in matches if dev.device_id_of(s) in (offered or ())]
            if len(narrowed) != 1:
                narrowed = [s for s in matches if self.devices[s][1]]
            if len(narrowed) == 1:
                matches = narrowed
        if len(matches) == 1:
            return dev.device_id_of(matches[0])
        if matches:
            labels = ", ".join(self.device_label(s) for s in sorted(matches, key=self.device_label)[:5])
            more = ", …" if len(matches) > 5 else ""
            raise UnresolvedDevice(f"“{text}” fits {len(matches)} devices ({labels}{more}): choose one from "
                                   "the list, or type more of its id")
        raise UnresolvedDevice(f"no device is named “{text}” or has an id starting with it: choose one from the "
                               "list, or type a device's name or id")

    def _named(self, text: str) -> str:
        """`text` (a domain message) with the device ids it holds shown as the pickers show them."""
        def label(match: re.Match[str]) -> str:
            stream_id = dev.device_stream(match.group(1).lower())
            return self.device_label(stream_id) if stream_id in self.devices else match.group(0)
        return _DEVICE_ID.sub(label, text)

    def set_field(self, name: str, value: Any) -> None:
        """Put `value` into the form's editor of `name` (tests and scripted demos use this)."""
        kind, editor = self._editors[name]
        if kind == "choice" or kind == "device":
            assert isinstance(editor, QComboBox)
            index = editor.findData(value)
            if index < 0 and kind == "device":
                editor.setEditText(str(value))
            else:
                editor.setCurrentIndex(index)
        elif kind == "number":
            editor.setValue(int(value))  # type: ignore[attr-defined]
        elif kind == "datetime":
            editor.setDateTime(QDateTime.fromString(str(value), Qt.DateFormat.ISODate))  # type: ignore[attr-defined]
        elif kind == "uuid":
            editor.findChild(QLineEdit, "uuid").setText(str(value))  # type: ignore[union-attr]
            self.update_preview()
        else:
            editor.setText(str(value))  # type: ignore[attr-defined]

    def _field_value(self, kind: str, editor: QWidget) -> Any:
        if kind == "choice":
            return editor.currentData()  # type: ignore[attr-defined]
        if kind == "number":
            return editor.value()  # type: ignore[attr-defined]
        if kind == "datetime":
            when = editor.dateTime().toUTC()  # type: ignore[attr-defined]
            return when.toString("yyyy-MM-ddTHH:mm:ssZ")
        if kind == "device":
            box: QComboBox = editor  # type: ignore[assignment]
            text = box.currentText().strip()
            if not text:
                return ""
            index = box.findText(text)
            if index >= 0:
                return box.itemData(index)
            return self.resolve_device(text, [box.itemData(i) for i in range(box.count())])
        if kind == "uuid":
            return editor.findChild(QLineEdit, "uuid").text()  # type: ignore[union-attr]
        return editor.text()  # type: ignore[attr-defined]

    def current_command(self) -> Any:
        """The command the form describes, or None when no task is chosen.

        Raises UnresolvedDevice when a device picker holds text that names no device or several.
        """
        command_type = self.task.currentData()
        if not isinstance(command_type, type):
            return None
        values = {name: self._field_value(kind, editor) for name, (kind, editor) in self._editors.items()}
        return command_type(**values)

    # -- preview (GUI thread, pure, instant) ------------------------------------------------------

    def target_stream(self, command: Any) -> str:
        base = self.base
        if base is not None and base.new and isinstance(command, dev.RegisterDevice):
            return dev.device_stream(command.device_id)
        return base.stream_id if base is not None else ""

    def update_preview(self, *_: object) -> None:
        """Recompute the preview from the form; publish it (or withdraw it) as context.pending."""
        if self._building or self._submitting or self.status in ("submitted", "recorded"):
            return
        base = self.base
        try:
            command = self.current_command()
        except UnresolvedDevice as exc:
            self._invalid(str(exc)[:1].upper() + str(exc)[1:] + ".", alarm=True)
            return
        if base is None or command is None or self.context.store is None:
            self.submit.setEnabled(False)
            return
        store = self.context.store
        try:
            # Facts are one or two indexed lookups on the GUI connection: cheap enough per keystroke.
            command = commands.with_facts(store, command)
            result = commands.preview(base.state, command, stream_type=base.stream_type)
        except DomainError as exc:
            reason = self._named(str(exc))
            if self._touched:
                self._invalid(f"Not allowed: {reason}", alarm=True)
            else:
                self._invalid(f"Fill in the form ({reason}).", alarm=False)
            return
        self._command, self._preview = command, result
        self.message.setStyleSheet("")
        self.message.setText(f"Would record {len(result.events)} event{'s' if len(result.events) != 1 else ''} "
                             f"on version {base.version} of the device:")
        self.preview_text.setPlainText(self._describe(self.target_stream(command), result))
        self.submit.setEnabled(True)
        if self._touched:
            self._publish(self._pending_for(command, result, "preview"))
        elif self.context.pending is not None and self.context.pending.command_id == self._command_id:
            self._publish(None)  # a form nobody touched yet marks nothing in the other views
        self._set_status("preview")

    def _invalid(self, message: str, *, alarm: bool) -> None:
        """The form describes no command that can be recorded: say why, withdraw the preview."""
        self._command, self._preview = None, None
        self.message.setText(message)
        self.message.setStyleSheet("color: #b00020;" if alarm else "")
        self.preview_text.setPlainText("")
        self.submit.setEnabled(False)
        self._set_status("invalid")
        if self.context.pending is not None and self.context.pending.command_id == self._command_id:
            self.context.set_pending(None)

    def _describe(self, stream_id: str, result: commands.Preview) -> str:
        pack = pack_for(self.base.stream_type if self.base else dev.STREAM_TYPE)
        name_of = lambda s: self.devices.get(s, ("", True))[0] or None  # noqa: E731
        lines = [f"+ {e.type}: {pack.sentence(e.type, e.data, stream_id, name_of)}" for e in result.events]
        if result.changes:
            lines.append("")
            lines.append("State after:")
            for change in result.changes:
                lines.append(f"  {pack.label(change.path)}: {self._value_text(change.path, change.old)} → "
                             f"{self._value_text(change.path, change.new)}")
        return "\n".join(lines)

    def _value_text(self, path: str, value: Any) -> str:
        if path == "peers" and isinstance(value, list):
            return _short(", ".join(self.device_label(dev.device_stream(str(p))) for p in value) or "none", 120)
        return _short(value)

    def _pending_for(self, command: Any, result: commands.Preview, status: str, **extra: Any) -> PendingPreview:
        stream_id = self.target_stream(command)
        added = tuple((stream_id, dev.device_stream(str(e.data["peer_id"])))
                      for e in result.events if e.type == dev.DEVICE_CONNECTED)
        removed = tuple((stream_id, dev.device_stream(str(e.data["peer_id"])))
                        for e in result.events if e.type == dev.DEVICE_DISCONNECTED)
        base = self.base
        return PendingPreview(
            command_id=self._command_id,
            stream_id=stream_id,
            events=tuple((e.type, dict(e.data)) for e in result.events),
            state_before=result.state_before,
            state_after=result.state_after,
            status=status,
            added_edges=added,
            removed_edges=removed,
            extra={"new_device": bool(base and base.new), "base_version": base.version if base else 0,
                   "command": type(command).__name__, "changes": [c.to_json() for c in result.changes], **extra},
        )

    def _publish(self, pending: PendingPreview | None) -> None:
        self._pending = pending
        self.context.set_pending(pending)

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    # -- submit -----------------------------------------------------------------------------------

    def submit_command(self) -> None:
        """Record the previewed command in a worker, expecting the version the preview was made on."""
        store = self.context.store
        base, command, result = self.base, self._command, self._preview
        if store is None or store.read_only or base is None or command is None or result is None:
            return
        if self._submitting:
            return
        self._submitting = True
        self._submit_store = store
        self.submit.setEnabled(False)
        self.form_box.setEnabled(False)
        self.task.setEnabled(False)
        self.target.setEnabled(False)
        stream_id = self.target_stream(command)
        expected = base.version
        retries = 2 if self.auto_retry.isChecked() else 0
        actor, command_id = self.actor_name, self._command_id
        self._submitted_at = time.perf_counter()
        self._publish(self._pending_for(command, result, "submitted"))
        self._set_status("submitted")
        self.progress.setText(f"Submitted (expecting version {expected})…")
        self._selected_before = self.context.stream_id
        if base.new:
            self.context.select_stream(stream_id)  # the client made the id: go to the device at once

        def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> Any:
            clone = store.clone()
            readdb = _read_database(clone)
            try:
                # Snapshots make "load fresh state" cheap on long streams.
                tt = TimeTravel(clone, readdb) if readdb is not None else None
                return commands.handle(clone, stream_id, command, expected_version=expected, actor=actor,
                                       command_id=command_id, retries=retries, stream_type=base.stream_type,
                                       timetravel=tt)
            except (DomainError, ConcurrencyError) as exc:
                return exc  # expected outcomes, not failures of the job (no traceback in the log)
            finally:
                clone.close()
                if readdb is not None:
                    readdb.close()

        self._start(job, "submit command", self._on_submitted, self._on_submit_failed)

    def _on_submitted(self, outcome: Any) -> None:
        if self.context.store is not self._submit_store:
            return  # another store was opened meanwhile; this outcome belongs to the old one
        if isinstance(outcome, BaseException):
            self._on_submit_failed(outcome)
        else:
            self._on_recorded(outcome)

    def _on_recorded(self, recorded: commands.Recorded) -> None:
        self._submitting = False
        self._recorded_at = time.perf_counter()
        self.last_recorded = recorded
        self._awaiting = recorded.last_position
        ms = (self._recorded_at - self._submitted_at) * 1000
        retried = f" after {recorded.attempts - 1} automatic re-decision(s)" if recorded.attempts > 1 else ""
        self.progress.setText(f"Recorded at position {recorded.last_position} in {ms:.0f} ms{retried}; "
                              f"waiting for {self._confirmer()}…")
        if self._pending is not None:
            self._publish(replace(self._pending, status="recorded", position=recorded.last_position,
                                  extra={**self._pending.extra, "submit_ms": ms}))
        self._set_status("recorded")
        self._check_confirmed()
        if self.status == "recorded":
            self._slow_confirm.start()

    def _confirmer(self) -> str:
        return "the read models" if self.context.checkpoints else "the live feed to see it (no read models are running)"

    def _on_submit_failed(self, exc: BaseException) -> None:
        self._submitting = False
        if isinstance(exc, DomainError):
            self._roll_back(f"Rejected on the device's current state: {self._named(str(exc))}")
            self._set_status("rejected")
            self._keep_progress = True
            if self.base is not None and self.base.new and self.context.stream_id != self._selected_before:
                # The new device never came to be: go back to what was selected before (which
                # reloads the panel on it).
                self.context.select_stream(self._selected_before)
            else:
                self.reload_base()
        elif isinstance(exc, ConcurrencyError):
            self._conflicted(exc)
        else:
            message = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
            self._roll_back(f"Not recorded: {message}")
            self._set_status("rejected")

    def _roll_back(self, why: str) -> None:
        self._publish(None)
        self._unlock()
        self.progress.setText(why)
        self.progress.setStyleSheet("color: #b00020;")

    def _unlock(self) -> None:
        self.form_box.setEnabled(True)
        self.task.setEnabled(True)
        self.target.setEnabled(True)

    # -- conflicts -------------------------------------------------------------------------------

    def _conflicted(self, exc: ConcurrencyError) -> None:
        store, base, command = self.context.store, self.base, self._command
        if store is None or base is None or command is None:
            return
        self.progress.setStyleSheet("color: #a05a00;")
        self.progress.setText(f"Conflict: another writer appended first (the device is at version {exc.actual}, "
                              f"the preview was made on {exc.expected}). Re-deciding on the fresh state…")
        stream_id = self.target_stream(command)

        def job(cancelled: Callable[[], bool], progress: Callable[[int, int], None]) -> commands.Conflict:
            clone = store.clone()
            try:
                return commands.redecide(clone, stream_id, command, since_version=base.version,
                                         state_before=base.state, stream_type=base.stream_type)
            finally:
                clone.close()

        self._start(job, "re-decide", self._on_redecided, self._on_submit_failed)

    def _on_redecided(self, conflict: commands.Conflict) -> None:
        pack = pack_for(conflict.loaded.stream_type)
        name_of = lambda s: self.devices.get(s, ("", True))[0] or None  # noqa: E731
        lines = [f"Since version {conflict.since_version}, others recorded:"]
        if conflict.missed:
            lines.append(f"  … {conflict.missed} earlier events")
        for event in conflict.intervening:
            who = event.metadata.get("actor", "?")
            lines.append(f"  v{event.version} by {who}: {pack.sentence(event.type, event.data, event.stream_id, name_of)}")
        if conflict.changes:
            lines.append("What changed in the device's state:")
            for change in conflict.changes:
                lines.append(f"  {pack.label(change.path)}: {self._value_text(change.path, change.old)} → "
                             f"{self._value_text(change.path, change.new)}")
        self.base = Base(conflict.loaded.stream_id, conflict.loaded.stream_type, conflict.loaded.version,
                         conflict.loaded.state, new=False)
        self._unlock()
        if conflict.preview is None:
            reason = self._named(str(conflict.reason))
            lines.append(f"Your command is no longer valid: {reason}")
            self.message.setText("Conflict: rejected on the fresh state")
            self.preview_text.setPlainText("\n".join(lines))
            self._publish(None)
            self.progress.setText(f"Conflict, then rejected: {reason}")
            self.submit.setEnabled(False)
            self._set_status("rejected")
            return
        self._command, self._preview = self._command, conflict.preview
        lines.append("")
        lines.append(self._describe(self.target_stream(self._command), conflict.preview))
        others = len(conflict.intervening) + conflict.missed
        self.message.setText(f"Conflict: re-decided on version {conflict.loaded.version}. Submit again to confirm.")
        self.progress.setText(f"Conflict: {others} event{'s' if others != 1 else ''} by other writers since your "
                              f"preview (version {conflict.since_version} → {conflict.loaded.version}). Your command "
                              "is still valid on the fresh state: check what changed, then Submit again.")
        self.preview_text.setPlainText("\n".join(lines))
        self.submit.setEnabled(True)
        self.submit.setText("Submit again")
        self._publish(self._pending_for(self._command, conflict.preview, "conflicted",
                                        intervening=len(conflict.intervening) + conflict.missed))
        self._set_status("conflicted")

    # -- confirmation -------------------------------------------------------------------------------

    def _on_checkpoints_changed(self, _checkpoints: object) -> None:
        self._check_confirmed()

    def _on_head_changed(self, head: int) -> None:
        self._check_confirmed()
        self._refresh_names()
        base, store = self.base, self.context.store
        # Only over a live preview: a rejection's or confirmation's message stays readable.
        if self.status == "preview" and base is not None and not base.new and store is not None:
            info = store.stream_info(base.stream_id)  # one indexed lookup
            if info is not None and info.version > base.version:
                newer = info.version - base.version
                self.progress.setStyleSheet("color: #a05a00;")
                self.progress.setText(f"{newer} newer event{'s' if newer != 1 else ''} on this device since this "
                                      "preview was made; submitting now will meet a conflict (Discard reloads).")

    def _confirm_is_slow(self) -> None:
        if self.status != "recorded" or not self._awaiting:
            return
        behind = sorted(name for name, at in self.context.checkpoints.items() if at < self._awaiting)
        which = f" ({', '.join(behind)} behind)" if behind else ""
        self.progress.setText(f"Recorded at position {self._awaiting}, but the read models{which} have not reached "
                              f"it after {SLOW_CONFIRM_MS // 1000} s: are they paused or failing (Read Models "
                              "panel)? Still waiting.")

    def _check_confirmed(self) -> None:
        if self.status != "recorded" or not self._awaiting:
            return
        checkpoints = self.context.checkpoints
        if checkpoints:
            if min(checkpoints.values()) < self._awaiting:
                return
            by = f"read models at {min(checkpoints.values())}"
        else:
            if self.context.head < self._awaiting:
                return
            by = "the live feed saw the head pass it; no read models are running"
        now = time.perf_counter()
        window = (now - self._recorded_at) * 1000
        self.last_window_ms = window
        total = (now - self._submitted_at) * 1000
        position = self._awaiting
        self._awaiting = 0
        self.progress.setStyleSheet("color: #1b5e20;")
        self.progress.setText(f"Confirmed: position {position} ({by}). Inconsistency window {window:.0f} ms "
                              f"(recorded → confirmed); {total:.0f} ms from submit.")
        if self._pending is not None:
            self._publish(replace(self._pending, status="confirmed", position=position,
                                  extra={**self._pending.extra, "window_ms": window}))
        self._set_status("confirmed")
        pending = self._pending
        if pending is not None and pending.state_after.get("name"):
            # What the read side now says about the device, without waiting for the names job.
            self.devices[pending.stream_id] = (str(pending.state_after["name"]),
                                               pending.state_after.get("status") == "active")
        # The read side shows the real thing now; nothing is pending any more.
        self._publish(None)
        self._next_command()

    def _next_command(self) -> None:
        self._command_id = str(uuid.uuid4())
        self.submit.setText("Submit")
        self._unlock()
        self._keep_progress = True
        self._picked = {}  # the choices went into the recorded command; the next one starts empty
        recorded = self.last_recorded
        if recorded is not None and self.target.currentData() == NEW_DEVICE:
            self._fill_targets()  # the new device is the selected stream now
        else:
            self.reload_base()

    def discard_command(self) -> None:
        """Drop the preview (and any conflict) and start again on the device's current state."""
        if self.status in ("submitted", "recorded"):
            return
        self._reset_pending()
        self._picked = {}  # start again: no device chosen
        self.reload_base()

    def _reset_pending(self, *, keep_progress: bool = False) -> None:
        self._command_id = str(uuid.uuid4())
        self._command, self._preview = None, None
        self._awaiting = 0
        self._submitting = False
        self.submit.setText("Submit")
        self.submit.setEnabled(False)
        if not keep_progress:
            self.progress.setText("")
            self.progress.setStyleSheet("")
        self.message.setText("")
        self.preview_text.setPlainText("")
        self._unlock()
        if self.context.pending is not None:
            self._publish(None)
        self._set_status("")


def _short(value: Any, width: int = 60) -> str:
    text = "—" if value is None or value == "" else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def create(context: AppContext) -> CommandPanel:
    """The view factory the main window calls."""
    return CommandPanel(context=context)


def toggle_follow_head(window: Any, context: AppContext) -> None:
    """Menu action: follow the head (or stop following it)."""
    feed = LiveFeed.for_context(context)
    feed.set_follow_head(not feed.follow_head)
