"""The Device decider: every rule says no with words a domain expert understands; evolve and fold."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.domain.decider import DomainError, DomainEvent
from explorer.domain.iot import device as dev

ME = "11111111-1111-4111-8111-111111111111"
PEER = "22222222-2222-4222-8222-222222222222"
OTHER = "33333333-3333-4333-8333-333333333333"
WHEN = "2026-10-01T12:00:00Z"


def run(*commands: Any, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decide and evolve each command in turn: the state after them all."""
    current = dev.initial_state() if state is None else state
    for command in commands:
        current = dev.DECIDER.fold(dev.decide(command, current), current)
    return current


def registered(**kw: Any) -> dict[str, Any]:
    return run(dev.RegisterDevice(ME, kw.get("name", "sensor-1"), kw.get("kind", "sensor"), "acme"))


def rejects(command: Any, state: dict[str, Any], words: str) -> str:
    with pytest.raises(DomainError) as err:
        dev.decide(command, state)
    assert words in str(err.value), str(err.value)
    return str(err.value)


ANY_COMMAND = [
    dev.RenameDevice("new name"),
    dev.ConnectDevice(PEER, True),
    dev.DisconnectDevice(PEER),
    dev.ReportCall("in", "+44 20 7946 0000", 10, WHEN),
    dev.DecommissionDevice("broken"),
]


@pytest.mark.parametrize("command", ANY_COMMAND, ids=lambda c: type(c).__name__)
def test_no_command_on_an_unregistered_device(command: Any) -> None:
    rejects(command, dev.initial_state(), "not registered")


@pytest.mark.parametrize("command", [*ANY_COMMAND, dev.RegisterDevice(ME, "again", "sensor", "acme")],
                         ids=lambda c: type(c).__name__)
def test_no_command_on_a_decommissioned_device(command: Any) -> None:
    state = run(dev.DecommissionDevice("end of life"), state=registered())
    assert state["status"] == "decommissioned"
    message = "already registered" if isinstance(command, dev.RegisterDevice) else "decommissioned"
    rejects(command, state, message)


def test_no_second_registration() -> None:
    rejects(dev.RegisterDevice(ME, "twin", "sensor", "acme"), registered(), "already registered")


def test_registration_needs_an_id_and_a_known_kind() -> None:
    rejects(dev.RegisterDevice("", "x", "sensor", "acme"), dev.initial_state(), "needs an id")
    rejects(dev.RegisterDevice(ME, "x", "toaster", "acme"), dev.initial_state(), "kind must be one of")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_names_have_1_to_100_characters(name: str) -> None:
    message = rejects(dev.RegisterDevice(ME, name, "sensor", "acme"), dev.initial_state(), "1 to 100 characters")
    assert f"has {len(name.strip())}" in message
    rejects(dev.RenameDevice(name), registered(), "1 to 100 characters")


def test_names_at_the_limits_are_accepted_and_trimmed() -> None:
    assert run(dev.RegisterDevice(ME, "  x  ", "sensor", " acme "))["name"] == "x"
    assert run(dev.RenameDevice("y" * 100), state=registered())["name"] == "y" * 100


def test_rename_to_the_same_name_is_refused() -> None:
    rejects(dev.RenameDevice("sensor-1"), registered(), "already named")


def test_no_connection_to_itself() -> None:
    rejects(dev.ConnectDevice(ME, True), registered(), "cannot connect to itself")


def test_no_second_connection_to_the_same_peer() -> None:
    state = run(dev.ConnectDevice(PEER, True), state=registered())
    rejects(dev.ConnectDevice(PEER, True), state, "already connected")


def test_no_connection_to_an_inactive_peer_or_to_nobody() -> None:
    rejects(dev.ConnectDevice(PEER, False), registered(), "not registered or is decommissioned")
    rejects(dev.ConnectDevice("", True), registered(), "choose a peer")


