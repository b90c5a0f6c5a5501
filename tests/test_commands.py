"""The write side: handle (fresh state, facts, expected version, metadata, retries) and preview."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer import __version__, commands
from explorer.domain.decider import DomainError
from explorer.domain.iot import device as dev
from explorer.store.errors import ConcurrencyError
from explorer.store.sqlite import SQLiteEventStore

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
C = "cccccccc-0000-4000-8000-000000000003"


@pytest.fixture
def store(tmp_path: Path) -> SQLiteEventStore:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as s:
        yield s


def register(store: SQLiteEventStore, device_id: str, name: str = "cam") -> commands.Recorded:
    return commands.handle(store, dev.device_stream(device_id), dev.RegisterDevice(device_id, name, "camera", "acme"))


def test_handle_records_events_with_full_metadata(store: SQLiteEventStore) -> None:
    recorded = commands.handle(store, dev.device_stream(A), dev.RegisterDevice(A, " cam-1 ", "camera", "acme"),
                               actor="dana", correlation_id="corr-1")
    assert (recorded.first_position, recorded.last_position, recorded.version) == (1, 1, 1)
    [event] = store.read_stream(dev.device_stream(A))
    assert event.type == dev.DEVICE_REGISTERED and event.data["name"] == "cam-1"
    meta = event.metadata
    assert meta["actor"] == "dana" and meta["command_id"] == recorded.command_id
    assert meta["correlation_id"] == "corr-1" and meta["causation_id"] == recorded.command_id
    assert meta["app_version"] == __version__ and meta["schema_version"] == commands.SCHEMA_VERSION
    assert meta["command"] == "RegisterDevice"
    uuid.UUID(event.event_id)


def test_actor_defaults_to_the_os_user(store: SQLiteEventStore) -> None:
    register(store, A)
    [event] = store.read_stream(dev.device_stream(A))
    assert event.metadata["actor"] == commands.default_actor() != ""


def test_decommission_records_several_events_at_consecutive_positions(store: SQLiteEventStore) -> None:
    register(store, A), register(store, B), register(store, C)
    commands.handle(store, dev.device_stream(A), dev.ConnectDevice(B))
    commands.handle(store, dev.device_stream(A), dev.ConnectDevice(C))
    recorded = commands.handle(store, dev.device_stream(A), dev.DecommissionDevice("broken"))
    assert list(recorded.positions) == [6, 7, 8]
    assert [e.type for e in store.read_all(6)] == [dev.DEVICE_DISCONNECTED] * 2 + [dev.DEVICE_DECOMMISSIONED]
    assert len({e.metadata["command_id"] for e in store.read_all(6)}) == 1


def test_connect_reads_the_peer_fact_from_the_store(store: SQLiteEventStore) -> None:
    register(store, A), register(store, B)
    with pytest.raises(DomainError, match="not registered"):
        commands.handle(store, dev.device_stream(A), dev.ConnectDevice(C, peer_active=True))  # C does not exist
    commands.handle(store, dev.device_stream(B), dev.DecommissionDevice("old"))
    with pytest.raises(DomainError, match="decommissioned"):
        commands.handle(store, dev.device_stream(A), dev.ConnectDevice(B))
    register(store, C)
    commands.handle(store, dev.device_stream(A), dev.ConnectDevice(C, peer_active=False))  # the fact is re-read
    assert commands.load(store, dev.device_stream(A)).state["peers"] == [C]


def test_rejection_writes_nothing(store: SQLiteEventStore) -> None:
    register(store, A, "cam")
    with pytest.raises(DomainError, match="already named"):
        commands.handle(store, dev.device_stream(A), dev.RenameDevice("cam"))
    assert store.head().position == 1


def test_expected_version_conflict_and_bounded_retry(tmp_path: Path, store: SQLiteEventStore) -> None:
    register(store, A)
    other = store.clone()
    commands.handle(other, dev.device_stream(A), dev.RenameDevice("by-someone-else"))
    with pytest.raises(ConcurrencyError) as raised:
        commands.handle(store, dev.device_stream(A), dev.RenameDevice("mine"), expected_version=1)
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert store.head().position == 2
    recorded = commands.handle(store, dev.device_stream(A), dev.RenameDevice("mine"), expected_version=1, retries=1)
    assert recorded.attempts == 2 and recorded.version == 3
    # A retry re-decides: a command that became invalid is rejected, never recorded blindly.
    commands.handle(other, dev.device_stream(A), dev.RenameDevice("same"))
    with pytest.raises(DomainError, match="already named"):
        commands.handle(store, dev.device_stream(A), dev.RenameDevice("same"), expected_version=3, retries=3)
    other.close()


def test_a_second_registration_of_the_same_id_is_rejected_on_the_fresh_state(store: SQLiteEventStore) -> None:
    other = store.clone()
    commands.handle(other, dev.device_stream(A), dev.RegisterDevice(A, "first", "camera", ""), expected_version=0)
    with pytest.raises(DomainError, match="already registered"):
        commands.handle(store, dev.device_stream(A), dev.RegisterDevice(A, "second", "camera", ""), expected_version=0)
    other.close()


def test_redecide_lists_what_changed(store: SQLiteEventStore) -> None:
    register(store, A), register(store, B)
    base = commands.load(store, dev.device_stream(A))
    commands.handle(store, dev.device_stream(A), dev.ConnectDevice(B))
    conflict = commands.redecide(store, dev.device_stream(A), dev.RenameDevice("new"),
                                 since_version=base.version, state_before=base.state)
    assert [e.type for e in conflict.intervening] == [dev.DEVICE_CONNECTED]
    assert [c.path for c in conflict.changes] == ["peers"]
    assert conflict.preview is not None and conflict.preview.state_after["name"] == "new"
    conflict = commands.redecide(store, dev.device_stream(A), dev.ConnectDevice(B),
                                 since_version=base.version, state_before=base.state)
    assert conflict.preview is None and "already connected" in conflict.reason


def test_command_by_name_accepts_the_usual_spellings() -> None:
    for name in ("ConnectDevice", "connect-device", "connect", "CONNECT_device"):
        assert commands.command_by_name(name) is dev.ConnectDevice
    with pytest.raises(DomainError, match="takes no command"):
        commands.command_by_name("explode")


# -- preview equals the real outcome when no one else wrote in between ------------------------

DEVICES = (A, B, C)
command_strategy = st.one_of(
    st.builds(lambda d, n, k: (d, dev.RegisterDevice(d, n, k, "owner")), st.sampled_from(DEVICES),
              st.sampled_from(["cam", " gw ", "", "x" * 101]), st.sampled_from([*dev.KINDS, "toaster"])),
    st.builds(lambda d, n: (d, dev.RenameDevice(n)), st.sampled_from(DEVICES), st.sampled_from(["cam", "gw", "sensor 9", ""])),
    st.builds(lambda d, p: (d, dev.ConnectDevice(p)), st.sampled_from(DEVICES), st.sampled_from([*DEVICES, "nobody"])),
    st.builds(lambda d, p: (d, dev.DisconnectDevice(p)), st.sampled_from(DEVICES), st.sampled_from(DEVICES)),
    st.builds(lambda d, direction, s: (d, dev.ReportCall(direction, "+44 1", s, "2026-10-01T10:00:00Z")),
              st.sampled_from(DEVICES), st.sampled_from(["in", "out", "up"]), st.integers(-2, 500)),
    st.builds(lambda d: (d, dev.DecommissionDevice("eol")), st.sampled_from(DEVICES)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(command_strategy, min_size=1, max_size=25))
def test_preview_equals_the_recorded_outcome(tmp_path_factory: pytest.TempPathFactory,
                                             sequence: list[tuple[str, object]]) -> None:
    path = tmp_path_factory.mktemp("prop") / "s.evstore"
    with SQLiteEventStore.create(path) as store:
        for device_id, command in sequence:
            stream_id = dev.device_stream(device_id)
            base = commands.load(store, stream_id)
            # The UI fills facts on its own connection too, then previews on the state it holds.
            try:
                expected = commands.preview(base.state, commands.with_facts(store, command))
            except DomainError as exc:
                with pytest.raises(DomainError) as raised:
                    commands.handle(store, stream_id, command, expected_version=base.version)
                assert str(raised.value) == str(exc)
                continue
            head = store.head().position
            recorded = commands.handle(store, stream_id, command, expected_version=base.version)
            assert recorded.first_position == head + 1
            stored = list(store.read_stream(stream_id, base.version + 1))
            assert [(e.type, e.data) for e in stored] == [(e.type, e.data) for e in expected.events]
            assert commands.load(store, stream_id).state == expected.state_after
            assert recorded.version == base.version + len(expected.events)


def test_a_writer_cache_folds_only_new_events_and_stays_correct(store: SQLiteEventStore) -> None:
    register(store, A), register(store, B)
    cache: dict[str, commands.Loaded] = {}
    commands.handle(store, dev.device_stream(A), dev.RenameDevice("one"), cache=cache)
    other = store.clone()
    commands.handle(other, dev.device_stream(A), dev.ConnectDevice(B))  # the cache did not see this
    commands.handle(store, dev.device_stream(A), dev.RenameDevice("two"), cache=cache)
    assert cache[dev.device_stream(A)].version == 3  # loaded at 3, before the append that made 4
    fresh = commands.load(store, dev.device_stream(A))
    assert commands.load(store, dev.device_stream(A), cache=cache) == fresh
    assert fresh.state["peers"] == [B] and fresh.state["name"] == "two" and fresh.version == 4
    other.close()
