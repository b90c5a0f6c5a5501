"""The generic fold for stream types no domain pack knows: JSON merge patch (RFC 7386) of data."""

from __future__ import annotations

from typing import Any

from explorer.domain.decider import Decider, DomainError, DomainEvent, State


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _evolve(state: State, event_type: str, data: dict[str, Any]) -> State:
    return merge_patch(state, data)


def _decide(command: Any, state: State) -> list[DomainEvent]:
    raise DomainError("this stream type has no domain pack, so it takes no commands")


def generic_decider(stream_type: str) -> Decider:
    """A read-only decider that folds any stream by merging each event's data."""
    return Decider(stream_type=stream_type, initial_state=dict, decide=_decide, evolve=_evolve)
