"""`event-explorer report` and `verify --report`, headless, as a user runs them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from explorer.cli import main as cli_main
from explorer.demo import DemoSummary
from explorer.store.bookmarks import BookmarkStore
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from tests.helpers.cli import assert_one_error_line, run_cli
from tests.helpers.stores import make_demo
from tests.reports.conftest import tamper_one_byte


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DemoSummary]]:
    path = tmp_path_factory.mktemp("report-cli") / "demo.evstore"
    summary = make_demo(path, devices=15, events=800)
    with SQLiteEventStore.open(path) as store:
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield path, summary


@pytest.fixture()
def copy(made: tuple[Path, DemoSummary], tmp_path: Path) -> Path:
    target = tmp_path / "store.evstore"
    shutil.copy2(made[0], target)
    return target


def test_headless_pdf_report_then_verify_then_tamper(copy: Path, made, tmp_path: Path) -> None:
    """The issue's 'done when': export a device's week, verify it, tamper, see the position."""
    sid = made[1].night_caller
    out = tmp_path / "week.pdf"
    env = {"QT_QPA_PLATFORM": "", "DISPLAY": ""}  # no display at all
    result = run_cli("report", str(copy), "--stream", sid, "--since", "2026-10-02", "--until", "2026-10-09",
                     "--format", "pdf", "-o", str(out), "--title", "Night caller, one week", env=env)
    assert result.returncode == 0, result.stderr
    assert out.exists() and out.read_bytes().startswith(b"%PDF")
    assert "event-list digest" in result.stdout
    ok = run_cli("verify", str(copy), "--report", str(out))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok:")
    with SQLiteEventStore.open(copy, read_only=True) as store:
        listed = orjson.loads((tmp_path / "week.pdf.verify.json").read_bytes())["events"]
    victim = listed[len(listed) // 2][0]
    tamper_one_byte(copy, victim)
    bad_report = run_cli("verify", str(copy), "--report", str(out))
    assert bad_report.returncode == 1
    assert f"FAILED at position {victim}" in bad_report.stderr
    bad_store = run_cli("verify", str(copy))
    assert bad_store.returncode == 1
    assert f"at position {victim}" in bad_store.stderr


@pytest.mark.parametrize("fmt", ["json", "csv", "html"])
def test_report_formats_in_process(copy: Path, made, tmp_path: Path, fmt: str, capsys) -> None:
    out = tmp_path / f"r.{fmt}"
    code = cli_main(["report", str(copy), "--connected-to", made[1].burst_device, "--type", "DeviceConnected",
                     "-o", str(out)])
    assert code == 0
    assert f"({fmt}," in capsys.readouterr().out
    assert cli_main(["verify", str(copy), "--report", str(out), "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] is True and verdict["listed"] > 0


def test_report_with_bookmarks_and_actor(copy: Path, made, tmp_path: Path, capsys) -> None:
    with SQLiteEventStore.open(copy, read_only=True) as store:
        BookmarkStore(ReadDatabase.for_store(store.store_id)).add(50, "odd <burst> here")
    out = tmp_path / "r.json"
    assert cli_main(["report", str(copy), "--actor", "alice", "--bookmarks", "-o", str(out)]) == 0
    report = orjson.loads(out.read_bytes())
    assert {e["actor"] for e in report["events"]} == {"alice"}
    assert report["annotations"] == [{"position": 50, "note": "odd <burst> here",
                                      "recorded_at": report["annotations"][0]["recorded_at"]}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stream", "nope", "-o", "{tmp}/a.json"], "no stream 'nope'"),
        (["-o", "{tmp}/a.docx"], "unknown report format"),
        (["--since", "yesterday", "-o", "{tmp}/a.json"], "not an ISO 8601"),
        (["-o", "{tmp}/missing/a.json"], "no such folder"),
        (["--connected-to", "ghost", "-o", "{tmp}/a.json"], "no stream or device 'ghost'"),
        (["--jobs", "0", "-o", "{tmp}/a.json"], "--jobs must be 1 or more"),
    ],
)
def test_bad_input_gets_one_error_line(copy: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("report", str(copy), *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert message in assert_one_error_line(result)
    assert not (tmp_path / "a.json").exists()


@pytest.mark.parametrize("option", ["--since", "--until", "--connected-to", "--stream", "--type", "--actor", "--by"])
def test_an_empty_option_value_is_a_usage_error(copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                option: str) -> None:
    """`--since ""` or `--connected-to ""` was no filter: a report of the whole store."""
    with pytest.raises(SystemExit) as exit_:
        cli_main(["report", str(copy), option, "", "-o", str(tmp_path / "a.json")])
    assert exit_.value.code == 2 and capsys.readouterr() == (
        "", f"error: argument {option}: must not be empty (see `event-explorer report --help`)\n")
    assert not (tmp_path / "a.json").exists()


def test_existing_output_is_not_overwritten_without_force(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.json"
    out.write_text("precious")
    assert "already exists" in assert_one_error_line(run_cli("report", str(copy), "-o", str(out)))
    assert out.read_text() == "precious"


def test_an_existing_sidecar_is_not_overwritten_without_force(copy: Path, tmp_path: Path) -> None:
    """The sidecar of an older report kept under another name must not be replaced silently."""
    sidecar = tmp_path / "week.csv.verify.json"
    sidecar.write_text("the block of week-archived.csv")
    result = run_cli("report", str(copy), "-o", str(tmp_path / "week.csv"))
    assert f"{sidecar}: already exists" in assert_one_error_line(result)
    assert sidecar.read_text() == "the block of week-archived.csv" and not (tmp_path / "week.csv").exists()
    assert run_cli("report", str(copy), "-o", str(tmp_path / "week.csv"), "--force").returncode == 0
    assert orjson.loads(sidecar.read_bytes())["events_in"] == "week.csv"


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_a_sidecar_name_taken_by_a_folder_is_refused_and_the_older_report_stays(
        copy: Path, tmp_path: Path, fmt: str) -> None:
    """Written whole or not at all: the report and its sidecar, or neither."""
    older = tmp_path / f"r.{fmt}"
    older.write_text("the older report")
    (tmp_path / f"r.{fmt}.verify.json").mkdir()
    result = run_cli("report", str(copy), "--to-position", "50", "-o", str(older), "--force")
    assert f"r.{fmt}.verify.json: is a folder" in assert_one_error_line(result)
    assert older.read_text() == "the older report"
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("store.evstore"))
    assert left == [f"r.{fmt}", f"r.{fmt}.verify.json"]


def test_a_report_is_not_named_like_a_sidecar(copy: Path, tmp_path: Path) -> None:
    result = run_cli("report", str(copy), "--format", "csv", "-o", str(tmp_path / "x.verify.json"))
    assert "kept for verification sidecars" in assert_one_error_line(result)
    assert not list(tmp_path.glob("x.*"))


def test_force_never_writes_a_report_over_the_store_being_reported(copy: Path, tmp_path: Path) -> None:
    before = copy.read_bytes()
    result = run_cli("report", str(copy), "--format", "csv", "-o", str(copy), "--force")
    assert "that is the event store this report is made of" in assert_one_error_line(result)
    link = tmp_path / "link.csv"
    link.symlink_to(copy)
    assert "that is the event store" in assert_one_error_line(run_cli("report", str(copy), "-o", str(link), "--force"))
    assert copy.read_bytes() == before
    assert run_cli("verify", str(copy)).returncode == 0


def test_verify_says_when_a_csv_report_s_rows_were_not_checked(copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert run_cli("report", str(copy), "--to-position", "40", "-o", str(out)).returncode == 0
    out.unlink()  # only the sidecar is left
    result = run_cli("verify", str(copy), "--report", str(tmp_path / "r.csv.verify.json"))
    assert result.returncode == 0 and result.stdout.startswith("ok: ")
    assert "note: the rows of r.csv were not checked" in result.stdout


def test_verify_report_of_a_non_report(copy: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    assert "not an Event Explorer report" in assert_one_error_line(
        run_cli("verify", str(copy), "--report", str(junk)))


def test_connected_to_takes_a_device_name_the_registry_knows(copy: Path, made, tmp_path: Path) -> None:
    """As `graph --connected-to` does, also before the registry read model was ever built (it said
    "no stream or device" then); a name nobody has is still one clear error line."""
    with SQLiteEventStore.open(copy, read_only=True) as store:
        name = store.read_stream(made[1].burst_device).__next__().data["name"]
    by_name = tmp_path / "by-name.json"
    by_id = tmp_path / "by-id.json"
    assert run_cli("report", str(copy), "--connected-to", name, "-o", str(by_name)).returncode == 0
    assert run_cli("report", str(copy), "--connected-to", made[1].burst_device, "-o", str(by_id)).returncode == 0
    scopes = [orjson.loads(p.read_bytes())["scope"] for p in (by_name, by_id)]
    assert scopes[0]["stream_ids"] == scopes[1]["stream_ids"] and made[1].burst_device in scopes[0]["stream_ids"]
    result = run_cli("report", str(copy), "--connected-to", "nobody-has-this-name", "-o", str(tmp_path / "x.json"))
    assert "no stream or device 'nobody-has-this-name'" in assert_one_error_line(result)


def test_connected_to_a_name_two_devices_have_had_is_an_error_naming_them(copy: Path, tmp_path: Path) -> None:
    """It reported "no stream or device" (the registry's words about the two were lost)."""
    from explorer.store import NewEvent

    with SQLiteEventStore.open(copy) as store:
        twins = [s for s in store.streams("Device", limit=2)]
        for info in twins:
            store.append(info.stream_id, "Device", [NewEvent("DeviceRenamed", {"name": "twin"})], info.version)
    assert run_cli("project", str(copy)).returncode == 0
    line = assert_one_error_line(run_cli("report", str(copy), "--connected-to", "twin", "-o", str(tmp_path / "t.json")))
    assert "2 devices have had the name 'twin'" in line and twins[0].stream_id in line
    assert not (tmp_path / "t.json").exists()
