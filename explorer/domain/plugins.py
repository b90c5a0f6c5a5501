"""Domain packs: what the explorer knows of a stream type (decider, commands, words for people)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from explorer.domain.decider import Decider
from explorer.domain.generic import generic_decider
from explorer.domain.iot import device

NameOf = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class DomainPack:
    """Everything the explorer knows of one stream type.

    Attributes:
        stream_type: the aggregate's kind.
        decider: its decider (generic merge patch for unknown types).
        commands: command classes, in menu order (empty: the type takes no commands).
        describe: event type, data, stream id, name lookup -> one sentence.
        labels: state path -> words a domain expert uses.
        known: False for the generic pack of an unknown stream type.
    """

    stream_type: str
    decider: Decider
    commands: tuple[type, ...] = ()
    describe: Callable[[str, dict[str, Any], str, NameOf | None], str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    known: bool = True

    def sentence(self, event_type: str, data: dict[str, Any], stream_id: str, name_of: NameOf | None = None) -> str:
        if self.describe is not None:
            return self.describe(event_type, data, stream_id, name_of)
        return generic_summary(event_type, data)

    def label(self, path: str) -> str:
        return self.labels.get(path, path)


def generic_summary(event_type: str, data: dict[str, Any], width: int = 80) -> str:
    """`Type key=value, …` cut to `width` characters: a summary for any event."""
    parts = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in list(data.items())[:6])
    text = f"{event_type} {parts}".strip()
    return text if len(text) <= width else text[: width - 1] + "…"


DEVICE_PACK = DomainPack(
    stream_type=device.STREAM_TYPE,
    decider=device.DECIDER,
    commands=device.COMMANDS,
    describe=device.describe,
    labels=device.LABELS,
)

_PACKS: dict[str, DomainPack] = {DEVICE_PACK.stream_type: DEVICE_PACK}


def register(pack: DomainPack) -> None:
    """Make a domain pack known (a plugin calls this on import)."""
    _PACKS[pack.stream_type] = pack


def pack_for(stream_type: str) -> DomainPack:
    """The pack of `stream_type`; a generic, read-only one for types no pack knows."""
    pack = _PACKS.get(stream_type)
    if pack is None:
        pack = DomainPack(stream_type=stream_type, decider=generic_decider(stream_type), known=False)
    return pack


def decider_for(stream_type: str) -> Decider:
    return pack_for(stream_type).decider
