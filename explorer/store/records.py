"""Plain records that cross the store boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from explorer.store.base_types import ExpectedVersion

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; the store assigns position, version, time and hash.

    Attributes:
        type: past-tense event type (`DeviceConnected`).
        data: the event's JSON object.
        metadata: actor, command_id, correlation_id, causation_id, schema_version, free keys.
        event_id: a UUID string; made by the store when empty.
    """

    type: str
    data: JSON
    metadata: JSON = field(default_factory=dict)
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An immutable fact as the store holds it.

    Attributes:
        position: place in the whole store, 1, 2, 3 ... gap-free.
        stream_id / stream_type / version: the stream and the event's place in it (1..n).
        type: event type.
        recorded_at: when the store took the event (UTC, aware).
        data / metadata: decoded JSON objects.
        event_id: UUID string.
        chain_hash: hex SHA-256 chain hash up to and including this event.
        problem: None, or why this row could not be decoded (data/metadata are then empty).
    """

    position: int
    stream_id: str
    stream_type: str
    version: int
    type: str
    recorded_at: datetime
    data: JSON
    metadata: JSON
    event_id: str
    chain_hash: str
    problem: str | None = None

    @property
    def occurred_at(self) -> str | None:
        """When the domain says it happened, if the data carries it (IoT data arrives late)."""
        value = self.data.get("occurred_at")
        return value if isinstance(value, str) else None

    def to_json(self) -> JSON:
        """Every field of DESIGN.md section 1 as a JSON-able dict."""
        out: JSON = {
            "position": self.position,
            "stream_id": self.stream_id,
            "stream_type": self.stream_type,
            "version": self.version,
            "type": self.type,
            "recorded_at": format_time(self.recorded_at),
            "data": self.data,
            "metadata": self.metadata,
            "event_id": self.event_id,
            "chain_hash": self.chain_hash,
        }
        if self.problem:
            out["problem"] = self.problem
        return out


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One stream's part of an append: all its events are stored or none.

    Attributes:
        recorded_at: None (the store's clock), or the time of an import of history; either way
            the store keeps recorded_at non-decreasing with position.
    """

    stream_id: str
    stream_type: str
    events: tuple[NewEvent, ...]
    expected_version: ExpectedVersion
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append landed: the stream's new version and the positions taken."""

    stream_id: str
    first_position: int
    last_position: int
    version: int


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One stream's summary."""

    stream_id: str
    stream_type: str
    version: int
    first_position: int
    last_position: int
    first_recorded_at: datetime | None = None
    last_recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Filters of `read_all`; None means no filter. Times are inclusive."""

    stream_types: tuple[str, ...] | None = None
    event_types: tuple[str, ...] | None = None
    stream_ids: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def is_empty(self) -> bool:
        return not (self.stream_types or self.event_types or self.stream_ids or self.since or self.until)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a Z, the one text form of times we print."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # strftime's %Y has no padding on glibc (year 1 is "1"); ISO 8601 wants four digits.
    return text if value.year >= 1000 else f"{value.year:04d}{text[text.index('-'):]}"