def test_no_disconnect_of_a_peer_it_is_not_connected_to() -> None:
    rejects(dev.DisconnectDevice(PEER), registered(), "not connected")


def test_call_rules() -> None:
    state = registered()
    rejects(dev.ReportCall("in", "+1", -1, WHEN), state, "cannot be negative")
    rejects(dev.ReportCall("sideways", "+1", 1, WHEN), state, "direction")
    rejects(dev.ReportCall("in", "  ", 1, WHEN), state, "needs a number")
    rejects(dev.ReportCall("in", "+1", 1, "yesterday"), state, "not a date and time")
    assert run(dev.ReportCall("out", "+1", 0, WHEN), state=state)["calls_out"] == 1  # zero seconds is fine


def test_an_unknown_command_is_refused() -> None:
    rejects(object(), registered(), "does not take the command")


def test_connect_and_disconnect() -> None:
    state = run(dev.ConnectDevice(PEER, True), dev.ConnectDevice(OTHER, True), state=registered())
    assert state["peers"] == sorted([PEER, OTHER])
    state = run(dev.DisconnectDevice(PEER), state=state)
    assert state["peers"] == [OTHER]


def test_decommission_disconnects_every_peer_first() -> None:
    state = run(dev.ConnectDevice(PEER, True), dev.ConnectDevice(OTHER, True), state=registered())
    events = dev.decide(dev.DecommissionDevice("  stolen "), state)
    assert events == [
        *[DomainEvent(dev.DEVICE_DISCONNECTED, {"peer_id": p}) for p in sorted([PEER, OTHER])],
        DomainEvent(dev.DEVICE_DECOMMISSIONED, {"reason": "stolen"}),
    ]
    after = dev.DECIDER.fold(events, state)
    assert after["peers"] == [] and after["status"] == "decommissioned"
    assert after["decommission_reason"] == "stolen"


def test_evolve_every_event_type() -> None:
    state = dev.initial_state()
    assert state["status"] == "unregistered"
    state = dev.evolve(state, dev.DEVICE_REGISTERED, {"device_id": ME, "name": "cam", "kind": "camera", "owner": "o"})
    assert (state["device_id"], state["name"], state["kind"], state["owner"], state["status"]) == \
        (ME, "cam", "camera", "o", "active")
    state = dev.evolve(state, dev.DEVICE_RENAMED, {"name": "cam-2"})
    assert state["name"] == "cam-2"
    call = {"direction": "in", "number": "+1", "duration_s": 30, "occurred_at": WHEN}
    state = dev.evolve(state, dev.CALL_REPORTED, call)
    state = dev.evolve(state, dev.CALL_REPORTED, {**call, "direction": "out", "duration_s": 12})
    assert (state["calls_in"], state["calls_out"], state["call_seconds"]) == (1, 1, 42)
    assert state["last_call"]["direction"] == "out"
    state = dev.evolve(state, dev.DEVICE_CONNECTED, {"peer_id": PEER})
    state = dev.evolve(state, dev.DEVICE_CONNECTED, {"peer_id": PEER})  # a set: once
    assert state["peers"] == [PEER]
    state = dev.evolve(state, dev.DEVICE_DISCONNECTED, {"peer_id": PEER})
    assert state["peers"] == []
    state = dev.evolve(state, dev.DEVICE_DECOMMISSIONED, {"reason": "old"})
    assert (state["status"], state["decommission_reason"]) == ("decommissioned", "old")
    assert dev.evolve(state, "SomethingNew", {"x": 1}) == state  # unknown events change nothing


def test_evolve_tolerates_damaged_event_data() -> None:
    """A row whose JSON could not be decoded arrives as {}: replay goes on instead of crashing."""
    state = registered()
    for event_type in dev.EVENT_TYPES:
        dev.evolve(state, event_type, {})


