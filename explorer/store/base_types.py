"""The expected-version markers, kept apart so records and protocol can share them."""

from __future__ import annotations

from enum import Enum
from typing import Union


class _Marker(Enum):
    NO_STREAM = "no stream"
    ANY = "any"

    def __str__(self) -> str:
        return self.value


NO_STREAM = _Marker.NO_STREAM
"""The stream must not exist yet."""
ANY = _Marker.ANY
"""Append whatever the stream's version is."""

ExpectedVersion = Union[int, _Marker]
