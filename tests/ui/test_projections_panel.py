"""The Projections panel: reflects catching up (live updates from another writer), rebuild, pause."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from explorer.domain.iot import device as dev
from explorer.projections.runner import LIVE
from explorer.store.base_types import NO_STREAM
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext
from explorer.ui.projection_service import service_for
from explorer.ui.views.projections_panel import FRACTION_ROLE, ProjectionsPanel, ProjectionStatusModel
from tests.helpers.asof import save_artifact
from tests.helpers.stores import make_demo


@pytest.fixture
def context(tmp_path: Path) -> Iterator[AppContext]:
    path = tmp_path / "demo.evstore"
    make_demo(path, devices=20, events=1500, seed=4)
    ctx = AppContext()
    ctx.set_store(SQLiteEventStore.open(path))
    yield ctx
    service_for(ctx).wait()
    ctx.set_store(None)


@pytest.fixture
def panel(qtbot, context: AppContext) -> Iterator[ProjectionsPanel]:
    widget = ProjectionsPanel(context=context)
    qtbot.addWidget(widget)
    widget.resize(760, 260)
    widget.show()
    yield widget
    widget.service.wait()


def all_live_at(panel: ProjectionsPanel, head: int) -> bool:
    s = panel.model.statuses
    return len(s) == 4 and all(x.state == LIVE and x.checkpoint == head for x in s)


def test_panel_catches_up_and_publishes_checkpoints(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                    qtmodeltester) -> None:
    # A progress report can show every row at the head before the caught-up status publishes the
    # checkpoints (one queued signal later): wait for both.
    expected = {name: context.head for name in ("registry", "search", "graph", "analytics")}
    qtbot.waitUntil(lambda: all_live_at(panel, context.head) and context.checkpoints == expected, timeout=20000)
    assert all(panel.model.index(r, 4).data(FRACTION_ROLE) == 1.0 for r in range(4))
    assert panel.model.index(0, 1).data() == "live"
    qtmodeltester.check(panel.model)
    save_artifact(panel, "projections_panel.png")

    # Another writer appends: head_changed makes the service catch up, the checkpoints follow.
    writer = SQLiteEventStore.open(context.store.path)
    device_id = "00000000-0000-4000-8000-00000000abcd"
    writer.append(dev.device_stream(device_id), dev.STREAM_TYPE,
                  [NewEvent(dev.DEVICE_REGISTERED, {"device_id": device_id, "name": "late", "kind": "sensor",
                                                    "owner": "t"})], NO_STREAM)
    new_head = writer.head().position
    with qtbot.waitSignal(context.checkpoints_changed, timeout=20000):
        context.set_head(new_head)
    qtbot.waitUntil(lambda: all_live_at(panel, new_head), timeout=20000)
    writer.close()


def test_pause_lets_the_lag_grow_and_resume_catches_up(qtbot, context: AppContext, panel: ProjectionsPanel) -> None:
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    panel.pause_button.setChecked(True)
    writer = SQLiteEventStore.open(context.store.path)
    device_id = "00000000-0000-4000-8000-00000000abce"
    writer.append(dev.device_stream(device_id), dev.STREAM_TYPE,
                  [NewEvent(dev.DEVICE_REGISTERED, {"device_id": device_id, "name": "late", "kind": "sensor",
                                                    "owner": "t"})], NO_STREAM)
    context.set_head(writer.head().position)
    panel.service.wait()
    assert all(s.checkpoint == context.head - 1 for s in panel.model.statuses)
    panel.service.catch_up()  # ignored while paused
    panel.service.wait()
    assert all(s.checkpoint == context.head - 1 for s in panel.model.statuses)
    panel.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    writer.close()


def test_rebuild_shows_progress_and_swaps(qtbot, context: AppContext, panel: ProjectionsPanel) -> None:
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    seen_states: set[str] = set()
    panel.service.status_changed.connect(lambda statuses: seen_states.update(s.state for s in statuses))
    panel.table.selectRow(0)
    assert panel.selected_name() == "registry"
    with qtbot.waitSignal(panel.service.rebuild_finished, timeout=30000) as blocker:
        panel.rebuild_button.click()
        assert not panel.rebuild_button.isEnabled() and panel.cancel_button.isEnabled()
    assert blocker.args == [["registry"]]
    assert "rebuilding" in seen_states
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    assert panel.rebuild_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert "Rebuilt registry" in panel.message.text()


def test_empty_model_passes_the_model_tester(qtmodeltester) -> None:
    qtmodeltester.check(ProjectionStatusModel())


def test_failed_and_rebuilding_rows(qtmodeltester) -> None:
    from explorer.projections.runner import Failure, ProjectionStatus

    model = ProjectionStatusModel()
    failed = ProjectionStatus("graph", "Device-connection graph", 2, "failed", 40, 100, 60, 3600.0,
                              failure=Failure(41, "DeviceConnected", "KeyError: 'peer_id' <b>x</b>"))
    rebuilding = ProjectionStatus("registry", "Device registry", 3, "rebuilding", 100, 100, 0, 0.0,
                                  rebuild_checkpoint=25)
    model.set_statuses([failed, rebuilding], {"registry": [1.0, 5.0, 3.0]}, paused=False)
    qtmodeltester.check(model)
    assert model.index(0, 1).data() == "failed"
    assert "stopped at position 41 (DeviceConnected)" in model.index(0, 0).data(3)  # ToolTipRole
    assert model.index(0, 3).data() == "60 events (1.0 h)"
    assert model.index(1, 1).data() == "rebuilding 25%"
    assert model.index(1, 4).data(FRACTION_ROLE) == 0.25
    model.set_statuses([failed.__class__("graph", "G", 2, "catching-up", 40, 100, 60, 1.0), rebuilding], {},
                       paused=True)
    assert model.index(0, 1).data() == "paused"


def test_caught_up_says_100_percent_only_when_nothing_is_left() -> None:
    from explorer.projections.runner import ProjectionStatus

    model = ProjectionStatusModel()
    behind = ProjectionStatus("search", "Full-text search", 1, "catching-up", 45_637, 45_857, 220, 6.0)
    model.set_statuses([behind], {}, paused=True)
    assert model.index(0, 4).data() == "99%"  # 99.5 % applied: not "100%" while 220 events wait
    model.set_statuses([ProjectionStatus("search", "Full-text search", 1, "live", 45_857, 45_857, 0, 0.0)], {},
                       paused=False)
    assert model.index(0, 4).data() == "100%"


def test_the_message_of_one_store_is_not_shown_with_the_next(qtbot, context: AppContext, panel: ProjectionsPanel,
                                                            tmp_path: Path) -> None:
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    with qtbot.waitSignal(panel.service.rebuild_finished, timeout=30000):
        panel.service.rebuild(["graph"])
    assert panel.message.text() == "Rebuilt graph."
    other = tmp_path / "other.evstore"
    make_demo(other, devices=5, events=300, seed=9)
    first = context.store
    context.set_store(SQLiteEventStore.open(other))
    first.close()
    assert panel.message.text() == ""
    qtbot.waitUntil(lambda: all_live_at(panel, context.head), timeout=20000)
    assert panel.message.text() == ""
    save_artifact(panel, "projections_panel_second_store.png")
