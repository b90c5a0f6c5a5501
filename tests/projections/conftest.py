"""Fixtures of the read-model tests: one small demo store per session, and its read models; a
store of odd histories; generated histories the Device decider would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from explorer.demo import DemoSummary
from explorer.domain.iot import device as dev
from explorer.projections import runner_for
from explorer.projections.runner import ProjectionRunner
from explorer.store.base_types import ANY
from explorer.store.readdb import ReadDatabase
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.stores import make_demo


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    path = tmp_path_factory.mktemp("proj-demo") / "demo.evstore"
    summary = make_demo(path, devices=30, events=3000, seed=5)
    return path, summary


@pytest.fixture(scope="session")
def built(demo: tuple[Path, DemoSummary], tmp_path_factory: pytest.TempPathFactory) -> ProjectionRunner:
    """Every read model of the demo store, caught up (shared: tests only read it)."""
    store = SQLiteEventStore.open(demo[0], read_only=True)
    runner = runner_for(store, ReadDatabase(tmp_path_factory.mktemp("proj-read") / "read.sqlite"))
    runner.catch_up()
    return runner


ODD = [dev.device_stream(f"00000000-0000-4000-8000-00000000000{i}") for i in range(4)]


def _call(direction: str, number: object, hour: int) -> tuple[str, dict[str, object]]:
    return dev.CALL_REPORTED, {"direction": direction, "number": number, "duration_s": 7,
                               "occurred_at": f"2026-10-01T{hour:02d}:15:00Z"}


@pytest.fixture(scope="session")
def odd_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with histories the decider would refuse: calls, connections and a rename before a
    registration, a second registration, events after a decommission, a device with calls only,
    a registration without a name, an empty number and one that is not a string, a decommission
    before a registration, a registration after a decommission, a connection to a device that was
    never registered and one to a decommissioned device. One event per append, streams
    interleaved, so every batch size cuts them differently."""
    a, b, c, d = ODD
    bid = dev.device_id_of(b)
    script: list[tuple[str, tuple[str, dict[str, object]]]] = [
        (a, _call("in", "", 2)),
        (a, (dev.DEVICE_CONNECTED, {"peer_id": bid})),
        (a, (dev.DEVICE_RENAMED, {"name": "pre-name"})),
        (c, _call("out", 5551234, 3)),
        (d, (dev.DEVICE_DECOMMISSIONED, {"reason": "before it was registered"})),
        (a, (dev.DEVICE_REGISTERED, {"device_id": dev.device_id_of(a), "name": "alpha", "kind": "sensor",
                                     "owner": "ops"})),
        (b, (dev.DEVICE_REGISTERED, {"device_id": bid, "name": "bravo", "kind": "camera", "owner": "sec"})),
        (a, _call("in", "+1 555 0101", 12)),
        (a, (dev.DEVICE_RENAMED, {"name": "alpha-2"})),
        (c, _call("in", "+1 555 0100", 23)),
        (a, _call("out", "+1 555 0101", 1)),
        (d, (dev.DEVICE_REGISTERED, {"device_id": dev.device_id_of(d), "kind": "gateway"})),
        (a, (dev.DEVICE_REGISTERED, {"device_id": dev.device_id_of(a), "name": "alpha-3", "kind": "router",
                                     "owner": "ops-2"})),
        (a, (dev.DEVICE_CONNECTED, {"peer_id": bid})),
        (b, (dev.DEVICE_CONNECTED, {"peer_id": dev.device_id_of(a)})),
        (a, _call("out", "+1 555 0102", 4)),
        (a, (dev.DEVICE_DISCONNECTED, {"peer_id": bid})),
        (b, (dev.DEVICE_RENAMED, {"name": "bravo-2"})),
        (a, (dev.DEVICE_DECOMMISSIONED, {"reason": "gone"})),
        (a, (dev.DEVICE_RENAMED, {"name": "ghost"})),
        (a, _call("in", "+1 555 0103", 5)),
        (d, (dev.DEVICE_CONNECTED, {"peer_id": bid})),
        (b, _call("out", "+1 555 0104", 0)),
        (a, (dev.DEVICE_CONNECTED, {"peer_id": bid})),  # a decommissioned device connects again
        (d, (dev.DEVICE_CONNECTED, {"peer_id": dev.device_id_of(c)})),  # c is never registered
        (d, (dev.DEVICE_DECOMMISSIONED, {"reason": "retired"})),
        (d, (dev.DEVICE_REGISTERED, {"device_id": dev.device_id_of(d), "name": "delta-again", "kind": "gateway",
                                     "owner": "ops"})),
        (d, (dev.DEVICE_DECOMMISSIONED, {"reason": "retired again"})),
        (d, (dev.DEVICE_REGISTERED, {"device_id": dev.device_id_of(d), "name": "delta-3", "kind": "gateway",
                                     "owner": "ops"})),
    ]
    path = tmp_path_factory.mktemp("proj-odd") / "odd.evstore"
    with SQLiteEventStore.create(path) as store:
        for stream_id, (etype, data) in script:
            store.append(stream_id, dev.STREAM_TYPE, [NewEvent(etype, data)], ANY)
    return path


# -- generated histories the decider refuses, as stores written by other tools can hold them ------

DEVICES = [dev.device_stream(f"00000000-0000-4000-8000-0000000000{i:02d}") for i in range(4)]
# Peers: the four devices and two ids that never have a stream of their own (unknown devices).
PEERS = [dev.device_id_of(s) for s in DEVICES] + ["00000000-0000-4000-8000-000000000098",
                                                   "00000000-0000-4000-8000-000000000099"]
KINDS = ("register", "decommission", "connect", "disconnect", "rename", "call")


def _event(kind: str, stream: str, peer: str) -> NewEvent:
    """One event of a generated history (its data as the sample domain writes it)."""
    if kind == "register":
        return NewEvent(dev.DEVICE_REGISTERED, {"device_id": dev.device_id_of(stream), "name": "n", "kind": "sensor",
                                                "owner": "o"})
    if kind == "decommission":
        return NewEvent(dev.DEVICE_DECOMMISSIONED, {"reason": "r"})
    if kind in ("connect", "disconnect"):
        return NewEvent(dev.DEVICE_CONNECTED if kind == "connect" else dev.DEVICE_DISCONNECTED, {"peer_id": peer})
    if kind == "rename":
        return NewEvent(dev.DEVICE_RENAMED, {"name": "m"})
    return NewEvent(dev.CALL_REPORTED, {"direction": "in", "number": "1", "duration_s": 1,
                                        "occurred_at": "2026-10-01T02:00:00Z"})


histories = st.lists(  # (kind, device index, peer index) per event
    st.tuples(st.sampled_from(KINDS), st.integers(0, len(DEVICES) - 1), st.integers(0, len(PEERS) - 1)),
    max_size=45)


def history_store(path: Path, history: list[tuple[str, int, int]]) -> SQLiteEventStore:
    """A store holding a generated history, one event per append; opened read-only."""
    with SQLiteEventStore.create(path) as store:
        for kind, device, peer in history:
            store.append(DEVICES[device], dev.STREAM_TYPE, [_event(kind, DEVICES[device], PEERS[peer])], ANY)
    return SQLiteEventStore.open(path, read_only=True)
