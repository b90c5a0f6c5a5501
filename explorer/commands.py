"""The write side (CQRS): load fresh state, read cross-stream facts, decide, append with a version.

`handle` returns only where the events landed; whoever wants the new state reads it from the
read side. `preview` is the pure, instant half a UI runs on every keystroke: the events a
command would record and the state they lead to, on a state the caller already holds.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from explorer import __version__
from explorer.domain.decider import DomainError, DomainEvent, State
from explorer.domain.iot import device
from explorer.domain.plugins import pack_for
from explorer.store.base import EventStore
from explorer.store.errors import ConcurrencyError
from explorer.store.records import NewEvent, RecordedEvent
from explorer.timetravel import Change, TimeTravel, diff

SCHEMA_VERSION = 1
"""The metadata's schema version: bump when the keys below change meaning."""

__all__ = [
    "SCHEMA_VERSION",
    "ConcurrencyError",
    "Conflict",
    "DomainError",
    "Loaded",
    "Preview",
    "Recorded",
    "command_by_name",
    "command_metadata",
    "default_actor",
    "handle",
    "load",
    "preview",
    "with_facts",
]


# -- metadata ---------------------------------------------------------------------------------


def default_actor() -> str:
    """The OS user: who issued a command when nobody says otherwise."""
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):  # no passwd entry (containers) and no LOGNAME/USER
        return os.environ.get("USER") or "unknown"


