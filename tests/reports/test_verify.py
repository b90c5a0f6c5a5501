"""Verification: passes on an untouched store, names the tampered position otherwise."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import orjson
import pytest

from explorer.reports import verify
from explorer.reports.model import ReportError, ReportScope, analyse
from explorer.reports.verify import load_manifest, verify_report
from explorer.reports.writer import write_report
from explorer.store import chain
from explorer.store.base_types import NO_STREAM
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore
from tests.reports.conftest import tamper_one_byte

FORMATS = ["json", "html", "pdf", "csv"]


def _night_caller_positions(path: Path, sid: str) -> list[int]:
    with SQLiteEventStore.open(path, read_only=True) as store:
        return [e.position for e in store.read_stream(sid)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_untouched_store_verifies(store_copy: Path, demo, tmp_path: Path, fmt: str) -> None:
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        result = write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / f"r.{fmt}")
        check = verify_report(store, tmp_path / f"r.{fmt}")
    assert check.ok, check.problems
    assert check.listed == result.events
    assert check.event_list_digest == result.report.integrity.event_list_digest


@pytest.mark.parametrize("fmt", FORMATS)
def test_tampered_event_is_named_by_position(store_copy: Path, demo, tmp_path: Path, fmt: str) -> None:
    sid = demo[1].night_caller
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        write_report(store, ReportScope(stream_ids=(sid,)), tmp_path / f"r.{fmt}")
    victim = _night_caller_positions(store_copy, sid)[5]
    tamper_one_byte(store_copy, victim)
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        whole = store.verify()
        check = verify_report(store, tmp_path / f"r.{fmt}")
    assert not whole.ok and whole.first_bad_position == victim
    assert not check.ok and check.first_bad_position == victim
    assert any(p.position == victim and "differs from the one the report lists" in p.message for p in check.problems)


def test_a_tampered_event_outside_the_scope_but_inside_the_range_breaks_the_chain(store_copy, demo, tmp_path) -> None:
    sid = demo[1].night_caller
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        write_report(store, ReportScope(stream_ids=(sid,)), tmp_path / "r.json")
        outside = next(e.position for e in store.read_all(10) if e.stream_id != sid)
    tamper_one_byte(store_copy, outside)
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        check = verify_report(store, tmp_path / "r.json")
    assert check.first_bad_position == outside
    assert "chain hash" in check.problems[0].message


def test_an_edited_report_fails(store, demo, tmp_path: Path) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    text = (tmp_path / "r.json").read_bytes().splitlines(keepends=True)
    line = next(i for i, raw in enumerate(text) if raw.startswith(b'{"actor"') or b'"event_hash"' in raw)
    event = orjson.loads(text[line].rstrip().rstrip(b","))
    event["event_hash"] = "0" * 64
    text[line] = orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b",\n"
    (tmp_path / "r.json").write_bytes(b"".join(text))
    check = verify_report(store, tmp_path / "r.json")
    assert not check.ok and check.first_bad_position == event["position"]


def test_a_report_of_another_store_is_refused(store, demo, tmp_path: Path) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    other = SQLiteEventStore.create(tmp_path / "other.evstore")
    check = verify_report(other, tmp_path / "r.json")
    assert not check.ok and "not of this store" in check.problems[0].message


def test_reformatted_json_still_verifies(store, demo, tmp_path: Path) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    data = orjson.loads((tmp_path / "r.json").read_bytes())
    (tmp_path / "pretty.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    assert verify_report(store, tmp_path / "pretty.json").ok


def test_missing_sidecar_and_non_reports_get_clear_messages(store, demo, tmp_path: Path) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.pdf")
    shutil.move(tmp_path / "r.pdf.verify.json", tmp_path / "elsewhere.json")
    with pytest.raises(ReportError, match="sidecar"):
        load_manifest(tmp_path / "r.pdf")
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(ReportError, match="not an Event Explorer report"):
        load_manifest(tmp_path / "x.json")
    (tmp_path / "x.html").write_text("<html></html>")
    with pytest.raises(ReportError, match="no Event Explorer verification block"):
        load_manifest(tmp_path / "x.html")


def test_same_scope_same_digest_across_formats(store, demo, tmp_path: Path) -> None:
    scope = ReportScope(stream_ids=(demo[1].night_caller,))
    digests = {write_report(store, scope, tmp_path / f"r.{f}").report.integrity.event_list_digest for f in FORMATS}
    assert digests == {analyse(store, scope).report.integrity.event_list_digest}


# -- actors that are not text (one definition: model.actor_of) ---------------------------------------


@pytest.fixture()
def actors_store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    """Events whose metadata actor is missing, null, a number, a list, an object, "" and "alice"."""
    metas = [{}, {"actor": None}, {"actor": 42}, {"actor": ["alice"]}, {"actor": {"k": "v"}}, {"actor": ""},
             {"actor": "alice"}]
    with SQLiteEventStore.create(tmp_path / "actors.evstore") as writable:
        writable.append("w-1", "Widget", [NewEvent("Set", {"n": n}, meta) for n, meta in enumerate(metas)], NO_STREAM)
    with SQLiteEventStore.open(tmp_path / "actors.evstore", read_only=True) as store:
        yield store


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("actor", "listed"), [("", 6), ("alice", 1)])
def test_a_report_of_an_actor_verifies_whatever_other_actors_are(actors_store, tmp_path: Path, fmt: str,
                                                                  actor: str, listed: int) -> None:
    """Verification crashed on a list actor (unhashable) and failed a null/number one ("" in the report)."""
    result = write_report(actors_store, ReportScope(actors=(actor,)), tmp_path / f"r.{fmt}")
    check = verify_report(actors_store, tmp_path / f"r.{fmt}")
    assert check.ok, check.problems
    assert check.listed == result.events == listed


# -- JSON reports in any layout ----------------------------------------------------------------------


def _report_json(store: SQLiteEventStore, sid: str, path: Path) -> dict[str, Any]:
    write_report(store, ReportScope(stream_ids=(sid,)), path)
    return orjson.loads(path.read_bytes())


@pytest.mark.parametrize("layout", ["orjson", "json.dumps", "CRLF"])
def test_a_json_report_on_one_line_verifies(store, demo, tmp_path: Path, layout: str) -> None:
    """`jq -c` or json.dumps(json.load(f)): the same report, so the same verdict (it was "not listed" ×N)."""
    data = _report_json(store, demo[1].night_caller, tmp_path / "r.json")
    text = {"orjson": lambda: orjson.dumps(data),
            "json.dumps": lambda: json.dumps(data, ensure_ascii=False).encode(),
            "CRLF": lambda: (tmp_path / "r.json").read_bytes().replace(b"\n", b"\r\n")}[layout]()
    (tmp_path / "other.json").write_bytes(text)
    check = verify_report(store, tmp_path / "other.json")
    assert check.ok, check.problems
    assert check.listed == len(data["events"]) > 0


def test_an_event_dropped_from_a_one_line_report_is_named(store, demo, tmp_path: Path) -> None:
    data = _report_json(store, demo[1].night_caller, tmp_path / "r.json")
    dropped = data["events"].pop(5)["position"]
    (tmp_path / "one-line.json").write_bytes(orjson.dumps(data))
    check = verify_report(store, tmp_path / "one-line.json")
    assert [p.position for p in check.problems] == [dropped]
    assert "does not list" in check.problems[0].message


def test_an_event_spread_over_lines_falls_back_to_a_whole_parse(store, demo, tmp_path: Path) -> None:
    """A file that looks like our layout until an event line does not: still read correctly."""
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    lines = (tmp_path / "r.json").read_bytes().split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b'{"actor"'))
    lines[at] = lines[at].replace(b'"data":', b'\n"data":', 1)
    (tmp_path / "spread.json").write_bytes(b"\n".join(lines))
    assert verify_report(store, tmp_path / "spread.json").ok


def test_our_layout_is_streamed_not_parsed_whole(store, demo, tmp_path: Path, monkeypatch) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")

    def refused(path: Path) -> None:
        raise AssertionError(f"{path} was read whole")

    monkeypatch.setattr(verify, "_whole_json", refused)
    assert verify_report(store, tmp_path / "r.json").ok


@pytest.mark.parametrize("damage", [
    lambda text: text[:-200],  # cut off
    lambda text: text.replace(b"},\n{", b"}\n{", 1),  # a comma missing between two events
    lambda text: text.replace(b"}\n],", b"},\n],", 1),  # a comma after the last event
])
def test_a_json_file_that_is_no_valid_report_is_one_clear_error(store, demo, tmp_path: Path, damage) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    (tmp_path / "bad.json").write_bytes(damage((tmp_path / "r.json").read_bytes()))
    with pytest.raises(ReportError, match="not valid JSON"):
        verify_report(store, tmp_path / "bad.json")


# -- the fields a report shows, against the store ---------------------------------------------------


def _edit_event(path: Path, index: int, edit: Any) -> dict[str, Any]:
    """Change the `index`-th event of a JSON report in place, in the layout the writer wrote (one
    event per line); return the event as edited."""
    lines = path.read_bytes().split(b"\n")
    at = lines.index(b'"events": [') + 1 + index
    comma = lines[at].endswith(b",")
    event = orjson.loads(lines[at].rstrip(b","))
    edit(event)
    lines[at] = orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + (b"," if comma else b"")
    path.write_bytes(b"\n".join(lines))
    return event


@pytest.mark.parametrize(("name", "forged"), [
    ("actor", "innocent-bystander"), ("type", "Harmless"), ("stream_id", "device-other"),
    ("stream_type", "Gadget"), ("version", 999), ("version", 1.0), ("event_id", "0" * 8),
    ("recorded_at", "2001-01-01T00:00:00.000000Z"), ("chain_hash", "f" * 64), ("occurred_at", "2001-01-01T00:00:00Z"),
    ("data", {"name": "forged-name"}), ("metadata", {"actor": "innocent-bystander"}),
])
def test_a_field_edited_in_a_json_report_is_named(store, demo, tmp_path: Path, name: str, forged: Any) -> None:
    """The event hash kept, a listed field changed: verification said ok."""
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    event = _edit_event(tmp_path / "r.json", 3, lambda e: e.update(
        {name: (e[name] | forged) if isinstance(forged, dict) else forged}))
    check = verify_report(store, tmp_path / "r.json")
    assert not check.ok
    assert [p.position for p in check.problems] == [event["position"]]
    assert check.problems[0].message.startswith(f"the report's {name} ")


def test_a_json_report_lacking_a_field_is_named(store, demo, tmp_path: Path) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    event = _edit_event(tmp_path / "r.json", 2, lambda e: e.pop("actor"))
    check = verify_report(store, tmp_path / "r.json")
    assert [p.text() for p in check.problems] == [
        f"position {event['position']}: the report shows no actor (the store's is "
        f"{json.dumps(event['metadata'].get('actor', ''))})"]


def test_derived_texts_are_not_checked(store, demo, tmp_path: Path) -> None:
    """Documented: the summary sentence and changed fields come from the domain pack, not the store."""
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.json")
    _edit_event(tmp_path / "r.json", 3, lambda e: e.update(summary="Nothing happened", changes=[]))
    assert verify_report(store, tmp_path / "r.json").ok


def _store_with_stored_texts(path: Path, texts: list[tuple[str, str]]) -> None:
    """A store whose events hold exactly these (data, metadata) texts, valid JSON or not, with an
    intact chain (as a foreign writer could leave them)."""
    with SQLiteEventStore.create(path) as writable:
        writable.append("w-1", "Widget", [NewEvent("Set", {}) for _ in texts], NO_STREAM)
    db = apsw.Connection(str(path))
    db.execute("DROP TRIGGER events_are_immutable_update")
    chash = chain.GENESIS
    rows = db.execute("SELECT e.position, s.stream_id, s.stream_type, e.version, e.type, e.recorded_at, e.event_id"
                      " FROM events e JOIN streams s USING (stream_key) ORDER BY e.position").fetchall()
    for (position, *rest), (data, meta) in zip(rows, texts, strict=True):
        chash = chain.next_hash(chash, chain.event_bytes(position, *rest, data, meta))
        db.execute("UPDATE events SET data = ?, metadata = ?, chain_hash = ? WHERE position = ?",
                   (data, meta, chash, position))
    db.close()


def test_events_that_are_no_json_object_verify_with_the_data_the_report_shows(tmp_path: Path) -> None:
    _store_with_stored_texts(tmp_path / "s.evstore", [("[1,2,3]", '{"actor":"a"}'), ('{"a":1}', '["not"]'),
                                                      ("{not json", "{oops")])
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        write_report(store, ReportScope(), tmp_path / "r.json")
        data = orjson.loads((tmp_path / "r.json").read_bytes())
        assert [(e["data"], e["metadata"]) for e in data["events"]] == [({}, {"actor": "a"}), ({"a": 1}, {}), ({}, {})]
        assert store.verify().ok
        assert verify_report(store, tmp_path / "r.json").ok
        _edit_event(tmp_path / "r.json", 0, lambda e: e.update(data=[1, 2, 3]))  # stored, but not what a report lists
        assert [p.position for p in verify_report(store, tmp_path / "r.json").problems] == [1]


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write_csv_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


@pytest.mark.parametrize("column", ["actor", "type", "stream_id", "stream_type", "version", "event_id",
                                    "recorded_at", "occurred_at", "chain_hash"])
def test_a_cell_edited_in_a_csv_report_is_named(store, demo, tmp_path: Path, column: str) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.csv")
    rows = _csv_rows(tmp_path / "r.csv")
    index = rows[0].index(column)
    rows[4][index] = "2001-01-01T00:00:00Z" if column == "occurred_at" else rows[4][index] + "0"
    _write_csv_rows(tmp_path / "r.csv", rows)
    check = verify_report(store, tmp_path / "r.csv")
    assert [p.position for p in check.problems] == [int(rows[4][0])]
    assert check.problems[0].message.startswith(f"the report's {column} ")


def test_a_csv_report_of_formula_like_text_verifies(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as writable:
        writable.append("=cmd|'/C calc'!A0", "+Type", [NewEvent("-Event", {"occurred_at": "@now"}, {"actor": "=1+1"})],
                        NO_STREAM)
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        write_report(store, ReportScope(), tmp_path / "r.csv")
        assert _csv_rows(tmp_path / "r.csv")[1][7] == "'=1+1"
        assert verify_report(store, tmp_path / "r.csv").ok


def test_a_csv_report_without_its_rows_verifies_its_sidecar_and_says_so(store, demo, tmp_path: Path) -> None:
    result = write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.csv")
    (tmp_path / "r.csv").unlink()
    check = verify_report(store, tmp_path / "r.csv.verify.json")
    assert check.ok and check.listed == result.events
    assert check.notes == ["the rows of r.csv were not checked: it is not beside its sidecar; "
                           "only the sidecar's event-list digest and range were"]
    other = write_report(store, ReportScope(stream_ids=(demo[1].burst_device,)), tmp_path / "b.csv").report
    sidecar = orjson.loads((tmp_path / "r.csv.verify.json").read_bytes())
    sidecar["integrity"]["event_list_digest"] = other.integrity.event_list_digest
    (tmp_path / "r.csv.verify.json").write_bytes(orjson.dumps(sidecar))
    assert not verify_report(store, tmp_path / "r.csv.verify.json").ok


def test_a_renamed_csv_report_is_checked_by_its_own_rows(store, demo, tmp_path: Path) -> None:
    write_report(store, ReportScope(stream_ids=(demo[1].night_caller,)), tmp_path / "r.csv")
    shutil.move(tmp_path / "r.csv", tmp_path / "archived.csv")
    shutil.move(tmp_path / "r.csv.verify.json", tmp_path / "archived.csv.verify.json")
    check = verify_report(store, tmp_path / "archived.csv")
    assert check.ok and not check.notes and check.listed > 0
