"""A traffic simulator: other writers issuing realistic commands through the real write path.

Several simulated clients (an ingest gateway, an operations bot, a few people) each keep their
own, possibly stale, view of the devices and issue commands with the version that view was
computed on, through `explorer.commands.handle` — exactly as the app does. When two of them (or
a person in the app) touch the same device, the store says "conflict"; the client re-decides on
the fresh state once, like the app's "retry automatically when still valid".
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from explorer.commands import Loaded, handle, load, preview
from explorer.domain.decider import DomainError
from explorer.domain.iot import device as dev
from explorer.store.errors import ConcurrencyError, StoreLockedError
from explorer.store.sqlite import SQLiteEventStore

CLIENTS = ("ingest-gateway", "ops-bot", "alice", "bob")
OWNERS = ("acme-logistics", "northwind", "globex", "initech")


@dataclass(slots=True)
class SimulationSummary:
    """What a simulation run did.

    Attributes:
        commands: commands issued.
        events: events recorded.
        conflicts: appends the store refused because another writer was first.
        resolved: conflicts whose re-decision on the fresh state was recorded.
        rejections: commands the domain refused (on the fresh state).
        locked: commands given up because the store stayed locked.
        lock_message: what the store said the last time it stayed locked (None if it never did).
        seconds: how long the run took.
        by_command: recorded commands per command type.
        command_ids: the id of every recorded command with its event count (for loss checks).
    """

    commands: int = 0
    events: int = 0
    conflicts: int = 0
    resolved: int = 0
    rejections: int = 0
    locked: int = 0
    lock_message: str | None = None
    seconds: float = 0.0
    by_command: Counter[str] = field(default_factory=Counter)
    command_ids: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "events": self.events,
            "conflicts": self.conflicts,
            "resolved": self.resolved,
            "rejections": self.rejections,
            "locked": self.locked,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events / self.seconds, 1) if self.seconds else 0.0,
            "by_command": dict(sorted(self.by_command.items())),
        }


class _Client:
    """One writer with its own cached view of the devices (stale until it reloads)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.views: dict[str, Loaded] = {}

    def view(self, store: SQLiteEventStore, stream_id: str, rng: random.Random) -> Loaded:
        cached = self.views.get(stream_id)
        if cached is None:
            cached = self.views[stream_id] = load(store, stream_id)
        elif rng.random() < 0.6:
            # Most of the time a client reads what is new before it acts; sometimes it acts on
            # what it saw last. Reading only the new events keeps a long stream cheap.
            decider = dev.DECIDER
            state, version = cached.state, cached.version
            for version, event_type, data in store.read_stream_data(stream_id, cached.version + 1):
                state = decider.evolve(state, event_type, data)
            cached = self.views[stream_id] = Loaded(stream_id, cached.stream_type, version, state)
        return cached


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Simulator:
    """Issues commands on a pool of devices; `step()` issues one.

    Attributes:
        store: the store written (its own connection).
        devices: stream ids of the devices the simulator works on.
        summary: counts so far.
    """

    def __init__(
        self,
        *,
        store: SQLiteEventStore,
        devices: int = 8,
        seed: int | None = None,
        streams: list[str] | None = None,
        actor_prefix: str = "simulator",
    ) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.summary = SimulationSummary()
        self.actor_prefix = actor_prefix
        self.clients = [_Client(name) for name in CLIENTS]
        self.cache: dict[str, Loaded] = {}  # the write side's own states: fold only what is new
        chosen = list(streams or [])
        if len(chosen) < devices:
            existing = [s.stream_id for s in store.streams(stream_type=dev.STREAM_TYPE, limit=devices * 4)
                        if s.stream_id not in chosen]
            self.rng.shuffle(existing)
            chosen += existing[: devices - len(chosen)]
        self.devices = chosen
        self._to_register = max(0, devices - len(chosen))

    def _new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _choose(self, client: _Client) -> tuple[str, Any] | None:
        """A realistic command for some device, decided on the client's (maybe stale) view."""
        rng = self.rng
        if self._to_register > 0 or not self.devices:
            device_id = self._new_uuid()
            kind = rng.choice(dev.KINDS)
            return dev.device_stream(device_id), dev.RegisterDevice(
                device_id, f"{kind}-sim-{rng.randrange(1000, 9999)}", kind, rng.choice(OWNERS))
        stream_id = rng.choice(self.devices)
        state = client.view(self.store, stream_id, self.rng).state
        if state["status"] != "active":
            return None
        roll = rng.random()
        if roll < 0.7:
            occurred = datetime.now(UTC) - timedelta(seconds=rng.randint(0, 300))
            return stream_id, dev.ReportCall(rng.choice(dev.DIRECTIONS), f"+44 20 7946 {rng.randrange(10000):04d}",
                                             int(rng.expovariate(1 / 90)), _iso(occurred))
        if roll < 0.82:
            others = [s for s in self.devices if s != stream_id]
            if not others:
                return None
            return stream_id, dev.ConnectDevice(dev.device_id_of(rng.choice(others)))
        if roll < 0.94:
            if not state["peers"]:
                return None
            return stream_id, dev.DisconnectDevice(rng.choice(state["peers"]))
        return stream_id, dev.RenameDevice(f"{state['kind'] or 'device'}-{rng.randrange(1000, 9999)}")

    def step(self) -> int:
        """Issue one command; return the events it recorded (0 when rejected or given up)."""
        client = self.rng.choice(self.clients)
        choice = self._choose(client)
        if choice is None:
            return 0
        stream_id, command = choice
        cached = client.view(self.store, stream_id, self.rng)
        try:
            believed = preview(cached.state, command)  # a stale view may say no
        except DomainError:
            client.views.pop(stream_id, None)  # look again next time
            return 0
        self.summary.commands += 1
        actor = f"{self.actor_prefix}/{client.name}"
        try:
            try:
                recorded = handle(self.store, stream_id, command, expected_version=cached.version,
                                  actor=actor, extra_metadata={"source": "simulator"}, cache=self.cache)
                # It wrote on the version it held: its view advances by its own events only.
                client.views[stream_id] = Loaded(stream_id, cached.stream_type, recorded.version,
                                                 believed.state_after)
            except ConcurrencyError:
                self.summary.conflicts += 1
                client.views.pop(stream_id, None)  # it learnt its view was stale
                # Re-decide on the fresh state and retry, as the app's "retry when still valid".
                recorded = handle(self.store, stream_id, command, actor=actor, retries=2, cache=self.cache,
                                  extra_metadata={"source": "simulator", "retried_after_conflict": True})
                self.summary.resolved += 1
        except DomainError:
            self.summary.rejections += 1
            client.views.pop(stream_id, None)
            return 0
        except ConcurrencyError:
            client.views.pop(stream_id, None)
            return 0
        except StoreLockedError as exc:
            self.summary.locked += 1
            self.summary.lock_message = str(exc)
            return 0
        if isinstance(command, dev.RegisterDevice):
            self._to_register -= 1
            self.devices.append(stream_id)
        count = recorded.last_position - recorded.first_position + 1
        self.summary.events += count
        self.summary.by_command[type(command).__name__] += 1
        self.summary.command_ids[recorded.command_id] = count
        return count


