"""LiveFeed: appends by another process move the head; the cursor moves only with "follow head"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from explorer.domain.iot import device as dev
from explorer.ui.context import AppContext
from explorer.ui.live_feed import LiveFeed
from tests.helpers.ui import demo_copy, demo_file, writable_context  # noqa: F401 - fixtures

A = "aaaaaaaa-0000-4000-8000-000000000001"


@pytest.fixture
def context(writable_context: AppContext) -> AppContext:  # noqa: F811
    return writable_context


def append_in_child(path: Path, device_id: str = A) -> None:
    """Another process: register a device through `event-explorer exec`."""
    subprocess.run([sys.executable, "-m", "explorer", "exec", str(path), "RegisterDevice", "--stream",
                    dev.device_stream(device_id), "name=from-child", "kind=sensor", "owner=x"],
                   check=True, capture_output=True, timeout=60)


def test_appends_by_a_child_process_move_the_head_not_the_cursor(context: AppContext, qtbot: Any) -> None:
    feed = LiveFeed(context=context, interval_ms=20, follow_head=False)
    head = context.head
    context.set_position(head - 10)
    with qtbot.waitSignal(context.head_changed, timeout=5000) as signal:
        append_in_child(context.store.path)
    assert signal.args == [head + 1] and context.head == head + 1
    assert context.position == head - 10  # the user's cursor stays put
    assert feed.follow_head is False


def test_follow_head_moves_the_cursor(context: AppContext, qtbot: Any) -> None:
    feed = LiveFeed(context=context, interval_ms=20, follow_head=False)
    context.set_position(5)
    with qtbot.waitSignal(feed.follow_head_changed):
        feed.set_follow_head(True)
    assert context.position == context.head  # turning it on jumps to the head
    head = context.head
    with qtbot.waitSignal(context.position_changed, timeout=5000, check_params_cb=lambda p: p == head + 1):
        append_in_child(context.store.path)
    assert LiveFeed(context=context, interval_ms=20).follow_head is True  # remembered in the settings


def test_one_feed_per_context_and_none_on_read_only_immutable_stores(context: AppContext) -> None:
    assert LiveFeed.for_context(context) is LiveFeed.for_context(context)
    assert LiveFeed.for_context(context).check() is None  # nothing happened
