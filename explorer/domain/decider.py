"""The Decider pattern: initial_state, decide(command, state) -> events, evolve(state, event) -> state.

Domain events are plain (type, data) pairs; anything with `.type` and `.data` (a recorded event
from any store) can be folded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

State = dict[str, Any]


class DomainError(Exception):
    """A command broke a rule of the domain; the message is for a domain expert."""


class EventLike(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """An event as `decide` returns it, before the store gives it a place."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decider:
    """A pure triple per stream type.

    Attributes:
        stream_type: the aggregate's kind (`Device`).
        initial_state: the state before the first event.
        decide: command, state -> events; raises DomainError.
        evolve: state, event type, event data -> new state (never mutates its input).
        version: bump when evolve changes meaning; derived data (snapshots) keyed by it is rebuilt.
    """

    stream_type: str
    initial_state: Callable[[], State]
    decide: Callable[[Any, State], list[DomainEvent]]
    evolve: Callable[[State, str, dict[str, Any]], State]
    version: int = 1

    def fold(self, events: Iterable[EventLike], state: State | None = None) -> State:
        """The state after `events`, starting from `state` (the initial state by default)."""
        evolve = self.evolve
        current = self.initial_state() if state is None else state
        for event in events:
            current = evolve(current, event.type, event.data)
        return current

    def fold_data(self, items: Iterable[tuple[int, str, dict[str, Any]]], state: State) -> State:
        """Fold (version, type, data) tuples: the fast path used by time travel."""
        evolve = self.evolve
        for _version, event_type, data in items:
            state = evolve(state, event_type, data)
        return state

    def preview(self, command: Any, state: State) -> tuple[list[DomainEvent], State]:
        """The events a command would record and the state they lead to (pure, instant)."""
        events = self.decide(command, state)
        return events, self.fold(events, state)


