"""`project`, `graph` and `search`: output, JSON, exit codes, read-only stores, bad input."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.demo import DemoSummary
from explorer.projections import graph as graph_model
from explorer.projections import runner_for
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.cli import assert_one_error_line, can_run_as, run_cli, run_cli_batch
from tests.helpers.stores import make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    path = tmp_path_factory.mktemp("cli-proj") / "demo.evstore"
    return path, make_demo(path, devices=20, events=1500, seed=9)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_project_builds_and_shows_every_read_model(demo: tuple[Path, DemoSummary],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = str(demo[0])
    code, out, _ = run(capsys, "project", path, "--status-only", "--json")
    assert code == 0
    assert {m["state"] for m in json.loads(out)["read_models"]} == {"not built"}
    code, out, _ = run(capsys, "project", path)
    assert code == 0
    for name in ("registry", "search", "graph", "analytics"):
        assert name in out
    code, out, _ = run(capsys, "project", path, "--json")
    report = json.loads(out)
    assert all(m["state"] == "live" and m["lag_events"] == 0 and m["checkpoint"] == demo[1].events
               for m in report["read_models"])
    assert Path(report["read_database"]).is_relative_to(Path(os.environ["EXPLORER_CACHE_DIR"]))


def test_project_rebuild_one_or_all(demo: tuple[Path, DemoSummary], capsys: pytest.CaptureFixture[str]) -> None:
    path = str(demo[0])
    run(capsys, "project", path)
    code, out, _ = run(capsys, "project", path, "--rebuild", "graph", "--json")
    assert code == 0 and all(m["state"] == "live" for m in json.loads(out)["read_models"])
    code, _, _ = run(capsys, "project", path, "--rebuild")
    assert code == 0
    code, _, err = run(capsys, "project", path, "--rebuild", "nonsense")
    assert code == 2 and err.startswith("error: no read model named 'nonsense'")


def test_project_works_on_a_read_only_store(demo: tuple[Path, DemoSummary], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    copy = folder / "demo.evstore"
    copy.write_bytes(demo[0].read_bytes())
    before = copy.read_bytes()
    copy.chmod(stat.S_IRUSR)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, out, _ = run(capsys, "project", str(copy), "--json")
        assert code == 0 and all(m["state"] == "live" for m in json.loads(out)["read_models"])
        assert copy.read_bytes() == before
    finally:
        folder.chmod(stat.S_IRWXU)


def test_graph_summary_connected_to_and_path(demo: tuple[Path, DemoSummary],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, summary = str(demo[0]), demo[1]
    code, out, _ = run(capsys, "graph", path, "--json")
    assert code == 0
    report = json.loads(out)
    store = SQLiteEventStore.open(demo[0], read_only=True)
    g = graph_model.graph_at(runner_for(store).readdb, summary.events)
    assert report["edges"] == len(g.edges) and report["nodes"] == len(g.nodes)

    code, out, _ = run(capsys, "graph", path, "--at-position", "200", "--json")
    assert json.loads(out)["position"] == 200
    code, out, _ = run(capsys, "graph", path, "--connected-to", "burst-gateway", "--json")
    connected = {d["stream_id"] for d in json.loads(out)["connected"]}
    assert connected == graph_model.connected_to(g, summary.burst_device)
    code, out, _ = run(capsys, "graph", path, "--path", "night-caller", summary.burst_device.removeprefix("device-"))
    assert code == 0 and "night-caller" in out and "burst-gateway" in out and "->" in out
    code, out, _ = run(capsys, "graph", path, "--at-time", "2026-09-30T00:00:00Z")
    assert code == 0 and "as of position 0" in out


def test_graph_bad_input(demo: tuple[Path, DemoSummary], capsys: pytest.CaptureFixture[str]) -> None:
    path = str(demo[0])
    code, _, err = run(capsys, "graph", path, "--connected-to", "nobody-at-all")
    assert code == 2 and err == "error: no device has the stream id, device id or name 'nobody-at-all'\n"
    code, _, err = run(capsys, "graph", path, "--at-position", "999999")
    assert code == 2 and "outside the store" in err
    code, _, err = run(capsys, "graph", path, "--at-time", "yesterday")
    assert code == 2 and "ISO 8601" in err
    code, _, err = run(capsys, "graph", str(demo[0].parent / "missing.evstore"))
    assert code == 2 and err.startswith("error:") and "Traceback" not in err


def test_search(demo: tuple[Path, DemoSummary], capsys: pytest.CaptureFixture[str]) -> None:
    path = str(demo[0])
    code, out, _ = run(capsys, "search", path, "night-c", "--json")
    hits = json.loads(out)["hits"]
    assert code == 0 and hits[0] == {"kind": "device", "stream_id": demo[1].night_caller,
                                      "position": hits[0]["position"], "text": hits[0]["text"]}
    code, out, _ = run(capsys, "search", path, "burst")
    assert code == 0 and "burst-gateway" in out
    code, out, _ = run(capsys, "search", path, "qqqzzz")
    assert code == 1 and "nothing matches" in out
    code, _, err = run(capsys, "search", path, "  ")
    assert code == 2 and "give some text" in err


def test_search_without_hits_prints_only_the_message(demo: tuple[Path, DemoSummary],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """An empty table header followed "nothing matches"."""
    assert run(capsys, "search", str(demo[0]), "qqqzzz") == (1, "nothing matches 'qqqzzz'\n", "")


@pytest.mark.parametrize("argv, option", [
    (["graph", "--connected-to", ""], "--connected-to"),  # it showed the whole graph
    (["graph", "--path", "night-caller", " "], "--path"),
    (["graph", "--at-time", ""], "--at-time"),  # it showed the head
    (["project", "--rebuild", ""], "--rebuild"),  # it rebuilt everything
])
def test_an_empty_option_value_is_a_usage_error(demo: tuple[Path, DemoSummary], capsys: pytest.CaptureFixture[str],
                                                argv: list[str], option: str) -> None:
    code, out, err = run(capsys, argv[0], str(demo[0]), *argv[1:])
    assert (code, out) == (2, "")
    assert err == (f"error: argument {option}: must not be empty "
                   f"(see `event-explorer {argv[0]} --help`)\n")


@pytest.mark.parametrize("names", [",", " , ,"])
def test_project_rebuild_of_no_names_is_an_error(demo: tuple[Path, DemoSummary], capsys: pytest.CaptureFixture[str],
                                                 names: str) -> None:
    """`--rebuild ,` rebuilt nothing and exited 0."""
    code, out, err = run(capsys, "project", str(demo[0]), "--rebuild", names)
    assert (code, out) == (2, "")
    assert err == (f"error: {names!r} names no read model; name one or more of registry, search, graph, analytics "
                   "(comma-separated), or none to rebuild all\n")


def test_graph_and_state_refuse_an_out_of_range_position_alike(demo: tuple[Path, DemoSummary],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path, summary = str(demo[0]), demo[1]
    line = f"error: --at-position 999999 is outside the store (positions 0 to {summary.events:,})\n"
    assert run(capsys, "graph", path, "--at-position", "999999") == (2, "", line)
    assert run(capsys, "state", path, summary.burst_device, "--at-position", "999999") == (2, "", line)


# -- for programs: --progress-json, --control-stdin, --linger (how the app runs its read models) ----

def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_project_progress_json_reports_start_progress_and_done(demo: tuple[Path, DemoSummary],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "project", str(demo[0]), "--progress-json")
    assert code == 0
    lines = json_lines(out)  # every line is one JSON object, nothing else on stdout
    assert [m["event"] for m in lines][0] == "started" and lines[-1]["event"] == "done"
    assert {m["event"] for m in lines[1:-1]} <= {"progress"} and len(lines) >= 3
    assert lines[1]["done"] == 0 and lines[1]["total"] == demo[1].events  # a bar starts at 0%
    done = lines[-1]
    assert done["action"] == "catch-up" and done["read"] == demo[1].events
    assert done["checkpoints"] == dict.fromkeys(("analytics", "graph", "registry", "search"), demo[1].events)
    assert all(m["state"] == "live" for m in done["read_models"])  # type: ignore[union-attr]

    code, out, _ = run(capsys, "project", str(demo[0]), "--rebuild", "graph,registry", "--progress-json")
    lines = json_lines(out)
    assert code == 0 and lines[-1]["event"] == "done" and lines[-1]["names"] == ["graph", "registry"]
    rebuilding = {m["name"] for line in lines if line["event"] == "progress"
                  for m in line["read_models"] if m["state"] == "rebuilding"}  # type: ignore[union-attr]
    assert rebuilding == {"graph", "registry"}


@pytest.mark.parametrize("argv, message", [
    (["--control-stdin"], "need --progress-json"),
    (["--linger", "5"], "need --progress-json"),
    (["--progress-json", "--json"], "cannot be combined"),
    (["--progress-json", "--status-only"], "cannot be combined"),
    (["--progress-json", "--linger", "-1"], "--linger must be"),
    (["--rebuild", "graph,nonsense"], "no read model named 'nonsense'"),
])
def test_project_for_programs_bad_input(demo: tuple[Path, DemoSummary], capsys: pytest.CaptureFixture[str],
                                        argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "project", str(demo[0]), *argv)
    assert code == 2 and out == "" and err.startswith("error:") and message in err


def test_project_control_stdin_lingers_for_more_runs_and_cancels(demo: tuple[Path, DemoSummary]) -> None:
    child = subprocess.Popen([sys.executable, "-m", "explorer", "project", str(demo[0]), "--progress-json",
                              "--control-stdin", "--linger", "60"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None

    def until_end() -> dict[str, object]:
        while True:
            line = json.loads(child.stdout.readline())  # type: ignore[union-attr]
            if line["event"] in ("done", "cancelled", "stopped", "rejected"):
                return line

    def send(text: str) -> None:
        child.stdin.write(text)  # type: ignore[union-attr]
        child.stdin.flush()  # type: ignore[union-attr]

    try:
        assert until_end()["event"] == "done"  # the first run: a catch-up
        send("rebuild search\n")
        end = until_end()
        assert end["event"] == "done" and end["names"] == ["search"]
        send("rebuild registry\ncancel\n")  # read together: the cancel reaches the run before its first batch
        end = until_end()
        assert end["event"] == "cancelled" and end["action"] == "rebuild"
        assert all(m["state"] == "live" and m["rebuild_checkpoint"] is None
                   for m in end["read_models"])  # type: ignore[union-attr]
        send("rebuild nonsense\n")
        assert "no read model named" in str(until_end()["message"])
        send("catch-up\n")
        assert until_end()["event"] == "done"
        send("stop\n")
        assert child.wait(timeout=60) == 0  # stopped while idle: the last run's code
    finally:
        if child.poll() is None:
            child.kill()


def test_a_read_database_locked_by_another_program_gets_one_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import apsw

    from explorer.projections import runner as runner_module
    from explorer.store.readdb import ReadDatabase

    path = tmp_path / "small.evstore"
    make_demo(path, devices=5, events=200, seed=3)
    with SQLiteEventStore.open(path, read_only=True) as store:
        readdb = ReadDatabase.for_store(store.store_id)
    runner_module.ensure_schema(readdb)
    other = apsw.Connection(str(readdb.path))
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock throughout
    original = ReadDatabase.for_store.__func__
    monkeypatch.setattr(ReadDatabase, "for_store", classmethod(
        lambda cls, store_id: _short_wait(original(cls, store_id))))
    monkeypatch.setattr(runner_module, "BUSY_ATTEMPTS", 2)
    try:
        code, out, err = run(capsys, "project", str(path))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "read database stayed locked by another program" in err
    code, out, _ = run(capsys, "project", str(path), "--json")  # free again: it builds, nothing failed
    assert code == 0 and all(m["state"] == "live" for m in json.loads(out)["read_models"])


def _short_wait(readdb):  # noqa: ANN001, ANN202 - a test helper
    readdb.db.setbusytimeout(100)
    return readdb


def test_a_cache_folder_that_cannot_be_made_is_one_error_line(demo: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    """It was a NotADirectoryError traceback; the line names the folder and how to move it."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    cache = a_file / "sub"
    before = demo[0].read_bytes()
    for argv in (["project", str(demo[0])], ["graph", str(demo[0])], ["search", str(demo[0]), "night"]):
        line = assert_one_error_line(run_cli(*argv, env={"EXPLORER_CACHE_DIR": str(cache)}))
        assert str(cache) in line and "EXPLORER_CACHE_DIR" in line and "Not a directory" in line, line
    assert demo[0].read_bytes() == before