def test_evolve_never_mutates_its_input() -> None:
    state = run(dev.ConnectDevice(PEER, True), state=registered())
    frozen = copy.deepcopy(state)
    for event_type, data in [(dev.DEVICE_CONNECTED, {"peer_id": OTHER}), (dev.DEVICE_DISCONNECTED, {"peer_id": PEER}),
                             (dev.CALL_REPORTED, {"direction": "in", "duration_s": 5}),
                             (dev.DEVICE_RENAMED, {"name": "z"}), (dev.DEVICE_DECOMMISSIONED, {"reason": ""})]:
        dev.evolve(state, event_type, data)
        assert state == frozen


def test_decide_is_pure() -> None:
    state = registered()
    frozen = copy.deepcopy(state)
    assert dev.decide(dev.RenameDevice("a"), state) == dev.decide(dev.RenameDevice("a"), state)
    assert state == frozen


commands = st.one_of(
    st.builds(dev.RenameDevice, st.text(min_size=0, max_size=3)),
    st.builds(dev.ConnectDevice, st.sampled_from([ME, PEER, OTHER]), st.booleans()),
    st.builds(dev.DisconnectDevice, st.sampled_from([PEER, OTHER])),
    st.builds(dev.ReportCall, st.sampled_from(["in", "out", "up"]), st.sampled_from(["+1", ""]),
              st.integers(-2, 100), st.just(WHEN)),
    st.builds(dev.DecommissionDevice, st.text(max_size=3)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(commands, max_size=15))
def test_any_command_sequence_keeps_the_invariants(sequence: list[Any]) -> None:
    """Whatever is asked: decide either refuses or records events whose fold keeps the rules."""
    state = registered()
    history: list[DomainEvent] = []
    for command in sequence:
        try:
            events = dev.decide(command, state)
        except DomainError as exc:
            assert str(exc)
            continue
        history += events
        state = dev.DECIDER.fold(events, state)
        assert ME not in state["peers"] and len(set(state["peers"])) == len(state["peers"])
        assert state["calls_in"] + state["calls_out"] >= 0 and state["call_seconds"] >= 0
        if state["status"] == "decommissioned":
            assert state["peers"] == []
    # states are plain JSON-able data, and the fold of the whole history gives the same state
    assert orjson.loads(orjson.dumps(state)) == state
    assert dev.DECIDER.fold(history, registered()) == state


def test_preview_is_decide_then_fold() -> None:
    events, after = dev.DECIDER.preview(dev.RenameDevice("renamed"), registered())
    assert [e.type for e in events] == [dev.DEVICE_RENAMED] and after["name"] == "renamed"


def test_fold_data_matches_fold() -> None:
    events = dev.decide(dev.RegisterDevice(ME, "n", "sensor", "o"), dev.initial_state())
    rows = [(1, e.type, e.data) for e in events]
    assert dev.DECIDER.fold_data(rows, dev.initial_state()) == dev.DECIDER.fold(events)


def test_describe_sentences() -> None:
    names = {dev.device_stream(PEER): "gateway-3"}
    sentence = dev.describe(dev.DEVICE_CONNECTED, {"peer_id": PEER}, dev.device_stream(ME), names.get)
    assert sentence == f"Device {ME[:8]} connected to gateway-3"
    assert "Incoming call from +1" in dev.describe(dev.CALL_REPORTED, {"direction": "in", "number": "+1",
                                                                       "duration_s": 3}, "device-x")
    assert "decommissioned (no reason given)" in dev.describe(dev.DEVICE_DECOMMISSIONED, {}, "device-x")
    assert dev.device_id_of(dev.device_stream(ME)) == ME and dev.device_stream(dev.device_stream(ME)) == \
        dev.device_stream(ME)


def test_command_fields_drive_forms() -> None:
    fields = dict(dev.command_fields(dev.ReportCall))
    assert list(fields) == ["direction", "number", "duration_s", "occurred_at"]
    assert fields["direction"]["choices"] == dev.DIRECTIONS and fields["duration_s"]["minimum"] == 0
