"""The EventStore port: what every adapter (SQLite, PostgreSQL, foreign stores) offers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from explorer.store.base_types import ANY, NO_STREAM, ExpectedVersion
from explorer.store.records import (
    AppendRequest,
    AppendResult,
    EventFilter,
    NewEvent,
    RecordedEvent,
    StreamInfo,
)

__all__ = ["ANY", "NO_STREAM", "EventStore", "ExpectedVersion", "Head", "VerifyResult"]


@dataclass(frozen=True, slots=True)
class Head:
    """The store's last position (0 when empty), its chain hash and time."""

    position: int
    chain_hash: str
    recorded_at: datetime | None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of `verify`: ok with the head digest, or the first position that does not match."""

    ok: bool
    checked: int
    digest: str
    first_bad_position: int | None = None
    message: str = ""


@runtime_checkable
class EventStore(Protocol):
    """An event store. Adapters raise only errors from explorer.store.errors."""

    @property
    def store_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def read_only(self) -> bool: ...

    def append(
        self,
        stream_id: str,
        stream_type: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion,
    ) -> AppendResult: ...

    def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendResult]: ...

    def read_stream(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> Iterator[RecordedEvent]: ...

    def read_all(
        self,
        from_position: int = 1,
        to_position: int | None = None,
        limit: int | None = None,
        filters: EventFilter | None = None,
    ) -> Iterator[RecordedEvent]: ...

    def head(self) -> Head: ...

    def streams(
        self, stream_type: str | None = None, offset: int = 0, limit: int | None = None, prefix: str = ""
    ) -> list[StreamInfo]: ...

    def stream_info(self, stream_id: str) -> StreamInfo | None: ...

    # -- what time travel and a browsing UI need beyond the core -----------------------------

    def read_stream_data(
        self, stream_id: str, from_version: int = 1, to_version: int | None = None
    ) -> Iterator[tuple[int, str, dict[str, Any]]]: ...

    def positions(
        self,
        from_position: int = 1,
        to_position: int | None = None,
        filters: EventFilter | None = None,
        limit: int | None = None,
    ) -> list[int]: ...

    def events_at(self, positions: Sequence[int]) -> list[RecordedEvent]: ...

    def position_at_time(self, when: datetime) -> int: ...

    def stream_version_at(self, stream_id: str, position: int) -> int: ...

    def count_streams(self, stream_type: str | None = None) -> int: ...

    def counts_by_stream_type(self) -> dict[str, tuple[int, int]]: ...

    def counts_by_event_type(self) -> dict[str, int]: ...

    def time_span(self) -> tuple[datetime, datetime] | None: ...

    def histogram(self, start: datetime, end: datetime, buckets: int) -> list[int]: ...

    def data_version(self) -> int: ...

    def verify(self) -> VerifyResult: ...

    def clone(self) -> EventStore: ...

    def close(self) -> None: ...