NOBODY_SKIP = can_run_as("nobody") if os.name == "posix" else "not a POSIX system"


@pytest.mark.skipif(NOBODY_SKIP is not None, reason=f"needs runuser and the nobody user: {NOBODY_SKIP}")
def test_a_cache_folder_the_user_cannot_write_is_one_error_line(demo: tuple[Path, DemoSummary]) -> None:
    """As nobody: a read-only cache folder (PermissionError), a read-only readmodels folder (SQLite
    cannot open) - neither blames the store."""
    home = Path(tempfile.mkdtemp(prefix="explorer-cache-cli-"))  # pytest's tmp_path is root's alone
    try:
        home.chmod(0o755)
        store = home / "demo.evstore"
        store.write_bytes(demo[0].read_bytes())
        store.chmod(0o644)
        sealed = home / "cache-sealed"
        no_write = home / "cache-ro"
        (no_write / "readmodels").mkdir(parents=True)
        sealed.mkdir()
        for folder in (no_write, no_write / "readmodels", sealed):
            folder.chmod(0o555)
        for cache in (sealed, no_write):
            for argv in (["project", str(store)], ["graph", str(store)], ["search", str(store), "night"]):
                line = assert_one_error_line(run_cli(*argv, user="nobody", env={"EXPLORER_CACHE_DIR": str(cache)},
                                                     cwd=home))
                assert str(cache) in line and "EXPLORER_CACHE_DIR" in line and "damaged" not in line, line
    finally:
        shutil.rmtree(home)


def test_names_with_newlines_and_tabs_print_on_one_line(tmp_path: Path) -> None:
    """A device name with a newline broke the search and graph tables across lines."""
    path = tmp_path / "s.evstore"
    SQLiteEventStore.create(path).close()
    a, b = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
    made = run_cli_batch([
        ["exec", str(path), "RegisterDevice", "--stream", f"device-{a}", "name=line1\nline2\ttab", "kind=camera",
         "owner=o"],
        ["exec", str(path), "RegisterDevice", "--stream", f"device-{b}", "name=plain", "kind=camera", "owner=o"],
        ["exec", str(path), "connect", "--stream", f"device-{b}", f"peer_id={a}"],
    ])
    assert [code for code, _, _ in made] == [0, 0, 0], made
    (search, search_out, _), (graph, graph_out, _), (connected, connected_out, _) = run_cli_batch(
        [["search", str(path), "line1"], ["graph", str(path)], ["graph", str(path), "--connected-to", "plain"]])
    assert search == graph == connected == 0
    for out in (search_out, graph_out, connected_out):
        assert "line1 line2 tab" in out and "\t" not in out, out
        assert all("line1" in line for line in out.splitlines() if "line2" in line), out
