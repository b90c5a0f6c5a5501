"""The foundation's command line: info, events, state, diff, history, verify, demo, migrate.

Bad input runs in a real subprocess (`python -m explorer`), as a user meets it: exit 2, one
`error:` line, no traceback, and the file's bytes unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from explorer import __version__
from explorer.cli import main as cli_main
from explorer.cli import store_commands
from explorer.domain.iot import device as dev
from explorer.domain.plugins import pack_for
from explorer.store import schema
from explorer.store import sqlite as sqlite_module
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.cli import assert_one_error_line, run_cli, run_cli_batch
from tests.helpers.stores import make_demo

EVENT_FIELDS = {"position", "stream_id", "stream_type", "version", "type", "recorded_at", "data", "metadata",
                "event_id", "chain_hash"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("cli") / "demo.evstore"
    make_demo(path, devices=15, events=800)
    yield path


@pytest.fixture
def copy(demo: Path, tmp_path: Path) -> Path:
    target = tmp_path / "demo.evstore"
    shutil.copy(demo, target)
    return target


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    try:
        code = cli_main(list(args))
    except SystemExit as exc:  # argparse: usage errors and --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def busiest(path: Path) -> str:
    with SQLiteEventStore.open(path, read_only=True) as store:
        return max(store.streams(dev.STREAM_TYPE), key=lambda s: s.version).stream_id


# -- info -----------------------------------------------------------------------------------------


def test_info_json(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "info", str(demo), "--json")
    assert code == 0 and err == ""
    info = json.loads(out)
    with SQLiteEventStore.open(demo, read_only=True) as store:
        head = store.head()
        assert info["store_id"] == store.store_id and info["schema_version"] == schema.USER_VERSION
        assert info["head_position"] == info["events"] == head.position
        assert info["digest"] == head.chain_hash
        assert info["streams"] == store.count_streams()
        assert info["stream_types"] == {"Device": {"streams": 15, "events": head.position}}
        assert sum(info["event_types"].values()) == head.position
        assert info["first_recorded_at"].endswith("Z") and info["first_recorded_at"] < info["last_recorded_at"]


def test_info_text(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "info", str(demo))
    assert code == 0
    for word in ("store", "id", "schema", "head", "digest", "DeviceRegistered", "Device"):
        assert word in out


def test_info_of_an_empty_store_says_no_events_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It printed `recorded     None .. None`."""
    path = tmp_path / "empty.evstore"
    SQLiteEventStore.create(path).close()
    code, out, err = cli(capsys, "info", str(path))
    assert code == 0 and err == ""
    assert "recorded     no events yet\n" in out and "None" not in out
    code, out, _ = cli(capsys, "info", str(path), "--json")
    assert json.loads(out)["first_recorded_at"] is None  # JSON keeps its null


# -- events ---------------------------------------------------------------------------------------


