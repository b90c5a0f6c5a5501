"""The command panel's device pickers: no choice made for the user, typed text kept, names resolved."""

from __future__ import annotations

from typing import Any

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox

from explorer.domain.iot import device as dev
from explorer.ui.context import AppContext
from explorer.ui.views.command_panel import CommandPanel
from tests.helpers.ui import demo_copy, demo_file, writable_context  # noqa: F401 - fixtures
from tests.ui.test_command_panel import active_devices, choose, context, exec_in_child, panel  # noqa: F401 - fixtures


def peer_picker(panel: CommandPanel) -> QComboBox:
    kind, editor = panel._editors["peer_id"]
    assert kind == "device" and isinstance(editor, QComboBox)
    return editor


def connect_form(panel: CommandPanel, qtbot: Any, context: AppContext) -> tuple[str, list[str]]:
    """The Connect form on an active device; returns it and the active devices it is not connected to."""
    devices = active_devices(context.store)
    me = devices[0]
    choose(panel, qtbot, me, dev.ConnectDevice)
    peers = set(panel.base.state["peers"])
    return me, [d for d in devices[1:] if dev.device_id_of(d) not in peers]


def name_of(panel: CommandPanel, stream_id: str) -> str:
    return panel.devices[stream_id][0]


def wait_for_names(panel: CommandPanel, qtbot: Any, stream_id: str, name: str) -> None:
    qtbot.waitUntil(lambda: panel.devices.get(stream_id, ("", True))[0] == name, timeout=10_000)


# -- F1: a picker starts empty and keeps the user's choice when rebuilt ----------------------------

def test_a_fresh_connect_form_chooses_no_peer_and_cannot_be_submitted(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    connect_form(panel, qtbot, context)
    picker = peer_picker(panel)
    assert picker.count() > 0  # there are devices to choose from
    assert picker.currentIndex() == -1 and picker.currentText() == ""
    assert not panel.submit.isEnabled() and context.pending is None
    assert "choose a peer device" in panel.message.text()


def test_after_a_rejection_the_picker_keeps_the_chosen_peer_and_names_it(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    picker = peer_picker(panel)
    chosen = dev.device_id_of(free[3])
    picker.setCurrentIndex(picker.findData(chosen))  # not the first device of the list
    assert panel.submit.isEnabled()
    version = panel.base.version
    # Another process connects the same peer first: the command is rejected on the fresh state.
    exec_in_child(context.store.path, "connect", "--stream", me, f"peer_id={chosen}")
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "rejected"):
        panel.submit.click()
    qtbot.waitUntil(lambda: panel.base is not None and panel.base.version == version + 1, timeout=5000)
    picker = peer_picker(panel)  # the form was rebuilt
    assert picker.currentData() == chosen and picker.currentText() == panel.device_label(free[3])
    assert not panel.submit.isEnabled()  # already connected: nothing to submit
    # The rejection names the peer as the pickers do, not by its raw id.
    assert "already connected to " + panel.device_label(free[3]) in panel.progress.text()
    assert chosen not in panel.progress.text()


def test_after_a_confirmed_connect_the_form_never_moves_to_another_peer(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    picker = peer_picker(panel)
    chosen = dev.device_id_of(free[2])
    picker.setCurrentIndex(picker.findData(chosen))
    version = panel.base.version
    with qtbot.waitSignal(panel.status_changed, timeout=10_000, check_params_cb=lambda s: s == "confirmed"):
        panel.submit.click()
    qtbot.waitUntil(lambda: panel.base is not None and panel.base.version == version + 1, timeout=5000)
    picker = peer_picker(panel)
    assert picker.currentData() in (chosen, None)
    assert not panel.submit.isEnabled()  # one more click records nothing


def test_a_chosen_peer_that_is_gone_leaves_the_picker_empty(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    picker = peer_picker(panel)
    chosen = dev.device_id_of(free[1])
    picker.setCurrentIndex(picker.findData(chosen))
    exec_in_child(context.store.path, "decommission", "--stream", free[1], "reason=gone")
    qtbot.waitUntil(lambda: panel.devices[free[1]][1] is False, timeout=10_000)
    assert not panel.submit.isEnabled()  # the decommissioned peer cannot be connected
    panel.reload_base()
    qtbot.waitUntil(lambda: panel.base is not None, timeout=5000)
    picker = peer_picker(panel)
    assert picker.currentIndex() == -1 and picker.currentText() == ""
    assert not panel.submit.isEnabled()


# -- F5: refreshing the list (other writers) keeps what the user typed --------------------------------

def test_a_device_list_refresh_keeps_the_text_being_typed(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    panel.show()
    qtbot.waitExposed(panel)
    picker = peer_picker(panel)
    picker.setFocus()
    typed = dev.device_id_of(free[0])[:13]
    QTest.keyClicks(picker.lineEdit(), typed)
    picker.lineEdit().setCursorPosition(5)
    assert picker.currentText() == typed
    # Another writer renames a device: the names job refreshes every picker.
    exec_in_child(context.store.path, "rename", "--stream", free[4], "name=renamed-meanwhile")
    wait_for_names(panel, qtbot, free[4], "renamed-meanwhile")
    assert picker.findText(panel.device_label(free[4])) >= 0  # the list did learn the new name
    assert picker.currentText() == typed and picker.lineEdit().cursorPosition() == 5


def test_a_device_list_refresh_keeps_the_chosen_peer_when_it_is_renamed(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    picker = peer_picker(panel)
    chosen = dev.device_id_of(free[0])
    picker.setCurrentIndex(picker.findData(chosen))
    exec_in_child(context.store.path, "rename", "--stream", free[0], "name=zz-renamed-peer")
    wait_for_names(panel, qtbot, free[0], "zz-renamed-peer")
    command = panel.current_command()
    assert command.peer_id == chosen and panel.submit.isEnabled()


# -- F10: names and short ids resolve; what cannot be resolved is named ---------------------------------

def test_a_typed_name_or_short_id_resolves_to_the_device(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    peer = free[0]
    for typed in (name_of(panel, peer), dev.device_id_of(peer)[:8], name_of(panel, peer).upper()):
        panel.set_field("peer_id", "")
        panel.set_field("peer_id", typed)
        pending = context.pending
        assert pending is not None and pending.added_edges == ((me, peer),), typed
        assert panel.submit.isEnabled()


def test_an_unknown_or_ambiguous_device_is_named_in_the_message(
        panel: CommandPanel, context: AppContext, qtbot: Any) -> None:
    me, free = connect_form(panel, qtbot, context)
    panel.set_field("peer_id", "no-such-device")
    assert "no-such-device" in panel.message.text() and "not registered" not in panel.message.text()
    assert not panel.submit.isEnabled() and context.pending is None
    # Two active devices with the same name: the name alone does not say which.
    twin = name_of(panel, free[0])
    exec_in_child(context.store.path, "rename", "--stream", free[1], f"name={twin}")
    wait_for_names(panel, qtbot, free[1], twin)
    panel.set_field("peer_id", "")
    panel.set_field("peer_id", twin)
    assert twin in panel.message.text() and "2 devices" in panel.message.text()
    assert not panel.submit.isEnabled() and context.pending is None
