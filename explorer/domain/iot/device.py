"""The Device aggregate of the sample IoT / cybersecurity domain.

In this order: events (their shape is a storage format: change with care), state +
initial_state + evolve, commands + decide. Pure: no clock, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from explorer.domain.decider import Decider, DomainError, DomainEvent, State

STREAM_TYPE = "Device"
STREAM_PREFIX = "device-"
KINDS = ("sensor", "gateway", "camera", "phone", "router", "controller")
DIRECTIONS = ("in", "out")
NAME_MAX = 100


def device_stream(device_id: str) -> str:
    """The stream id of a device id (`device-<uuid>`)."""
    return device_id if device_id.startswith(STREAM_PREFIX) else STREAM_PREFIX + device_id


def device_id_of(stream_id: str) -> str:
    return stream_id[len(STREAM_PREFIX):] if stream_id.startswith(STREAM_PREFIX) else stream_id


# -- events -----------------------------------------------------------------------------------

DEVICE_REGISTERED = "DeviceRegistered"  # {device_id, name, kind, owner}
DEVICE_RENAMED = "DeviceRenamed"  # {name}
DEVICE_CONNECTED = "DeviceConnected"  # {peer_id}
DEVICE_DISCONNECTED = "DeviceDisconnected"  # {peer_id}
CALL_REPORTED = "CallReported"  # {direction, number, duration_s, occurred_at}
DEVICE_DECOMMISSIONED = "DeviceDecommissioned"  # {reason}

EVENT_TYPES = (
    DEVICE_REGISTERED,
    DEVICE_RENAMED,
    DEVICE_CONNECTED,
    DEVICE_DISCONNECTED,
    CALL_REPORTED,
    DEVICE_DECOMMISSIONED,
)

# -- state ------------------------------------------------------------------------------------


def initial_state() -> State:
    return {
        "device_id": None,
        "name": "",
        "kind": "",
        "owner": "",
        "status": "unregistered",
        "peers": [],
        "calls_in": 0,
        "calls_out": 0,
        "call_seconds": 0,
        "last_call": None,
        "decommission_reason": None,
    }


def evolve(state: State, event_type: str, data: dict[str, Any]) -> State:
    """The state after one event. Returns a new dict; containers are copied only when changed."""
    if event_type == CALL_REPORTED:
        new = dict(state)
        if data.get("direction") == "in":
            new["calls_in"] = state["calls_in"] + 1
        else:
            new["calls_out"] = state["calls_out"] + 1
        new["call_seconds"] = state["call_seconds"] + data.get("duration_s", 0)
        new["last_call"] = data
        return new
    new = dict(state)
    if event_type == DEVICE_REGISTERED:
        new.update(
            device_id=data.get("device_id"),
            name=data.get("name", ""),
            kind=data.get("kind", ""),
            owner=data.get("owner", ""),
            status="active",
        )
    elif event_type == DEVICE_RENAMED:
        new["name"] = data.get("name", "")
    elif event_type == DEVICE_CONNECTED:
        peer = data.get("peer_id")  # .get: a damaged row arrives as {} and replay goes on
        if isinstance(peer, str) and peer not in state["peers"]:
            new["peers"] = sorted([*state["peers"], peer])
    elif event_type == DEVICE_DISCONNECTED:
        peer = data.get("peer_id")
        new["peers"] = [p for p in state["peers"] if p != peer]
    elif event_type == DEVICE_DECOMMISSIONED:
        new["status"] = "decommissioned"
        new["decommission_reason"] = data.get("reason", "")
    return new


# -- commands ---------------------------------------------------------------------------------
# Field metadata drives generated forms: label, editor ("text", "choice", "number",
# "datetime", "device"), choices. Fields marked "fact" are cross-stream facts the application
# reads and fills in; a user never types them.


def _field(label: str, editor: str = "text", **extra: Any) -> Any:
    return field(metadata={"label": label, "editor": editor, **extra})


@dataclass(frozen=True, slots=True)
class RegisterDevice:
    """Register a new device; the client makes its id (a UUID)."""

    device_id: str = _field("Device id", "uuid")
    name: str = _field("Name")
    kind: str = _field("Kind", "choice", choices=KINDS)
    owner: str = _field("Owner")


@dataclass(frozen=True, slots=True)
class RenameDevice:
    """Give the device a new name."""

    name: str = _field("New name")


@dataclass(frozen=True, slots=True)
class ConnectDevice:
    """Connect the device to a peer device."""

    peer_id: str = _field("Peer device", "device")
    peer_active: bool = field(default=True, metadata={"label": "Peer is active", "editor": "fact"})


@dataclass(frozen=True, slots=True)
class DisconnectDevice:
    """Disconnect the device from a peer it is connected to."""

    peer_id: str = _field("Peer device", "device")


@dataclass(frozen=True, slots=True)
class ReportCall:
    """Report an incoming or outgoing call; occurred_at is when the device says it happened."""

    direction: str = _field("Direction", "choice", choices=DIRECTIONS)
    number: str = _field("Number")
    duration_s: int = _field("Duration (s)", "number", minimum=0)
    occurred_at: str = _field("Occurred at", "datetime")


@dataclass(frozen=True, slots=True)
class DecommissionDevice:
    """Take the device out of service; it is disconnected from every peer."""

    reason: str = _field("Reason")


COMMANDS = (RegisterDevice, RenameDevice, ConnectDevice, DisconnectDevice, ReportCall, DecommissionDevice)


def command_fields(command_type: type) -> list[tuple[str, dict[str, Any]]]:
    """(name, metadata) of each field of a command class, in order: what a form shows."""
    return [(f.name, dict(f.metadata)) for f in fields(command_type)]


def _require_active(state: State) -> None:
    if state["status"] == "unregistered":
        raise DomainError("this device is not registered; register it first")
    if state["status"] == "decommissioned":
        raise DomainError(f"device {state['name']!r} is decommissioned and takes no more commands")


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise DomainError(f"a device name must have 1 to {NAME_MAX} characters (this one has {len(cleaned)})")
    return cleaned


def _peer_label(state: State, peer_id: str) -> str:
    return peer_id


def decide(command: Any, state: State) -> list[DomainEvent]:
    """The events `command` records on `state`, or DomainError."""
    if isinstance(command, RegisterDevice):
        if state["status"] != "unregistered":
            raise DomainError(f"device {state['name']!r} is already registered")
        if not command.device_id:
            raise DomainError("a new device needs an id")
        if command.kind not in KINDS:
            raise DomainError(f"a device kind must be one of {', '.join(KINDS)}")
        return [
            DomainEvent(
                DEVICE_REGISTERED,
                {
                    "device_id": command.device_id,
                    "name": _clean_name(command.name),
                    "kind": command.kind,
                    "owner": (command.owner or "").strip(),
                },
            )
        ]
    _require_active(state)
    if isinstance(command, RenameDevice):
        name = _clean_name(command.name)
        if name == state["name"]:
            raise DomainError(f"the device is already named {name!r}")
        return [DomainEvent(DEVICE_RENAMED, {"name": name})]
    if isinstance(command, ConnectDevice):
        if not command.peer_id:
            raise DomainError("choose a peer device to connect to")
        if command.peer_id == state["device_id"]:
            raise DomainError("a device cannot connect to itself")
        if command.peer_id in state["peers"]:
            raise DomainError(f"the device is already connected to {_peer_label(state, command.peer_id)}")
        if not command.peer_active:
            raise DomainError("the peer device is not registered or is decommissioned")
        return [DomainEvent(DEVICE_CONNECTED, {"peer_id": command.peer_id})]
    if isinstance(command, DisconnectDevice):
        if command.peer_id not in state["peers"]:
            raise DomainError(f"the device is not connected to {_peer_label(state, command.peer_id)}")
        return [DomainEvent(DEVICE_DISCONNECTED, {"peer_id": command.peer_id})]
    if isinstance(command, ReportCall):
        if command.direction not in DIRECTIONS:
            raise DomainError("a call's direction must be 'in' or 'out'")
        if not isinstance(command.duration_s, int | float) or command.duration_s < 0:
            raise DomainError("a call's duration cannot be negative")
        if not (command.number or "").strip():
            raise DomainError("a call needs a number")
        try:
            datetime.fromisoformat(command.occurred_at.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            raise DomainError(f"{command.occurred_at!r} is not a date and time (use ISO 8601)") from None
        return [
            DomainEvent(
                CALL_REPORTED,
                {
                    "direction": command.direction,
                    "number": command.number.strip(),
                    "duration_s": command.duration_s,
                    "occurred_at": command.occurred_at,
                },
            )
        ]
    if isinstance(command, DecommissionDevice):
        events = [DomainEvent(DEVICE_DISCONNECTED, {"peer_id": p}) for p in state["peers"]]
        events.append(DomainEvent(DEVICE_DECOMMISSIONED, {"reason": (command.reason or "").strip()}))
        return events
    raise DomainError(f"a device does not take the command {type(command).__name__}")


DECIDER = Decider(stream_type=STREAM_TYPE, initial_state=initial_state, decide=decide, evolve=evolve)

# -- words for people (reports, tables) --------------------------------------------------------

LABELS = {
    "device_id": "Device id",
    "name": "Name",
    "kind": "Kind",
    "owner": "Owner",
    "status": "Status",
    "peers": "Connected devices",
    "calls_in": "Incoming calls",
    "calls_out": "Outgoing calls",
    "call_seconds": "Call time (s)",
    "last_call": "Last call",
    "last_call.direction": "Last call direction",
    "last_call.number": "Last call number",
    "last_call.duration_s": "Last call duration (s)",
    "last_call.occurred_at": "Last call time",
    "decommission_reason": "Decommission reason",
}


def _name(device_or_stream: str, name_of: Any) -> str:
    """A device's name for a sentence, or the first 8 characters of its id when it has none."""
    if name_of is not None:
        found = name_of(device_or_stream if device_or_stream.startswith(STREAM_PREFIX) else STREAM_PREFIX + device_or_stream)
        if found:
            return str(found)
    return device_id_of(device_or_stream)[:8]


