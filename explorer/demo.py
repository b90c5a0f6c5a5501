"""The demo store: a realistic, deterministic history of the sample IoT domain.

Every event goes through the real deciders and the real append path. Same seed, same
arguments -> the same events and the same digest. Planted for analysts to find:
- a device that calls many unknown numbers at night (`SUSPECT_NIGHT_CALLER`);
- a sudden burst of connections from one device (`SUSPECT_BURST`).
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from explorer.domain.decider import DomainError, State
from explorer.domain.iot import device as dev
from explorer.store.base import EventStore
from explorer.store.base_types import NO_STREAM
from explorer.store.records import AppendRequest, NewEvent

DEMO_START = datetime(2026, 10, 1, tzinfo=UTC)
OWNERS = ("acme-logistics", "northwind", "globex", "initech", "umbrella-labs", "stark-iot", "wayne-secure")
ACTORS = ("ops-bot", "alice", "bob", "carol", "ingest-gateway")
PLANTED_NIGHT_CALLER = "night-caller"
PLANTED_BURST = "burst-gateway"
BATCH = 2000
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a demo run made: counts, the head digest and the planted devices' stream ids."""

    events: int
    devices: int
    digest: str
    night_caller: str
    burst_device: str


class _Sim:
    """Simulation state: device states, versions, contacts; nothing here touches the store."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.seed = seed
        self.states: dict[str, State] = {}
        self.versions: dict[str, int] = {}
        self.contacts: dict[str, list[str]] = {}
        self.active: list[str] = []
        self.pending: list[AppendRequest] = []
        self.count = 0

    def new_uuid(self) -> str:
        """A version-4 UUID drawn from the seeded generator (deterministic)."""
        h = f"{(self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_V4:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def issue(self, device_id: str, command: Any, at: datetime, actor: str) -> bool:
        """Decide `command` on the device's state; queue the events. False if the domain said no."""
        state = self.states.get(device_id) or dev.initial_state()
        try:
            events = dev.decide(command, state)
        except DomainError:
            return False
        for event in events:
            state = dev.evolve(state, event.type, event.data)
        self.states[device_id] = state
        command_id = self.new_uuid()
        version = self.versions.get(device_id, 0)
        metadata = {
            "actor": actor,
            "command_id": command_id,
            "correlation_id": command_id,
            "causation_id": command_id,
            "schema_version": 1,
            "source": "demo",
        }
        self.pending.append(
            AppendRequest(
                stream_id=dev.device_stream(device_id),
                stream_type=dev.STREAM_TYPE,
                events=tuple(NewEvent(e.type, e.data, metadata, self.new_uuid()) for e in events),
                expected_version=version if version else NO_STREAM,
                recorded_at=at,
            )
        )
        self.versions[device_id] = version + len(events)
        self.count += len(events)
        return True


def _activity(hour: int) -> float:
    """Relative call activity by hour of day: low at night, peaks mid-morning and afternoon."""
    if hour < 6:
        return 0.15
    if hour < 9:
        return 0.6
    if hour < 18:
        return 1.0
    if hour < 22:
        return 0.7
    return 0.3


MAX_DAYS = 36_500  # a century; far more would run past the last date a datetime can hold


def check_demo_size(*, devices: int, events: int, days: int) -> None:
    """A ValueError, in words for the user, unless a demo of this size can be made."""
    if devices < 4:
        raise ValueError("a demo needs at least 4 devices")
    if events < devices * 2:
        raise ValueError(f"{events} events are too few for {devices} devices (at least {devices * 2})")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a demo spans 1 to {MAX_DAYS:,} days (not {days})")


