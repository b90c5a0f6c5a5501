"""Errors of the store layer; each message is one sentence a user can act on."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every store error."""


class StoreOpenError(StoreError):
    """The path cannot be opened as an event store (missing, damaged, foreign, newer schema...)."""


class StoreReadOnlyError(StoreError):
    """A write was attempted on a store opened read-only."""


class StoreLockedError(StoreError):
    """Another process held the write lock for longer than the busy timeout."""


class ConcurrencyError(StoreError):
    """The stream's version was not the one the writer expected.

    Attributes:
        stream_id: the stream written to.
        expected: the expected version as given (an int, or "no stream" / "any").
        actual: the stream's current version (0 when it does not exist).
    """

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, but the writer expected "
            f"{_describe_expected(expected)}"
        )


def _describe_expected(expected: object) -> str:
    if isinstance(expected, int) and not isinstance(expected, bool):
        return f"version {expected}"
    return str(expected)