def simulate(
    store: SQLiteEventStore,
    *,
    rate: float = 20.0,
    duration: float = 10.0,
    devices: int = 8,
    seed: int | None = None,
    streams: list[str] | None = None,
    max_events: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
    on_step: Callable[[SimulationSummary], None] | None = None,
) -> SimulationSummary:
    """Issue commands at about `rate` events per second for `duration` seconds (or `max_events`)."""
    if not (math.isfinite(rate) and rate > 0):  # not `rate <= 0`: NaN compares False with everything
        raise ValueError("the rate must be a number > 0 events per second")
    if not duration >= 0:  # infinity is allowed (until max_events or should_stop), NaN is not
        raise ValueError("the duration must be a number >= 0 seconds")
    sim = Simulator(store=store, devices=devices, seed=seed, streams=streams)
    started = clock()
    due = started
    misses = 0
    while not should_stop():
        now = clock()
        if now - started >= duration or (max_events is not None and sim.summary.events >= max_events):
            break
        if due > now:
            sleep(min(due - now, 0.25))
            continue
        recorded = sim.step()
        misses = misses + 1 if recorded == 0 else 0
        if misses > 1000:
            break  # nothing is valid any more (every device decommissioned): stop, do not spin
        due += max(recorded, 1) / rate if recorded else 0.0
        if on_step is not None:
            on_step(sim.summary)
    sim.summary.seconds = clock() - started
    return sim.summary