def generate_demo(
    store: EventStore,
    *,
    devices: int = 200,
    events: int = 20_000,
    days: int = 30,
    seed: int = 7,
    start: datetime = DEMO_START,
    progress: Progress | None = None,
) -> DemoSummary:
    """Append a demo history of about `events` events over `devices` devices and `days` days."""
    check_demo_size(devices=devices, events=events, days=days)
    rng = random.Random(seed)
    sim = _Sim(rng, seed)
    span = timedelta(days=days).total_seconds()
    mean_gap = span * 0.6 / events  # 0.6: the mean of _activity over a day
    at = start
    end = start + timedelta(days=days)

    ids = [sim.new_uuid() for _ in range(devices)]
    night_caller, burst = ids[0], ids[1]
    counters: dict[str, int] = {}
    registrations: list[tuple[datetime, str, dev.RegisterDevice]] = []
    for i, device_id in enumerate(ids):
        kind = "phone" if device_id == night_caller else "gateway" if device_id == burst else rng.choice(dev.KINDS)
        counters[kind] = counters.get(kind, 0) + 1
        name = (
            PLANTED_NIGHT_CALLER if device_id == night_caller
            else PLANTED_BURST if device_id == burst
            else f"{kind}-{counters[kind]}"
        )
        sim.contacts[device_id] = [f"+44 20 7946 {rng.randrange(10000):04d}" for _ in range(rng.randint(4, 9))]
        # Most devices register in the first tenth of the time; stragglers later.
        offset = 0.0 if i < 2 else rng.random() * span * (0.1 if i < devices * 0.8 else 0.6)
        registrations.append((start + timedelta(seconds=offset), device_id,
                              dev.RegisterDevice(device_id, name, kind, rng.choice(OWNERS))))
    registrations.sort(key=lambda r: r[0], reverse=True)  # pop() takes the earliest
    burst_at = start + timedelta(seconds=span * 0.62)
    burst_done = False
    decommissions_left = max(1, devices // 60)
    last_registration = registrations[0][0]
    flushed = 0

    def flush() -> None:
        nonlocal flushed
        if sim.pending:
            store.append_batch(sim.pending)
            flushed += sum(len(r.events) for r in sim.pending)
            sim.pending.clear()
            if progress is not None:
                progress(min(flushed, events), events)

    while sim.count < events and at < end:
        at += timedelta(seconds=rng.expovariate(_activity(at.hour) / mean_gap))
        while registrations and registrations[-1][0] <= at:
            when, device_id, command = registrations.pop()
            sim.issue(device_id, command, when, "ops-bot")
            sim.active.append(device_id)
        active = sim.active  # registered and not decommissioned
        if len(active) < 2:
            continue
        # The planted night caller: many unknown numbers, between 1 and 4 at night.
        if 1 <= at.hour < 4 and rng.random() < 0.5 and night_caller in active:
            sim.issue(night_caller, dev.ReportCall("out", f"+1 555 {rng.randrange(10**7):07d}",
                                                   rng.randint(5, 60), _iso(at - timedelta(seconds=rng.randint(0, 90)))),
                      at, "ingest-gateway")
        elif not burst_done and at >= burst_at and burst in active:
            burst_done = True
            others = [d for d in active if d != burst]
            peers = rng.sample(others, k=min(len(others), max(12, devices // 8)))
            for j, peer in enumerate(peers):
                sim.issue(burst, dev.ConnectDevice(peer, True), at + timedelta(seconds=j * 3), "ingest-gateway")
            at += timedelta(seconds=len(peers) * 3)
        else:
            roll = rng.random()
            device_id = rng.choice(active)
            state = sim.states[device_id]
            if roll < 0.86:
                direction = "in" if rng.random() < 0.5 else "out"
                number = rng.choice(sim.contacts[device_id]) if rng.random() < 0.93 else \
                    f"+1 555 {rng.randrange(10**7):07d}"
                # IoT data arrives late: occurred_at is up to ten minutes before the store took it.
                occurred = at - timedelta(seconds=rng.randint(0, 600))
                sim.issue(device_id, dev.ReportCall(direction, number, int(rng.expovariate(1 / 90)), _iso(occurred)),
                          at, "ingest-gateway")
            elif roll < 0.93:
                peer = rng.choice(active)
                sim.issue(device_id, dev.ConnectDevice(peer, True), at, rng.choice(ACTORS))
            elif roll < 0.985:
                if state["peers"]:
                    sim.issue(device_id, dev.DisconnectDevice(rng.choice(state["peers"])), at, rng.choice(ACTORS))
            elif roll < 0.997:
                if device_id in (night_caller, burst):  # planted devices keep their telling names
                    continue
                sim.issue(device_id, dev.RenameDevice(f"{state['kind']}-{rng.randrange(1000, 9999)}"), at,
                          rng.choice(ACTORS))
            elif decommissions_left > 0 and device_id not in (night_caller, burst) and at > last_registration:
                decommissions_left -= 1
                for peer_owner in list(active):  # peers that point at it drop their link first
                    if device_id in sim.states[peer_owner]["peers"]:
                        sim.issue(peer_owner, dev.DisconnectDevice(device_id), at, "ops-bot")
                sim.issue(device_id, dev.DecommissionDevice("end of life"), at, "alice")
                active.remove(device_id)
        if len(sim.pending) >= BATCH:
            flush()
    flush()
    head = store.head()
    return DemoSummary(
        events=head.position,
        devices=devices,
        digest=head.chain_hash,
        night_caller=dev.device_stream(night_caller),
        burst_device=dev.device_stream(burst),
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_demo_store(target: Path, *, devices: int, events: int, days: int = 30, seed: int = 7,
                    progress: Progress | None = None) -> DemoSummary:
    """Make a demo store file at `target`, whole or not at all.

    It is made under a hidden name beside the target and given the target's name only when
    complete, and never over a file: FileExistsError if one is (or appears) there. On any error,
    a Ctrl+C or a `progress` that raises (a cancel), the partial files are removed and the error
    raised again: an interrupted run never leaves a valid-looking store under a name a rerun (or
    the app) would use.
    """
    from explorer.store.sqlite import SQLiteEventStore

    check_demo_size(devices=devices, events=events, days=days)
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target}: already exists")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with SQLiteEventStore.create(partial) as store:
            summary = generate_demo(store, devices=devices, events=events, days=days, seed=seed, progress=progress)
        _move_into_place(partial, target)
    except BaseException:
        _remove_store_files(partial)
        raise
    return summary


def _move_into_place(partial: Path, target: Path) -> None:
    """Give the finished store its name; never over a file that appeared there meanwhile."""
    for suffix in ("-wal", "-shm"):  # the last connection closed cleanly: these hold nothing
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    try:
        os.link(partial, target)  # fails if the target exists, unlike a rename
    except FileExistsError:
        raise FileExistsError(f"{target}: already exists") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise FileExistsError(f"{target}: already exists") from None
        partial.rename(target)
        return
    partial.unlink()


def _remove_store_files(path: Path) -> None:
    previous = None
    try:  # a second Ctrl+C must not interrupt the clean-up
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
    try:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
