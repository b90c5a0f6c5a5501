"""Registry and analytics views: as of the cursor, pending rows, the suspicious ranking, charts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from explorer.projections import runner_for
from explorer.projections.analytics import activity_at, hourly
from explorer.projections.registry import registry_at
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.projection_service import service_for
from explorer.ui.views.analytics_view import NO_DEVICE_HINT, AnalyticsView, SuspiciousModel
from explorer.ui.views.registry_view import PendingRole, RegistryModel, RegistryView
from tests.helpers.asof import save_artifact
from tests.helpers.stores import make_demo
from tests.helpers.visibility import counting_submits, in_hidden_tab


@pytest.fixture
def context(tmp_path: Path) -> Iterator[AppContext]:
    path = tmp_path / "demo.evstore"
    summary = make_demo(path, devices=30, events=3000, seed=5)
    store = SQLiteEventStore.open(path)
    runner_for(store.clone()).catch_up()
    ctx = AppContext()
    ctx.summary = summary  # type: ignore[attr-defined]
    ctx.set_store(store)
    yield ctx
    service_for(ctx).wait()
    ctx.set_store(None)


def test_registry_view_follows_the_cursor(qtbot, context: AppContext, qtmodeltester) -> None:
    view = RegistryView(context=context)
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.show()
    readdb = runner_for(context.store).readdb
    for position in (context.head // 3, 50, context.head):
        with qtbot.waitSignal(view.rows_shown, timeout=10000, check_params_cb=lambda p, at=position: p == at):
            context.set_position(position)
        assert view.model.rows == registry_at(readdb, position)
    qtmodeltester.check(view.model)
    view.filter.setText("night")
    assert view.model.rowCount() == 1
    view.table.selectRow(0)
    assert context.stream_id == context.summary.night_caller  # type: ignore[attr-defined]
    view.filter.setText("")
    save_artifact(view, "registry_view.png")
    view.reader.wait()


def test_registry_view_marks_pending_rows(qtbot, context: AppContext, qtmodeltester) -> None:
    view = RegistryView(context=context)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.position == context.head, timeout=10000)
    sid = "device-00000000-0000-4000-8000-000000000777"
    context.set_pending(PendingPreview("c", sid, (("DeviceRegistered", {}),), {}, {
        "device_id": sid[7:], "name": "<b>new</b>", "kind": "sensor", "owner": "x", "status": "active", "peers": []}))
    rows = {view.model.index(r, 9).data(): r for r in range(view.model.rowCount())}
    assert sid in rows
    row = rows[sid]
    assert view.model.index(row, 0).data(PendingRole) is True
    assert view.model.index(row, 0).data() == "<b>new</b>"  # plain text, not HTML
    assert view.model.index(row, 3).data() == "active (pending)"
    qtmodeltester.check(view.model)
    context.set_pending(None)
    assert sid not in {view.model.index(r, 9).data() for r in range(view.model.rowCount())}
    view.reader.wait()


def test_analytics_view_ranks_planted_devices_and_charts_one(qtbot, context: AppContext, qtmodeltester) -> None:
    view = AnalyticsView(context=context)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitUntil(lambda: view.position == context.head, timeout=10000)
    if context.stream_id is None:  # nothing selected yet: the charts say how to get one
        assert view.title.text() == NO_DEVICE_HINT and view.device_result is None
    top = {view.model.index(r, 0).data(256 + 1) for r in range(2)}
    assert top == {context.summary.night_caller, context.summary.burst_device}  # type: ignore[attr-defined]
    assert [a.stream_id for a in view.model.rows] == [a.stream_id for a in activity_at(runner_for(context.store).readdb)]
    assert view.model.index(0, 1).data() in ("night-caller", "burst-gateway")
    qtmodeltester.check(view.model)
    sid = context.summary.night_caller  # type: ignore[attr-defined]
    # (The table may already have made its first row current on focus: wait for the result.)
    view.table.selectRow(0 if view.model.index(0, 1).data() == "night-caller" else 1)
    assert context.stream_id == sid
    qtbot.waitUntil(lambda: view.device_result == (sid, context.head), timeout=10000)
    assert view.buckets == hourly(runner_for(context.store).readdb, sid, context.head)
    assert "night" in view.title.text() and "night-caller" in view.title.text()
    save_artifact(view, "analytics_view.png")
    half = context.head // 2
    with qtbot.waitSignal(view.device_shown, timeout=10000, check_params_cb=lambda p: p == (sid, half)):
        context.set_position(half)
    assert sum(b.calls_in + b.calls_out for b in view.buckets) <= sum(
        a.calls for a in activity_at(runner_for(context.store).readdb, half) if a.stream_id == sid)
    context.select_stream(None)  # deselected: no chart of the device left behind
    qtbot.waitUntil(lambda: view.title.text() == NO_DEVICE_HINT, timeout=10000)
    assert view.buckets == [] and view.device_result is None
    view.reader.wait()


def test_empty_models_pass_the_model_tester(qtmodeltester) -> None:
    qtmodeltester.check(RegistryModel())
    qtmodeltester.check(SuspiciousModel())


def test_hidden_registry_does_no_query_and_refreshes_when_shown(qtbot, context: AppContext) -> None:
    view = RegistryView(context=context)
    queries = counting_submits(view)
    tabs = in_hidden_tab(qtbot, view)
    for position in (50, context.head // 3, context.head // 2, 200):
        context.set_position(position)
    assert queries == []
    assert view.model.rows == []  # nothing was read while hidden
    with qtbot.waitSignal(view.rows_shown, timeout=10000, check_params_cb=lambda p: p == 200):
        tabs.setCurrentWidget(view)
    assert queries == ["registry"]  # one refresh, to the cursor
    assert view.model.rows == registry_at(runner_for(context.store).readdb, 200)
    tabs.setCurrentIndex(0)
    context.set_position(context.head)
    assert queries == ["registry"]
    view.reader.wait()


def test_registry_model_updates_rows_in_place(qtbot, context: AppContext, qtmodeltester) -> None:
    readdb = runner_for(context.store).readdb
    model = RegistryModel()
    qtmodeltester.check(model)
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    full = registry_at(readdb, context.head)
    model.set_rows(full, None)
    qtmodeltester.check(model)
    resets.clear()
    # Devices leave and come back, and values change: rows are removed, inserted and changed in place.
    fewer = [r for i, r in enumerate(full) if i % 7 != 3]
    changed = [dataclasses.replace(r, calls_in=r.calls_in + 1) if i % 5 == 0 else r for i, r in enumerate(full)]
    for rows in (fewer, full, changed, registry_at(readdb, context.head - 40)):
        model.set_rows(rows, None)
        assert model.rows == rows
    assert resets == [] and inserted
    # Sorting by a column (numbers as numbers), then a filter.
    model.sort(4, Qt.SortOrder.DescendingOrder)
    assert [r.connections for r in model.rows] == sorted((r.connections for r in model.rows), reverse=True)
    model.set_filter("NIGHT")
    assert [r.stream_id for r in model.rows] == [context.summary.night_caller]  # type: ignore[attr-defined]
    model.set_filter("")
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert model.rows == registry_at(readdb, context.head - 40)  # back to the query's order (by name)
    qtmodeltester.check(model)


def test_hidden_analytics_does_no_query_and_refreshes_when_shown(qtbot, context: AppContext) -> None:
    view = AnalyticsView(context=context)
    queries = counting_submits(view)
    tabs = in_hidden_tab(qtbot, view)
    context.select_stream(context.summary.night_caller)  # type: ignore[attr-defined]
    for position in (100, context.head // 2, context.head // 3):
        context.set_position(position)
    assert queries == []
    at = context.head // 3
    with qtbot.waitSignal(view.ranking_shown, timeout=10000, check_params_cb=lambda p: p == at):
        tabs.setCurrentWidget(view)
    assert sorted(queries) == ["device", "ranking"]
    readdb = runner_for(context.store).readdb
    assert [a.stream_id for a in view.model.rows] == [a.stream_id for a in activity_at(readdb, at)]
    qtbot.waitUntil(lambda: view.device_result == (context.summary.night_caller, at), timeout=10000)  # type: ignore[attr-defined]
    view.reader.wait()
