"""The stream browser model: types with counts, streams paged in lazily, prefix filter."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.models.streams import STREAM_ID_ROLE, StreamTreeModel
from tests.helpers.ui import demo_copy, demo_file  # noqa: F401 - fixtures


def loaded_model(qtbot: QtBot, path: Path, page_size: int = 7) -> tuple[StreamTreeModel, SQLiteEventStore]:
    store = SQLiteEventStore.open(path, read_only=True)
    model = StreamTreeModel(page_size=page_size)
    with qtbot.waitSignal(model.types_loaded, timeout=10_000):
        model.set_store(store)
    return model, store


def fetch_all(qtbot: QtBot, model: StreamTreeModel, parent_row: int = 0) -> list[str]:
    parent = model.index(parent_row, 0)
    while model.canFetchMore(parent):
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            model.fetchMore(parent)
    return [model.index(r, 0, parent).data(STREAM_ID_ROLE) for r in range(model.rowCount(parent))]


def test_types_show_counts_and_streams_arrive_a_page_at_a_time(qtbot: QtBot, demo_file: Path) -> None:
    model, store = loaded_model(qtbot, demo_file)
    assert model.rowCount() == 1
    device = model.index(0, 0)
    assert "Device" in device.data() and "30 streams" in device.data()
    assert model.index(0, 1).data() == f"{store.head().position:,}"
    assert model.rowCount(device) == 0 and model.hasChildren(device) and model.canFetchMore(device)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.fetchMore(device)
    assert model.rowCount(device) == 7  # one page only
    ids = fetch_all(qtbot, model)
    assert ids == [s.stream_id for s in store.streams("Device")]
    assert not model.canFetchMore(device)
    first = model.index(0, 1, device)
    assert first.data() == f"{store.stream_info(ids[0]).version:,}"


def test_model_tester(qtbot: QtBot, qtmodeltester, demo_file: Path) -> None:
    model, _store = loaded_model(qtbot, demo_file)
    fetch_all(qtbot, model)
    qtmodeltester.check(model)


def test_filter_by_id_prefix_with_or_without_the_type(qtbot: QtBot, demo_file: Path) -> None:
    model, store = loaded_model(qtbot, demo_file)
    target = store.streams("Device")[5].stream_id
    uuid_prefix = target.removeprefix("device-")[:6]
    for text in (uuid_prefix, "device-" + uuid_prefix):
        with qtbot.waitSignal(model.types_loaded, timeout=10_000):
            model.set_filter(text)
        assert target in fetch_all(qtbot, model)
        assert all(sid.startswith("device-" + uuid_prefix) for sid in fetch_all(qtbot, model))
    with qtbot.waitSignal(model.types_loaded, timeout=10_000):
        model.set_filter("zzzz-no-such")
    assert model.rowCount() == 0


def test_device_names_label_streams_and_filter_finds_names(qtbot: QtBot, demo_file: Path, tmp_path: Path) -> None:
    from explorer.projections import runner_for

    with SQLiteEventStore.open(demo_file, read_only=True) as store:
        runner = runner_for(store)
        runner.catch_up()
        runner.readdb.close()
    model, store = loaded_model(qtbot, demo_file, page_size=100)
    qtbot.waitUntil(lambda: bool(model.names), timeout=10_000)
    fetch_all(qtbot, model)
    first = model.index(0, 0, model.index(0, 0))
    sid = first.data(STREAM_ID_ROLE)
    name = model.names[sid]
    assert first.data() == f"{name}  ({sid[:15]}…)"
    assert sid in first.data(Qt.ItemDataRole.ToolTipRole)

    with qtbot.waitSignal(model.types_loaded, timeout=10_000):
        model.set_filter(name)
    top = model.index(0, 0)
    assert top.data().startswith("Name matches")
    found = [model.index(r, 0, top).data(STREAM_ID_ROLE) for r in range(model.rowCount(top))]
    assert sid in found


def test_filter_finds_names_by_emoji_and_signs_the_search_index_cannot_see(qtbot: QtBot, demo_copy: Path) -> None:
    """FTS5's tokenizer keeps letters and digits only: "📱" is no word of "📱phone😀‍🔥" there."""
    import uuid

    from explorer.projections import runner_for
    from explorer.store.base_types import NO_STREAM
    from explorer.store.records import NewEvent

    named = {}
    with SQLiteEventStore.open(demo_copy) as store:
        for name in ("📱phone😀\u200d🔥", "<b>Bold</b> Tablet"):
            device = str(uuid.uuid4())
            named[name] = f"device-{device}"
            store.append(named[name], "Device", [NewEvent("DeviceRegistered", {
                "device_id": device, "name": name, "kind": "phone", "owner": "qa"})], NO_STREAM)
        runner = runner_for(store)
        runner.catch_up()
        runner.readdb.close()
    model, _store = loaded_model(qtbot, demo_copy, page_size=100)
    for text, name in (("📱", "📱phone😀\u200d🔥"), ("😀\u200d🔥", "📱phone😀\u200d🔥"), ("<B>bold", "<b>Bold</b> Tablet")):
        with qtbot.waitSignal(model.types_loaded, timeout=10_000):
            model.set_filter(text)
        top = model.index(0, 0)
        assert top.data() is not None and top.data().startswith("Name matches"), text
        found = [model.index(r, 0, top).data(STREAM_ID_ROLE) for r in range(model.rowCount(top))]
        assert found[0] == named[name], text
    with qtbot.waitSignal(model.types_loaded, timeout=10_000):
        model.set_filter("🚚")
    assert model.rowCount() == 0


def test_counts_and_new_streams_follow_appends(qtbot: QtBot, demo_copy: Path) -> None:
    from tests.helpers.ui import append_events

    model, store = loaded_model(qtbot, demo_copy, page_size=10)
    device = model.index(0, 0)
    fetch_all(qtbot, model)
    append_events(demo_copy, 2, stream_id="ticket-1", stream_type="Ticket")
    append_events(demo_copy, 1, stream_id="device-00000000-new", stream_type="Device")
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.refresh_counts()
    assert "31 streams" in model.index(0, 0).data()
    assert model.index(1, 0).data().startswith("Ticket") and model.index(1, 1).data() == "2"
    ids = fetch_all(qtbot, model, 0)
    assert ids == [s.stream_id for s in store.streams("Device")] and "device-00000000-new" in ids
    qtbot.waitUntil(lambda: model.rowCount(device) == 31, timeout=5_000)
