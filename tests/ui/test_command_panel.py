"""The command panel: preview, submit -> recorded -> confirmed, rejection rollback, conflicts."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from explorer.domain.iot import device as dev
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.views.command_panel import NEW_DEVICE, CommandPanel
from tests.helpers.ui import demo_copy, demo_file, writable_context, save_artifact  # noqa: F401 - fixtures


@pytest.fixture
def context(writable_context: AppContext) -> AppContext:  # noqa: F811
    return writable_context


@pytest.fixture
def panel(context: AppContext, qtbot: Any) -> CommandPanel:
    widget = CommandPanel(context=context)
    widget.feed.interval_ms = 20
    widget.feed._timer.setInterval(20)
    qtbot.addWidget(widget)
    widget.resize(440, 820)
    qtbot.waitUntil(lambda: bool(widget.devices), timeout=5000)
    return widget


def active_devices(store: SQLiteEventStore) -> list[str]:
    out = []
    for info in store.streams(stream_type=dev.STREAM_TYPE):
        last = list(store.read_stream_data(info.stream_id, info.version, info.version))
        if last[0][1] != dev.DEVICE_DECOMMISSIONED:
            out.append(info.stream_id)
    return out


def choose(panel: CommandPanel, qtbot: Any, stream_id: str, task: type) -> None:
    panel.context.select_stream(stream_id)
    qtbot.waitUntil(lambda: panel.base is not None and panel.base.stream_id == stream_id, timeout=5000)
    panel.task.setCurrentIndex(panel.task.findData(task))


def statuses(context: AppContext) -> list[str | None]:
    seen: list[str | None] = []
    context.pending_changed.connect(lambda p: seen.append(p.status if isinstance(p, PendingPreview) else None))
    return seen


def exec_in_child(path: Path, *argv: str) -> None:
    subprocess.run([sys.executable, "-m", "explorer", "exec", str(path), *argv], check=True,
                   capture_output=True, timeout=60)


def test_read_only_store_hides_the_panel_and_says_why(demo_file: Path, qtbot: Any) -> None:  # noqa: F811
    ctx = AppContext()
    ctx.set_store(SQLiteEventStore.open(demo_file, read_only=True))
    widget = CommandPanel(context=ctx)
    qtbot.addWidget(widget)
    assert widget.body.isHidden() and "read-only" in widget.notice.text()
    ctx.set_store(None)


def test_register_selects_the_new_device_and_confirms_with_a_window(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    seen = statuses(context)
    panel.actor.setText("dana")
    panel.actor.editingFinished.emit()
    assert panel.target.currentData() == NEW_DEVICE
    panel.set_field("name", "cam-new")
    panel.set_field("kind", "camera")
    pending = context.pending
    assert pending is not None and pending.status == "preview" and pending.extra["new_device"]
    assert pending.state_after["name"] == "cam-new" and pending.events[0][0] == dev.DEVICE_REGISTERED
    new_stream = pending.stream_id
    save_artifact(panel, "command-register-preview")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "confirmed"):
        panel.submit.click()
        assert context.stream_id == new_stream  # selected at once, before it is recorded
    assert seen[-4:] == ["submitted", "recorded", "confirmed", None]
    assert panel.last_window_ms is not None and panel.last_window_ms >= 0
    assert "Inconsistency window" in panel.progress.text() and "no read models" in panel.progress.text()
    [event] = context.store.read_stream(new_stream)
    assert event.metadata["actor"] == "dana" and event.metadata["command_id"] == pending.command_id
    # The panel moves on to the new device.
    qtbot.waitUntil(lambda: panel.base is not None and panel.base.stream_id == new_stream, timeout=5000)


def test_confirmed_only_when_the_read_models_pass_the_position(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    stream = active_devices(context.store)[0]
    choose(panel, qtbot, stream, dev.RenameDevice)
    context.set_checkpoints({"registry": context.head, "graph": context.head})
    panel.set_field("name", "renamed-by-test")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "recorded"):
        panel.submit.click()
    position = panel.last_recorded.last_position
    qtbot.waitUntil(lambda: context.head >= position, timeout=5000)
    assert panel.status == "recorded"  # the head alone does not confirm while read models run
    context.set_checkpoints({"registry": position, "graph": position - 1})
    assert panel.status == "recorded"
    with qtbot.waitSignal(panel.status_changed, check_params_cb=lambda s: s == "confirmed"):
        context.set_checkpoints({"registry": position, "graph": position})
    assert "read models at" in panel.progress.text() and context.pending is None


def test_rule_violation_shows_the_domain_message_and_disables_submit(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    stream = active_devices(context.store)[0]
    choose(panel, qtbot, stream, dev.RenameDevice)
    panel.set_field("name", "fine")
    assert panel.submit.isEnabled() and context.pending is not None
    panel.set_field("name", panel.base.state["name"])
    assert "already named" in panel.message.text() and not panel.submit.isEnabled()
    assert context.pending is None and panel.status == "invalid"


def test_connect_previews_a_pending_edge(panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    devices = active_devices(context.store)
    choose(panel, qtbot, devices[0], dev.ConnectDevice)
    peers = set(panel.base.state["peers"])
    peer = next(d for d in devices[1:] if dev.device_id_of(d) not in peers)
    panel.set_field("peer_id", dev.device_id_of(peer))
    pending = context.pending
    assert pending is not None and pending.added_edges == ((devices[0], peer),)
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "confirmed"):
        panel.submit.click()
    assert dev.device_id_of(peer) in [e.data.get("peer_id") for e in context.store.read_stream(devices[0])]


def test_rejection_on_the_fresh_state_rolls_back_every_pending_mark(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    seen = statuses(context)
    stream = active_devices(context.store)[0]
    choose(panel, qtbot, stream, dev.RenameDevice)
    panel.set_field("name", "taken-meanwhile")
    assert context.pending is not None
    head = context.head
    # Another process makes the command invalid between preview and submit.
    exec_in_child(context.store.path, "rename", "--stream", stream, "name=taken-meanwhile")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "rejected"):
        panel.submit.click()
    assert context.pending is None and seen[-1] is None
    assert "already named" in panel.progress.text()
    assert context.store.head().position == head + 1  # only the other process's event


def test_conflict_made_by_another_process_is_re_decided_and_confirmed_again(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    seen = statuses(context)
    stream = active_devices(context.store)[0]
    choose(panel, qtbot, stream, dev.RenameDevice)
    base_version = panel.base.version
    panel.set_field("name", "mine-after-conflict")
    exec_in_child(context.store.path, "report-call", "--stream", stream, "direction=in", "number=+44 1",
                  "duration_s=30", "--actor", "other-process")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "conflicted"):
        panel.submit.click()
    assert context.pending is not None and context.pending.status == "conflicted"
    assert "Submit again" == panel.submit.text() and panel.submit.isEnabled()
    assert "other-process" in panel.preview_text.toPlainText() and "Incoming calls" in panel.preview_text.toPlainText()
    assert panel.base.version == base_version + 1
    save_artifact(panel, "command-conflict")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "confirmed"):
        panel.submit.click()
    assert "submitted" in seen and "conflicted" in seen and seen[-1] is None
    events = list(context.store.read_stream(stream, base_version + 1))
    assert [e.type for e in events] == [dev.CALL_REPORTED, dev.DEVICE_RENAMED]  # nothing lost or duplicated
    assert Counter(e.metadata["command_id"] for e in events).most_common(1)[0][1] == 1


def test_auto_retry_resolves_a_conflict_that_is_still_valid(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    stream = active_devices(context.store)[0]
    panel.auto_retry.setChecked(True)
    choose(panel, qtbot, stream, dev.RenameDevice)
    panel.set_field("name", "auto-retried")
    exec_in_child(context.store.path, "report-call", "--stream", stream, "direction=out", "number=+44 2",
                  "duration_s=3")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "confirmed"):
        panel.submit.click()
    assert panel.last_recorded.attempts == 2
    assert [e.data for e in context.store.read_stream(stream)][-1] == {"name": "auto-retried"}


def test_a_new_device_rejected_goes_back_to_the_previous_selection(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    previous = active_devices(context.store)[0]
    context.select_stream(previous)
    qtbot.waitUntil(lambda: panel.base is not None and panel.base.stream_id == previous, timeout=5000)
    panel.target.setCurrentIndex(panel.target.findData(NEW_DEVICE))
    panel.set_field("name", "twin")
    pending = context.pending
    assert pending is not None and pending.extra["new_device"]
    # Another process registers the very same id first (a pasted id, a double click elsewhere).
    exec_in_child(context.store.path, "RegisterDevice", "--stream", pending.stream_id, "name=first", "kind=sensor",
                  "owner=x")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "rejected"):
        panel.submit.click()
    assert context.pending is None and context.stream_id == previous
    assert "already registered" in panel.progress.text()


def test_a_read_model_that_stays_behind_is_named(panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    stream = active_devices(context.store)[0]
    choose(panel, qtbot, stream, dev.RenameDevice)
    context.set_checkpoints({"registry": context.head, "graph": context.head})
    panel._slow_confirm.setInterval(50)
    panel.set_field("name", "waiting-for-models")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "recorded"):
        panel.submit.click()
    position = panel.last_recorded.last_position
    context.set_checkpoints({"registry": position, "graph": position - 1})  # the graph is paused
    qtbot.waitUntil(lambda: "graph behind" in panel.progress.text(), timeout=5000)
    assert panel.status == "recorded"
