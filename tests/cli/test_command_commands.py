"""`exec` exit codes (0 recorded, 1 rejected, 2 bad input, 3 conflict) and `simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import apsw
import pytest

from explorer.cli import main
from explorer.domain.iot import device as dev
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.cli import assert_one_error_line, run_cli

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
SA, SB = dev.device_stream(A), dev.device_stream(B)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "s.evstore"
    SQLiteEventStore.create(path).close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_exec_records_and_prints_positions(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "exec", str(path), "RegisterDevice", "--stream", SA, "name=cam-1", "kind=camera",
                       "owner=acme", "--actor", "ci")
    assert code == 0 and "position 1" in out
    run(capsys, "exec", str(path), "register", "--stream", SB, "name=gw", "kind=gateway", "owner=acme")
    code, out, _ = run(capsys, "exec", "--json", str(path), "connect", "--stream", SA, f"peer_id={SB}")
    result = json.loads(out)
    assert code == 0 and result["outcome"] == "recorded" and result["positions"] == [3] and result["version"] == 2
    with SQLiteEventStore.open(path, read_only=True) as store:
        events = list(store.read_all())
        assert events[0].metadata["actor"] == "ci" and events[2].data == {"peer_id": B}


def test_exec_rejection_exits_1_with_the_domain_message(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "exec", str(path), "rename", "--stream", SA, "name=x")
    assert code == 1 and "not registered" in err
    with SQLiteEventStore.open(path, read_only=True) as store:
        assert store.head().position == 0


def test_exec_conflict_exits_3_with_both_versions(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "exec", str(path), "RegisterDevice", "--stream", SA, "name=cam", "kind=camera", "owner=")
    code, _, err = run(capsys, "exec", str(path), "rename", "--stream", SA, "name=new", "--expected-version", "0")
    assert code == 3 and "version 1" in err and "expected 0" in err
    code, out, _ = run(capsys, "exec", str(path), "rename", "--stream", SA, "name=new", "--expected-version", "0",
                       "--json")
    assert code == 3 and json.loads(out) | {"message": ""} == {
        "outcome": "conflict", "stream_id": SA, "expected_version": 0, "actual_version": 1, "message": ""}


@pytest.mark.parametrize("argv, message", [
    (["explode", "--stream", SA], "takes no command"),
    (["rename", "--stream", SA, "title=x"], "no field 'title'"),
    (["rename", "--stream", SA], "needs name="),
    (["report-call", "--stream", SA, "direction=in", "number=1", "duration_s=soon"], "not a whole number"),
    (["connect", "--stream", SA, f"peer_id={B}", "peer_active=1"], "read from the store"),
    (["rename", "--stream", SA, "nonsense"], "name=value"),
])
def test_exec_bad_input_exits_2(path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = run(capsys, "exec", str(path), *argv)
    assert code == 2 and message in err


def test_exec_on_a_missing_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "exec", str(tmp_path / "nope.evstore"), "rename", "--stream", SA, "name=x")
    assert code == 2 and err.startswith("error:")


def test_simulate_prints_a_summary(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "simulate", str(path), "--rate", "1000", "--duration", "5", "--devices", "4",
                       "--seed", "3", "--max-events", "60", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["events"] >= 60 and {"conflicts", "rejections"} <= set(summary)
    code, _, err = run(capsys, "simulate", str(path), "--rate", "0")
    assert code == 2 and "--rate" in err


@pytest.mark.parametrize("option, value", [("--rate", "nan"), ("--rate", "inf"), ("--rate", "-1"),
                                           ("--duration", "nan"), ("--duration", "inf"), ("--duration", "0"),
                                           ("--duration", "-2"), ("--max-events", "-3"), ("--max-events", "0")])
def test_simulate_refuses_non_finite_and_non_positive_numbers(path: Path, option: str, value: str) -> None:
    """NaN passed `rate <= 0`: unthrottled writes, and `--duration nan` never stopped."""
    before = path.read_bytes()
    args = {"--rate": "1000", "--duration": "1", "--max-events": "5", option: value}
    line = assert_one_error_line(run_cli("simulate", str(path), *(x for kv in args.items() for x in kv)))
    assert option in line, line
    assert path.read_bytes() == before


def test_simulate_against_a_locked_store_says_so_and_exits_2(path: Path) -> None:
    """It printed "0 events from 1 commands ..." and exited 0; `exec` exits 2 with the reason."""
    holder = apsw.Connection(str(path))
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock past the busy timeout
        result = run_cli("simulate", str(path), "--duration", "1", "--max-events", "3", "--json")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = assert_one_error_line(result)
    assert "write lock" in line and "simulate stopped" in line and "0 events" in line, line
    summary = json.loads(result.stdout)
    assert summary["locked"] == 1 and summary["events"] == 0


def test_simulate_refuses_a_stream_it_can_issue_no_command_on(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--stream device-nope` ended at once with "0 events from 0 commands" and exit 0, no word why."""
    run(capsys, "exec", str(path), "register", "--stream", SA, "name=a", "kind=phone", "owner=acme")
    run(capsys, "exec", str(path), "register", "--stream", SB, "name=b", "kind=phone", "owner=acme")
    run(capsys, "exec", str(path), "decommission", "--stream", SB, "reason=lost")
    with SQLiteEventStore.open(path) as store:
        store.append("widget-1", "Widget", [NewEvent("WidgetCreated", {"color": "red"})], expected_version=0)
    before = path.read_bytes()
    for stream, line in [
        ("device-nope", "error: --stream device-nope: no such stream in this store; simulate works on the Device "
                        "streams there are (leave --stream out to let it choose or register them)"),
        ("widget-1", "error: --stream widget-1: a Widget stream; simulate issues commands on Device streams only"),
        (SB, f"error: --stream {SB}: the device is decommissioned; simulate can issue no command on it"),
    ]:
        code, out, err = run(capsys, "simulate", str(path), "--stream", stream, "--devices", "1", "--duration", "5")
        assert (code, out, err) == (2, "", line + "\n"), stream
    assert path.read_bytes() == before
    code, out, _ = run(capsys, "simulate", str(path), "--stream", SA, "--devices", "1", "--rate", "1000",
                       "--max-events", "5", "--json")
    assert code == 0 and json.loads(out)["events"] >= 5


@pytest.mark.parametrize("option", ["--stream", "--stream-type", "--actor", "--correlation-id", "--causation-id"])
def test_exec_refuses_an_empty_option_value(path: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    """`--stream ""` was tried as a stream (exit 1, "not registered"), `--actor ""` recorded no actor."""
    args = {"--stream": SA, option: ""}
    code, out, err = run(capsys, "exec", str(path), "register", "name=a", "kind=phone", "owner=acme",
                         *(x for kv in args.items() for x in kv))
    assert (code, out) == (2, "")
    assert err == (f"error: argument {option}: must not be empty "
                   "(see `event-explorer exec --help`)\n")
    code, _, err = run(capsys, "simulate", str(path), "--stream", "")
    assert code == 2 and err.startswith("error: argument --stream: must not be empty")


def test_exec_usage_errors_are_one_error_line(path: Path) -> None:
    """`exec` has its own parser, which printed its usage block first (the README promises one line)."""
    line = assert_one_error_line(run_cli("exec", str(path), "rename", "name=x"))
    assert line == "error: the following arguments are required: --stream (see `event-explorer exec --help`)"