def test_events_without_limit_lists_every_event_across_pages(demo: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_commands, "PAGE", 7)  # many pages on a small store
    code, out, _ = cli(capsys, "events", str(demo), "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    with SQLiteEventStore.open(demo, read_only=True) as store:
        assert [e["position"] for e in lines] == list(range(1, store.head().position + 1))
        assert lines[5] == store.events_at([6])[0].to_json()
    assert set(lines[0]) == EVENT_FIELDS
    code, out, _ = cli(capsys, "events", str(demo), "--json", "--limit", "10", "--from-position", "5")
    assert [json.loads(line)["position"] for line in out.splitlines()] == list(range(5, 15))
    code, out, _ = cli(capsys, "events", str(demo), "--json", "--limit", "0")
    assert code == 0 and out == ""


def test_events_filters(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = busiest(demo)

    def positions(*args: str) -> list[int]:
        code, out, err = cli(capsys, "events", str(demo), "--json", *args)
        assert code == 0, err
        return [json.loads(line)["position"] for line in out.splitlines()]

    with SQLiteEventStore.open(demo, read_only=True) as store:
        events = list(store.read_all())
    assert positions("--stream", stream) == [e.position for e in events if e.stream_id == stream]
    assert positions("--type", "DeviceRenamed", "--type", "DeviceDecommissioned") == \
        [e.position for e in events if e.type in ("DeviceRenamed", "DeviceDecommissioned")]
    assert positions("--stream-type", "Device", "--from-position", "10", "--to-position", "20") == list(range(10, 21))
    since, until = events[99].recorded_at, events[199].recorded_at
    expected = [e.position for e in events if since <= e.recorded_at <= until]
    assert positions("--since", since.isoformat(), "--until", until.isoformat()) == expected
    assert positions("--stream", "device-none") == []


def test_events_table(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "events", str(demo), "--limit", "5")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["position", "recorded_at", "stream"]
    assert len(lines) == 6 and "registered" in lines[1]


@pytest.fixture(scope="module")
def long_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More events than the table's first block (store_commands.TABLE_SAMPLE)."""
    path = tmp_path_factory.mktemp("cli-long") / "long.evstore"
    make_demo(path, devices=15, events=store_commands.TABLE_SAMPLE + 300)
    return path


def test_events_table_has_one_header_and_keeps_its_columns(long_demo: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """It repeated the header every 1,000 rows, and the columns moved from block to block. Now the
    widths are the first rows' (position and version as wide as the head's number) and stay; a
    wider cell later (a rarer, longer type) shifts the rest of its own row only, never cut."""
    code, out, _ = cli(capsys, "events", str(long_demo))
    header, *rows = out.splitlines()
    assert code == 0 and len(rows) == store_commands.TABLE_SAMPLE + 300
    assert header.split() == ["position", "recorded_at", "stream", "ver", "type", "actor", "summary"]
    starts = [header.index(name) for name in header.split()]
    widths = [b - a - 2 for a, b in zip(starts, starts[1:])]
    for number, row in enumerate(rows, start=1):
        cells = row.split(None, 6)  # no cell but the summary holds a space in the demo
        assert cells[0] == str(number), row
        assert row == "  ".join([*(cell.ljust(w) for cell, w in zip(cells, widths)), cells[6]]), row


@pytest.mark.parametrize("args", [["events", "--since", ""], ["events", "--until", " "], ["events", "--stream", ""],
                                  ["events", "--type", ""], ["events", "--stream-type", ""],
                                  ["state", "device-x", "--at-time", ""]])
def test_an_empty_option_value_is_a_usage_error(demo: Path, capsys: pytest.CaptureFixture[str],
                                                args: list[str]) -> None:
    """`events --since ""` applied no filter and `state --at-time ""` showed the head."""
    command, *rest = args
    code, out, err = cli(capsys, command, str(demo), *rest)
    assert (code, out) == (2, "")
    assert err == (f"error: argument {rest[-2]}: must not be empty "
                   f"(see `event-explorer {command} --help`)\n")


def test_events_bad_arguments(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "events", str(demo), "--since", "last tuesday")
    assert code == 2 and err.strip().startswith("error:") and "ISO 8601" in err
    code, _, err = cli(capsys, "events", str(demo), "--limit", "-3")
    assert code == 2 and "--limit" in err


# -- state, diff, history ---------------------------------------------------------------------------


def test_state_json_is_exactly_the_state(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = busiest(demo)
    with SQLiteEventStore.open(demo, read_only=True) as store:
        events = list(store.read_stream(stream))
    fold = pack_for("Device").decider.fold
    code, out, _ = cli(capsys, "state", str(demo), stream, "--json")
    assert code == 0 and json.loads(out) == fold(events)
    code, out, _ = cli(capsys, "state", str(demo), stream, "--json", "--at-version", "3")
    assert json.loads(out) == fold(events[:3])
    code, out, _ = cli(capsys, "state", str(demo), stream, "--json", "--at-position", str(events[4].position))
    assert json.loads(out) == fold(events[:5])
    code, out, _ = cli(capsys, "state", str(demo), stream, "--json", "--at-time", events[6].recorded_at.isoformat())
    assert json.loads(out) == fold(events[:7])
    code, out, _ = cli(capsys, "state", str(demo), stream)
    assert code == 0 and f"{stream} (Device) at version {len(events)}" in out and "Incoming calls" in out


def test_state_of_an_unknown_stream(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "state", str(demo), "device-nope")
    assert code == 2 and out == "" and err.strip() == "error: no stream 'device-nope' in this store"


def test_state_at_options_exclude_each_other(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "state", str(demo), busiest(demo), "--at-version", "1", "--at-position", "2")
    assert code == 2 and "not allowed with" in err


def test_state_and_diff_refuse_versions_and_positions_outside_the_stream(
        demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """They were clamped silently (`--at-version -1` showed version 0), where `graph` said no."""
    stream = busiest(demo)
    with SQLiteEventStore.open(demo, read_only=True) as store:
        last, head = store.stream_info(stream).version, store.head().position
    versions = f"is outside the versions of {stream} (0 to {last:,})"
    for args, line in [
        (["state", "--at-version", "-1"], f"--at-version -1 {versions}"),
        (["state", "--at-version", str(last + 1)], f"--at-version {last + 1} {versions}"),
        (["state", "--at-position", "-1"], f"--at-position -1 is outside the store (positions 0 to {head:,})"),
        (["state", "--at-position", "999999"], f"--at-position 999999 is outside the store (positions 0 to {head:,})"),
        (["diff", "--from-version", "-5", "--to-version", "2"], f"--from-version -5 {versions}"),
        (["diff", "--from-version", "1", "--to-version", str(last + 9)], f"--to-version {last + 9} {versions}"),
    ]:
        code, out, err = cli(capsys, args[0], str(demo), stream, *args[1:])
        assert (code, out, err) == (2, "", f"error: {line}\n"), args
    for version in (0, last):  # the ends of the range still work
        code, out, _ = cli(capsys, "state", str(demo), stream, "--at-version", str(version))
        assert code == 0 and out.startswith(f"{stream} (Device) at version {version}\n")
    code, out, _ = cli(capsys, "state", str(demo), stream, "--at-position", str(head))
    assert code == 0 and out.startswith(f"{stream} (Device) at version {last}\n")
    code, out, _ = cli(capsys, "diff", str(demo), stream, "--from-version", "0", "--to-version", str(last))
    assert code == 0 and out.startswith(f"{stream}: version 0 -> {last},")


def test_diff(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = busiest(demo)
    code, out, _ = cli(capsys, "diff", str(demo), stream, "--from-version", "1", "--to-version", "4", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["stream_id"], result["from_version"], result["to_version"]) == (stream, 1, 4)
    assert result["changes"] and all(set(c) == {"path", "kind", "old", "new"} for c in result["changes"])
    code, out, _ = cli(capsys, "diff", str(demo), stream, "--from-version", "1", "--to-version", "4")
    assert code == 0 and "version 1 -> 4" in out
    code, out, _ = cli(capsys, "diff", str(demo), stream, "--from-version", "2", "--to-version", "2", "--json")
    assert json.loads(out)["changes"] == []


def test_history(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = busiest(demo)
    code, out, _ = cli(capsys, "history", str(demo), stream, "name", "--json")
    assert code == 0
    changes = json.loads(out)
    assert changes[0]["type"] == "DeviceRegistered" and changes[0]["old"] == "" and changes[0]["version"] == 1
    assert set(changes[0]) == {"position", "version", "recorded_at", "type", "old", "new"}
    code, out, _ = cli(capsys, "history", str(demo), stream, "calls_in")
    assert code == 0 and "CallReported" in out
    code, _, err = cli(capsys, "history", str(demo), stream, "nmae")
    assert code == 2 and "no field 'nmae' in this stream's state; its fields: device_id, name" in err


# -- verify -----------------------------------------------------------------------------------------


def test_verify_intact_and_tampered(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteEventStore.open(copy, read_only=True) as store:
        digest, head = store.head().chain_hash, store.head().position
    code, out, _ = cli(capsys, "verify", str(copy))
    assert code == 0 and digest in out
    code, out, _ = cli(capsys, "verify", str(copy), "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "checked": head, "digest": digest,
                                             "first_bad_position": None, "message": ""}
    db = apsw.Connection(str(copy))
    db.execute("DROP TRIGGER events_are_immutable_update")
    db.execute("UPDATE events SET metadata = replace(metadata, 'demo', 'dem0') WHERE position = 321")
    db.close()
    code, out, err = cli(capsys, "verify", str(copy))
    assert code == 1 and "position 321" in err
    code, out, _ = cli(capsys, "verify", str(copy), "--json")
    result = json.loads(out)
    assert code == 1 and result["ok"] is False and result["first_bad_position"] == 321 and result["digest"] is None


# -- demo -------------------------------------------------------------------------------------------


def test_demo_is_deterministic(tmp_path: Path) -> None:
    args = ["--devices", "8", "--events", "300", "--days", "3", "--seed", "42"]
    first, second, other = run_cli_batch([["demo", str(tmp_path / "a.evstore"), *args],
                                          ["demo", str(tmp_path / "b.evstore"), *args],
                                          ["demo", str(tmp_path / "c.evstore"), *args[:-1], "43"]])
    assert first[0] == second[0] == other[0] == 0, first
    digest = first[1].split("digest ")[1].strip()
    assert second[1].split("digest ")[1].strip() == digest
    assert other[1].split("digest ")[1].strip() != digest
    assert "events, 8 devices" in first[1]
    for name in ("a", "b"):
        with SQLiteEventStore.open(tmp_path / f"{name}.evstore", read_only=True) as store:
            assert store.verify().digest == digest


def test_demo_to_the_default_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "demo", "--devices", "5", "--events", "50")
    from explorer import paths

    assert code == 0 and paths.demo_store_path().exists() and str(paths.demo_store_path()) in out


def test_demo_refuses_to_overwrite_and_bad_sizes(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = copy.read_bytes()
    code, _, err = cli(capsys, "demo", str(copy))
    assert code == 2 and "already exists" in err and copy.read_bytes() == before
    code, _, err = cli(capsys, "demo", str(tmp_path / "tiny.evstore"), "--devices", "10", "--events", "5")
    assert code == 2 and "too few" in err and not (tmp_path / "tiny.evstore").exists()
    code, _, err = cli(capsys, "demo", str(tmp_path / "tiny.evstore"), "--devices", "2")
    assert code == 2 and "at least 4 devices" in err


# -- migrate ----------------------------------------------------------------------------------------


def test_migrate(copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = cli(capsys, "migrate", str(copy))
    assert code == 0 and f"schema version {schema.USER_VERSION}" in out  # already current: nothing to do
    migrations = {**schema.MIGRATIONS, 2: ("CREATE TABLE annotations (position INTEGER PRIMARY KEY, note TEXT)",)}
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(sqlite_module, "USER_VERSION", 2)
    code, _, err = cli(capsys, "info", str(copy))
    assert code == 2 and "older schema version 1" in err and "event-explorer migrate" in err
    code, out, _ = cli(capsys, "migrate", str(copy))
    assert code == 0 and "schema version 2" in out and Path(f"{copy}.bak-v1").exists()
    code, out, _ = cli(capsys, "verify", str(copy))
    assert code == 0


# -- the program ---------------------------------------------------------------------------------------


def test_version_and_usage() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"event-explorer {__version__}"
    missing, unknown, helped = run_cli_batch([["info"], ["info", "x.evstore", "--frobnicate"], ["--help"]])
    assert missing[0] == 2 and "Traceback" not in missing[2]
    assert unknown[0] == 2 and "Traceback" not in unknown[2] and "--frobnicate" in unknown[2]
    assert helped[0] == 0 and "verify" in helped[1]


# -- bad input, as a user meets it ----------------------------------------------------------------------


def _not_a_store(path: Path) -> None:
    db = apsw.Connection(str(path))
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, taken TEXT)")
    db.close()


def _truncated(path: Path, demo: Path) -> None:
    data = demo.read_bytes()
    path.write_bytes(data[: len(data) // 3])


BAD_INPUTS: dict[str, tuple[Any, str]] = {
    "missing": (lambda p, d: None, "no such file"),
    "directory": (lambda p, d: p.mkdir(), "is a directory"),
    "empty": (lambda p, d: p.write_bytes(b""), "empty"),
    "text": (lambda p, d: p.write_text("id,name\n1,foo\n"), "not an SQLite database"),
    "truncated": (_truncated, "truncated"),
    "foreign-sqlite": (lambda p, d: _not_a_store(p), "not an Event Explorer store"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_and_exit_2(case: str, demo: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    make, words = BAD_INPUTS[case]
    path = tmp_path / "input.evstore"
    make(path, demo)
    before = sorted((p.name, p.read_bytes() if p.is_file() else b"") for p in tmp_path.rglob("*"))
    commands = [["info", str(path)], ["verify", str(path)], ["events", str(path)], ["state", str(path), "device-1"],
                ["history", str(path), "device-1", "name"], ["migrate", str(path)]]
    # in this process, every reading and writing command ...
    for args in commands:
        code, out, err = cli(capsys, *args)
        assert (code, out) == (2, ""), (args, code, out, err)
        assert err.count("\n") == 1 and err.startswith("error: ") and words in err and str(path) in err
    # ... and once as a user meets it, in a fresh process: no traceback, one line
    line = assert_one_error_line(run_cli(*commands[list(BAD_INPUTS).index(case) % 3]))
    assert words in line
    assert sorted((p.name, p.read_bytes() if p.is_file() else b"") for p in tmp_path.rglob("*")) == before


def test_a_malformed_json_row_is_reported_and_the_rest_stays_readable(copy: Path) -> None:
    db = apsw.Connection(str(copy))
    db.execute("DROP TRIGGER events_are_immutable_update")
    row = db.execute("SELECT position, stream_key FROM events WHERE type = 'DeviceConnected' LIMIT 1").fetchone()
    db.execute("UPDATE events SET data = '{\"peer_id\": ' WHERE position = ?", (row[0],))
    stream = db.execute("SELECT stream_id FROM streams WHERE stream_key = ?", (row[1],)).fetchone()[0]
    db.close()
    bad = row[0]
    with SQLiteEventStore.open(copy, read_only=True) as store:
        head = store.head().position
    before = copy.read_bytes()
    events = run_cli("events", str(copy), "--json")  # as a user meets it: a fresh process
    assert events.returncode == 1
    problems = events.stderr.strip().splitlines()
    assert len(problems) == 1 and problems[0].startswith(f"error: position {bad}: event data is not valid JSON")
    lines = [json.loads(line) for line in events.stdout.splitlines()]
    assert len(lines) == head and "problem" in lines[bad - 1] and lines[bad - 1]["data"] == {}
    assert all("problem" not in e for e in lines if e["position"] != bad)
    info, state, verify = run_cli_batch([["info", str(copy)], ["state", str(copy), stream, "--json"],
                                         ["verify", str(copy)]])
    assert info[0] == 0
    assert state[0] == 0 and json.loads(state[1])["status"] in ("active", "decommissioned")
    assert verify[0] == 1 and f"position {bad}" in verify[2]
    assert copy.read_bytes() == before


def test_damaged_pages_inside_a_store(copy: Path) -> None:
    """The header is fine, pages in the middle are not: reads fail in one line, verify says so."""
    data = bytearray(copy.read_bytes())
    pages = len(data) // 4096
    for page in range(pages // 2, pages // 2 + 3):
        data[page * 4096:(page + 1) * 4096] = b"\x5a" * 4096
    copy.write_bytes(bytes(data))
    events, verify = run_cli_batch([["events", str(copy), "--json"], ["verify", str(copy)]])
    assert events[0] == 2 and events[2].startswith("error: the store file is damaged") and events[2].count("\n") == 1
    assert verify[0] == 1 and "integrity_check failed" in verify[2]
    assert copy.read_bytes() == bytes(data)


def test_integer_options_beyond_any_position_are_one_error_line(demo: Path) -> None:
    """Numbers too big for SQLite used to raise OverflowError with a traceback."""
    huge = "99999999999999999999999"
    before = demo.read_bytes()
    results = [run_cli("events", str(demo), "--from-position", huge),
               run_cli("events", str(demo), "--to-position", huge),
               run_cli("events", str(demo), "--limit", huge),
               run_cli("search", str(demo), "night", "--limit", huge),
               run_cli("simulate", str(demo), "--devices", huge, "--duration", "1")]
    for result, option in zip(results, ["--from-position", "--to-position", "--limit", "--limit", "--devices"]):
        line = assert_one_error_line(result)
        assert option in line and "whole number" in line, line
    assert demo.read_bytes() == before
    code, out, _ = run_cli_batch([["events", str(demo), "--from-position", str(2**63 - 1)]])[0]
    assert code == 0


@pytest.mark.parametrize("days", ["0", "-3", "99999999999999999999999"])
def test_demo_refuses_a_span_of_no_days_or_too_many(tmp_path: Path, days: str) -> None:
    """--days 0 printed "made ...: 0 events" and left an empty store; a huge one raised OverflowError."""
    target = tmp_path / "d.evstore"
    line = assert_one_error_line(run_cli("demo", str(target), "--devices", "5", "--events", "100", "--days", days))
    assert "days" in line and days in line, line
    assert list(tmp_path.iterdir()) == []


def _interrupt() -> None:
    raise KeyboardInterrupt


def _interrupt_under_a_rollback() -> None:
    try:  # Ctrl+C inside an append: the ROLLBACK that follows fails and hides it
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise apsw.SQLError("SQLError: cannot rollback - no transaction is active") from None


def _disk_full() -> None:
    raise apsw.FullError("FullError: database or disk is full")


@pytest.mark.parametrize(("fail", "code", "words"), [(_interrupt, 130, "interrupted"),
                                                     (_interrupt_under_a_rollback, 130, "interrupted"),
                                                     (_disk_full, 2, "disk is full")])
def test_a_demo_that_does_not_finish_leaves_no_file_and_can_be_rerun(
        fail: Any, code: int, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C used to leave a valid-looking partial store at the target, which a rerun refused."""
    from explorer import demo as demo_module

    real = demo_module.generate_demo

    def failing(store: SQLiteEventStore, **kwargs: Any) -> Any:
        return real(store, **{**kwargs, "progress": lambda done, total: fail()})  # after events were committed

    monkeypatch.setattr(demo_module, "generate_demo", failing)
    target = tmp_path / "int.evstore"
    result, out, err = cli(capsys, "demo", str(target), "--devices", "5", "--events", "100")
    assert (result, out) == (code, "") and err.count("\n") == 1 and err.startswith("error: "), (result, err)
    assert words in err and "nothing was written" in err
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(demo_module, "generate_demo", real)
    result, out, _ = cli(capsys, "demo", str(target), "--devices", "5", "--events", "100")
    assert result == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["int.evstore"]
    with SQLiteEventStore.open(target, read_only=True) as store:
        assert store.verify().ok and store.head().position > 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_as_the_store_is_refused_at_once(tmp_path: Path) -> None:
    """`info` on a FIFO blocked forever reading the header; every store command refuses it."""
    fifo = tmp_path / "p.evstore"
    os.mkfifo(fifo)
    commands = [["info", str(fifo)], ["verify", str(fifo)], ["events", str(fifo)], ["migrate", str(fifo)],
                ["state", str(fifo), "device-1"], ["project", str(fifo)], ["search", str(fifo), "x"],
                ["simulate", str(fifo), "--duration", "1"],
                ["exec", str(fifo), "rename", "--stream", "device-1", "name=x"]]
    for argv, (code, out, err) in zip(commands, run_cli_batch(commands)):  # its timeout ends a hang
        assert (code, out, err.count("\n")) == (2, "", 1) and err.startswith("error: "), (argv, code, err)
        assert "FIFO" in err and "not a regular file" in err and str(fifo) in err, (argv, err)
    line = assert_one_error_line(run_cli("info", str(fifo)))
    assert "FIFO" in line
    assert [p.name for p in tmp_path.iterdir()] == ["p.evstore"]


def test_history_of_a_misspelt_nested_field_is_an_error(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`last_call.durration` gave an empty table and exit 0; only a top-level typo was caught."""
    stream = busiest(demo)
    code, out, err = cli(capsys, "history", str(demo), stream, "last_call.durration")
    assert (code, out) == (2, "") and err.count("\n") == 1, (code, out, err)
    assert err.startswith("error: no field 'durration' under 'last_call'") and "duration_s" in err
    code, out, err = cli(capsys, "history", str(demo), stream, "last_call.duration_s.seconds")
    assert code == 2 and "'last_call.duration_s' is" in err
    code, out, _ = cli(capsys, "history", str(demo), stream, "last_call.duration_s")
    assert code == 0 and "CallReported" in out
    code, out, err = cli(capsys, "history", str(demo), stream, "device_id")  # there from the start, never changed
    assert code == 0 and err == ""
    assert_one_error_line(run_cli("history", str(demo), stream, "last_call.durration"))
