"""The write side: event store ports (protocol, records, errors) and their adapters."""

from explorer.store.base import ANY, NO_STREAM, EventStore, ExpectedVersion
from explorer.store.errors import (
    ConcurrencyError,
    StoreError,
    StoreLockedError,
    StoreOpenError,
    StoreReadOnlyError,
)
from explorer.store.records import AppendRequest, AppendResult, EventFilter, NewEvent, RecordedEvent, StreamInfo

__all__ = [
    "ANY",
    "NO_STREAM",
    "AppendRequest",
    "AppendResult",
    "ConcurrencyError",
    "EventFilter",
    "EventStore",
    "ExpectedVersion",
    "NewEvent",
    "RecordedEvent",
    "StoreError",
    "StoreLockedError",
    "StoreOpenError",
    "StoreReadOnlyError",
    "StreamInfo",
]