def command_metadata(
    *,
    actor: str | None = None,
    command_id: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    command_type: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata every event of one command carries.

    A command that starts a conversation correlates and is caused by itself; a command issued
    in reaction to an event passes that event's ids on.
    """
    command_id = command_id or str(uuid.uuid4())
    metadata: dict[str, Any] = dict(extra or {})
    metadata.update(
        actor=(actor or "").strip() or default_actor(),
        command_id=command_id,
        correlation_id=correlation_id or command_id,
        causation_id=causation_id or command_id,
        app_version=__version__,
        schema_version=SCHEMA_VERSION,
    )
    if command_type:
        metadata["command"] = command_type
    return metadata


# -- reading the write side's state ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Loaded:
    """A stream's state as a writer sees it right now.

    Attributes:
        stream_id / stream_type: the stream (the type is the given default when it does not exist).
        version: the last event folded in (0: the stream does not exist yet).
        state: the folded state.
    """

    stream_id: str
    stream_type: str
    version: int
    state: State

    @property
    def exists(self) -> bool:
        return self.version > 0


def load(
    store: EventStore,
    stream_id: str,
    *,
    stream_type: str = device.STREAM_TYPE,
    timetravel: TimeTravel | None = None,
    cache: dict[str, Loaded] | None = None,
) -> Loaded:
    """The stream's state at its current version.

    With `timetravel`, it starts from the nearest snapshot; with `cache` (a writer's own dict of
    states it loaded before), it folds only the events appended since: a stream only grows.
    """
    info = store.stream_info(stream_id)
    if info is None:
        return Loaded(stream_id, stream_type, 0, pack_for(stream_type).decider.initial_state())
    cached = cache.get(stream_id) if cache is not None else None
    if cached is not None and 0 < cached.version <= info.version and cached.stream_type == info.stream_type:
        decider = pack_for(info.stream_type).decider
        state = decider.fold_data(store.read_stream_data(stream_id, cached.version + 1, info.version),  # type: ignore[attr-defined]
                                  cached.state)
        loaded = Loaded(stream_id, info.stream_type, info.version, state)
        cache[stream_id] = loaded  # type: ignore[index]
        return loaded
    if timetravel is not None:
        at = timetravel.state_at(stream_id, version=info.version)
        return Loaded(stream_id, info.stream_type, at.version, at.state)
    decider = pack_for(info.stream_type).decider
    # Read exactly up to the version just seen, so version and state always belong together.
    state = decider.fold_data(store.read_stream_data(stream_id, 1, info.version),  # type: ignore[attr-defined]
                              decider.initial_state())
    loaded = Loaded(stream_id, info.stream_type, info.version, state)
    if cache is not None:
        cache[stream_id] = loaded
    return loaded


# -- cross-stream facts --------------------------------------------------------------------------
# A decider sees one stream. A rule that needs another stream's state reads it through a "fact"
# field the application fills in just before deciding; a user never types it.


def _peer_is_active(store: EventStore, peer_id: str) -> bool:
    stream_id = device.device_stream(peer_id)
    info = store.stream_info(stream_id)
    if info is None or info.stream_type != device.STREAM_TYPE:
        return False
    # A decommissioned device takes no more commands, so its last event tells its status:
    # one indexed read, however long the peer's history is.
    last = list(store.read_stream_data(stream_id, info.version, info.version))  # type: ignore[attr-defined]
    return bool(last) and last[0][1] != device.DEVICE_DECOMMISSIONED


def _connect_facts(store: EventStore, command: device.ConnectDevice) -> device.ConnectDevice:
    return replace(command, peer_active=_peer_is_active(store, command.peer_id))


FACTS: dict[type, Callable[[EventStore, Any], Any]] = {device.ConnectDevice: _connect_facts}
"""command class -> fill(store, command) -> command with its fact fields read from the store."""


def with_facts(store: EventStore, command: Any) -> Any:
    """The command with its fact fields filled in from the store's current state."""
    fill = FACTS.get(type(command))
    return fill(store, command) if fill is not None else command


def fact_fields(command_type: type) -> list[str]:
    """The names of the fields the application fills in (editor "fact")."""
    return [f.name for f in fields(command_type) if f.metadata.get("editor") == "fact"]


def command_by_name(name: str, stream_type: str = device.STREAM_TYPE) -> type:
    """A command class of `stream_type` by its name: `ConnectDevice`, `connect-device` or `connect`."""
    wanted = name.replace("-", "").replace("_", "").lower()
    commands = pack_for(stream_type).commands
    for command_type in commands:
        full = command_type.__name__.lower()
        short = full.removesuffix(stream_type.lower())
        if wanted in (full, short):
            return command_type
    names = ", ".join(c.__name__ for c in commands) or "none"
    raise DomainError(f"a {stream_type} stream takes no command {name!r} (it takes: {names})")


# -- preview (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    """What a command would do to a state the caller holds (nothing is written).

    Attributes:
        events: the events the command would record.
        state_before / state_after: the state without and with them.
        changes: the state diff (path, added/changed/removed, old, new).
    """

    events: tuple[DomainEvent, ...]
    state_before: State
    state_after: State
    changes: tuple[Change, ...]


def preview(state: State, command: Any, *, stream_type: str = device.STREAM_TYPE) -> Preview:
    """Decide and fold on `state`: pure and instant. Raises DomainError on a rule violation."""
    events, after = pack_for(stream_type).decider.preview(command, state)
    return Preview(tuple(events), state, after, tuple(diff(state, after)))


# -- handle -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """Where a command's events landed: all a command returns.

    Attributes:
        stream_id: the stream written.
        first_position / last_position: the store positions taken (inclusive).
        version: the stream's version after the append.
        command_id: the command's id (in every event's metadata).
        attempts: 1, or more when a conflict was retried on the fresh state.
    """

    stream_id: str
    first_position: int
    last_position: int
    version: int
    command_id: str
    attempts: int = 1

    @property
    def positions(self) -> range:
        return range(self.first_position, self.last_position + 1)


def handle(
    store: EventStore,
    stream_id: str,
    command: Any,
    *,
    expected_version: int | None = None,
    actor: str | None = None,
    command_id: str | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    extra_metadata: dict[str, Any] | None = None,
    retries: int = 0,
    stream_type: str = device.STREAM_TYPE,
    timetravel: TimeTravel | None = None,
    cache: dict[str, Loaded] | None = None,
) -> Recorded:
    """Load fresh state, fill in facts, decide, append; return the positions taken.

    `expected_version` is the version the caller's preview was computed on (None: the version
    just loaded). Raises DomainError when the fresh state rejects the command, and
    ConcurrencyError when another writer appended first and `retries` re-decisions on the fresh
    state did not get the events in. A retry re-decides, so a command that is no longer valid is
    rejected, never recorded blindly. `cache`: see `load` (a long-running writer's speed-up).
    """
    if retries < 0:
        raise ValueError("retries must be >= 0")
    metadata = command_metadata(
        actor=actor, command_id=command_id, correlation_id=correlation_id, causation_id=causation_id,
        command_type=type(command).__name__, extra=extra_metadata,
    )
    attempt = 0
    while True:
        attempt += 1
        loaded = load(store, stream_id, stream_type=stream_type, timetravel=timetravel, cache=cache)
        if not pack_for(loaded.stream_type).commands:
            raise DomainError(f"a {loaded.stream_type} stream takes no commands in Event Explorer")
        decided = with_facts(store, command)
        events = pack_for(loaded.stream_type).decider.decide(decided, loaded.state)
        if not events:
            raise DomainError("the command changes nothing, so nothing was recorded")
        expected = loaded.version if (expected_version is None or attempt > 1) else expected_version
        new_events = [NewEvent(e.type, e.data, metadata, str(uuid.uuid4())) for e in events]
        try:
            result = store.append(stream_id, loaded.stream_type, new_events, expected)
        except ConcurrencyError:
            if attempt > retries:
                raise
            continue
        return Recorded(stream_id, result.first_position, result.last_position, result.version,
                        metadata["command_id"], attempt)


# -- conflicts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conflict:
    """What happened to a stream since a preview was computed, and the command re-decided on it.

    Attributes:
        loaded: the fresh state.
        since_version: the version the preview was computed on.
        intervening: the events other writers appended since (at most `limit` of them, newest last).
        missed: how many intervening events are not in `intervening`.
        changes: the state diff from the preview's base to the fresh state.
        preview: the command re-decided on the fresh state, or None when it is no longer valid.
        reason: the domain's message when it is no longer valid, else "".
    """

    loaded: Loaded
    since_version: int
    intervening: tuple[RecordedEvent, ...]
    missed: int
    changes: tuple[Change, ...]
    preview: Preview | None
    reason: str = ""


def redecide(
    store: EventStore,
    stream_id: str,
    command: Any,
    *,
    since_version: int,
    state_before: State,
    stream_type: str = device.STREAM_TYPE,
    timetravel: TimeTravel | None = None,
    limit: int = 50,
) -> Conflict:
    """Load the fresh state, list what others appended since `since_version`, re-decide `command`."""
    loaded = load(store, stream_id, stream_type=stream_type, timetravel=timetravel)
    first = max(since_version + 1, loaded.version - limit + 1)
    intervening = tuple(store.read_stream(stream_id, first, loaded.version)) if loaded.version > since_version else ()
    missed = max(0, loaded.version - since_version - len(intervening))
    try:
        again = preview(loaded.state, with_facts(store, command), stream_type=loaded.stream_type)
        reason = ""
    except DomainError as exc:
        again, reason = None, str(exc)
    return Conflict(loaded, since_version, intervening, missed, tuple(diff(state_before, loaded.state)), again, reason)
