"""ChangeWatch: notices appends by other connections with data_version, reads the head only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from explorer import commands
from explorer.domain.iot import device as dev
from explorer.live import ChangeWatch
from explorer.store.sqlite import SQLiteEventStore

A = "aaaaaaaa-0000-4000-8000-000000000001"


def test_idle_polls_do_not_read_the_head(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        watch = ChangeWatch(store=store)
        assert [watch.poll() for _ in range(50)] == [None] * 50
        assert watch.head_reads == 0 and watch.checks == 50


def test_appends_by_another_process_are_noticed(tmp_path: Path) -> None:
    path = tmp_path / "s.evstore"
    with SQLiteEventStore.create(path) as store:
        watch = ChangeWatch(store=store)
        subprocess.run([sys.executable, "-m", "explorer", "exec", str(path), "RegisterDevice",
                        "--stream", dev.device_stream(A), "name=cam", "kind=camera", "owner=x"],
                       check=True, capture_output=True)
        growth = watch.poll()
        assert growth is not None and (growth.old_head, growth.new_head, growth.appended) == (0, 1, 1)
        assert watch.poll() is None


def test_own_connection_writes_are_not_reported_but_the_head_is_kept(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as store:
        watch = ChangeWatch(store=store)
        commands.handle(store, dev.device_stream(A), dev.RegisterDevice(A, "cam", "camera", ""))
        assert watch.poll() is None  # data_version counts other connections' commits only
        other = store.clone()
        commands.handle(other, dev.device_stream(A), dev.RenameDevice("cam2"))
        growth = watch.poll()
        assert growth is not None and (growth.old_head, growth.new_head) == (0, 2)
        other.close()
