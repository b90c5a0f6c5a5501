"""The chain hash: H(n) = SHA-256(H(n-1) || canonical bytes of event n), H(0) = 32 zero bytes.

The canonical bytes of an event are
    JSON([position, stream_id, stream_type, version, type, recorded_at_us, event_id])
    + b"\\n" + data (canonical JSON text, as stored) + b"\\n" + metadata (likewise)
where JSON is compact with no spaces. Anyone can recompute it from the `events_readable`
view with any SHA-256 tool; docs/architecture.md spells it out.
"""

from __future__ import annotations

import hashlib

import orjson

GENESIS = "0" * 64


def canonical_json(value: object) -> str:
    """Sorted keys, compact, UTF-8: the one text form of data and metadata in native stores."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def event_bytes(
    position: int,
    stream_id: str,
    stream_type: str,
    version: int,
    event_type: str,
    recorded_at_us: int,
    event_id: str,
    data_text: str,
    metadata_text: str,
) -> bytes:
    """The canonical bytes of one event, as hashed into the chain."""
    head = orjson.dumps([position, stream_id, stream_type, version, event_type, recorded_at_us, event_id])
    return b"".join((head, b"\n", data_text.encode(), b"\n", metadata_text.encode()))


def next_hash(previous_hex: str, payload: bytes) -> str:
    """H(n) from H(n-1) (hex) and the canonical bytes of event n."""
    return hashlib.sha256(bytes.fromhex(previous_hex) + payload).hexdigest()