def describe(event_type: str, data: dict[str, Any], stream_id: str, name_of: Any = None) -> str:
    """One sentence for a person: "Device sensor-17 connected to gateway-3".

    Calls come first and without a nested helper: reports and the search index describe every
    event, and nine in ten are calls.
    """
    if event_type == CALL_REPORTED:
        inbound = data.get("direction") == "in"
        return (f"{'Incoming' if inbound else 'Outgoing'} call {'from' if inbound else 'to'} {data.get('number', '?')}"
                f" on {_name(stream_id, name_of)}, {data.get('duration_s', '?')} s")
    if event_type == DEVICE_REGISTERED:
        return f"Device {data.get('name', '?')} registered ({data.get('kind', '?')}, owner {data.get('owner') or '-'})"
    if event_type == DEVICE_RENAMED:
        return f"Device {device_id_of(stream_id)[:8]} renamed to {data.get('name', '?')}"
    me = _name(stream_id, name_of)
    if event_type == DEVICE_CONNECTED:
        return f"Device {me} connected to {_name(str(data.get('peer_id', '?')), name_of)}"
    if event_type == DEVICE_DISCONNECTED:
        return f"Device {me} disconnected from {_name(str(data.get('peer_id', '?')), name_of)}"
    if event_type == DEVICE_DECOMMISSIONED:
        reason = data.get("reason") or "no reason given"
        return f"Device {me} decommissioned ({reason})"
    return f"{event_type} on {me}"
