"""Every format is written for a small demo store and parsed back."""

from __future__ import annotations

import csv
import os
import stat
import html.parser
import re
from pathlib import Path

import orjson
import pypdf
import pytest

from explorer.reports import csv as csv_report
from explorer.reports.model import ReportError, ReportScope
from explorer.reports.writer import write_report
from explorer.store.base_types import NO_STREAM
from explorer.store.records import EventFilter, NewEvent
from explorer.store.sqlite import SQLiteEventStore


def _expected(store: SQLiteEventStore, sid: str) -> list[tuple[int, str, str]]:
    return [(e.position, e.stream_id, e.type) for e in store.read_all(filters=EventFilter(stream_ids=(sid,)))]


def test_csv_rows_equal_the_events_in_scope(store, demo, tmp_path: Path) -> None:
    sid = demo[1].night_caller
    result = write_report(store, ReportScope(stream_ids=(sid,)), tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == csv_report.COLUMNS
    assert [(int(r["position"]), r["stream_id"], r["type"]) for r in rows] == _expected(store, sid)
    assert result.events == len(rows)
    events = {e.position: e for e in store.read_all(filters=EventFilter(stream_ids=(sid,)))}
    for row in rows:
        assert row["chain_hash"] == events[int(row["position"])].chain_hash
        assert row["actor"] == events[int(row["position"])].metadata["actor"]
    assert result.sidecar is not None and result.sidecar.exists()


def test_csv_cells_never_start_a_formula() -> None:
    assert csv_report.cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_report.cell("plain") == "plain"


def test_json_report_is_complete(store, demo, tmp_path: Path) -> None:
    sid = demo[1].night_caller
    write_report(store, ReportScope(stream_ids=(sid,)), tmp_path / "r.json", title="Night caller")
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert [(e["position"], e["stream_id"], e["type"]) for e in report["events"]] == _expected(store, sid)
    assert report["header"]["title"] == "Night caller"
    assert report["header"]["store_id"] == store.store_id
    integrity = report["integrity"]
    assert integrity["event_count"] == len(report["events"])
    assert integrity["head_digest"] == store.head().chain_hash
    assert integrity["chain_hash_at_last"] == store.chain_hash_at(integrity["last_position"])
    assert report["summary"]["counts_by_type"]
    assert report["events"][0]["data"]["name"] == "night-caller"


def test_pdf_text_holds_header_digests_and_first_and_last_event(store, demo, tmp_path: Path) -> None:
    sid = demo[1].night_caller
    result = write_report(store, ReportScope(stream_ids=(sid,)), tmp_path / "r.pdf", title="Night caller audit",
                          bookmarks=[(40, "first look")])
    reader = pypdf.PdfReader(str(tmp_path / "r.pdf"))
    assert len(reader.pages) == result.pages > 1
    text = "\n".join(page.extract_text() for page in reader.pages).replace("\t", " ")
    flat = re.sub(r"\s+", "", text)
    integrity = result.report.integrity
    assert "Night caller audit" in text
    assert store.store_id in flat
    for digest in (integrity.event_list_digest, integrity.head_digest, integrity.chain_hash_at_first,
                   integrity.chain_hash_at_last):
        assert digest in flat
    first, last = result.report.summary.first_event, result.report.summary.last_event
    assert re.sub(r"\s+", "", first.sentence) in flat and re.sub(r"\s+", "", last.sentence) in flat
    assert f"Page 1 of {result.pages}" in text and f"Page {result.pages} of {result.pages}" in text
    assert text.count("What happened") >= result.pages - 2  # the table header repeats on its pages
    assert "first look" in text
    assert reader.pdf_header.startswith("%PDF-1.4")  # PDF/A-1b is based on PDF 1.4
    assert result.sidecar is not None and result.sidecar.exists()


def _hostile_store(path: Path) -> SQLiteEventStore:
    store = SQLiteEventStore.create(path)
    store.append("thing-1", "Thing", [
        NewEvent("ThingCreated", {"name": "<script>alert('x')</script>", "note": "a & b \"quoted\""},
                 {"actor": "<img src=x onerror=alert(1)>"}),
        NewEvent("ThingRenamed", {"name": "</script><script>alert(2)</script>"}, {"actor": "mallory"}),
    ], NO_STREAM)
    return store


class _Checker(html.parser.HTMLParser):
    """Counts elements and checks that every non-void element is closed in order."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.scripts = 0
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID and tag not in ("svg",) or tag == "svg":
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()


def test_html_is_well_formed_and_escapes_event_data(tmp_path: Path) -> None:
    with _hostile_store(tmp_path / "hostile.evstore") as store:
        write_report(store, ReportScope(), tmp_path / "r.html", include_data=True)
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert checker.scripts == 1  # only the verification block, of type application/json
    assert "<script>alert" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "a &amp; b &quot;quoted&quot;" in text


def test_pdf_draws_hostile_text_as_plain_text(tmp_path: Path) -> None:
    with _hostile_store(tmp_path / "hostile.evstore") as store:
        write_report(store, ReportScope(), tmp_path / "r.pdf", title="<b>bold?</b>")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(str(tmp_path / "r.pdf")).pages).replace("\t", " ")
    assert "<b>bold?</b>" in text
    assert "alert" in text  # shown literally as text


@pytest.mark.parametrize("fmt", ["csv", "json", "html", "pdf"])
def test_a_failed_or_cancelled_report_leaves_no_file(store, tmp_path: Path, fmt: str) -> None:
    from explorer.reports.model import ReportCancelled

    with pytest.raises(ReportCancelled):
        write_report(store, ReportScope(), tmp_path / f"r.{fmt}", cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_a_sidecar_that_fails_to_be_written_leaves_the_older_report_and_no_new_file(
        store, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A report and its sidecar are written whole or not at all; the error names the sidecar."""
    from explorer.reports import writer

    older = tmp_path / f"r.{fmt}"
    older.write_text("the older report")

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "manifest", disk_full)  # fails while the sidecar is being written
    with pytest.raises(OSError) as raised:
        write_report(store, ReportScope(to_position=30), older)
    assert raised.value.filename == str(tmp_path / f"r.{fmt}.verify.json")
    assert raised.value.strerror == "No space left on device"
    assert [p.name for p in tmp_path.iterdir()] == [f"r.{fmt}"] and older.read_text() == "the older report"


def test_a_pdf_cancelled_while_drawing_leaves_no_file(store, tmp_path: Path) -> None:
    from explorer.reports.model import ReportCancelled

    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done * 100 // total)

    with pytest.raises(ReportCancelled):
        write_report(store, ReportScope(), tmp_path / "r.pdf", progress=progress,
                     cancelled=lambda: bool(seen) and seen[-1] >= 50)
    assert max(seen) >= 50  # it got into the layout before the cancel
    assert list(tmp_path.iterdir()) == []


def test_progress_reaches_the_end(store, demo, tmp_path: Path) -> None:
    for fmt in ("pdf", "html", "csv"):
        seen: list[float] = []
        write_report(store, ReportScope(), tmp_path / f"p.{fmt}", progress=lambda d, t: seen.append(d / t))
        assert seen == sorted(seen) and seen[-1] == 1.0, fmt


def test_a_damaged_event_is_reported_as_damaged(tmp_path: Path) -> None:
    import apsw

    with _hostile_store(tmp_path / "odd.evstore") as store:
        pass
    db = apsw.Connection(str(tmp_path / "odd.evstore"))
    db.execute("DROP TRIGGER events_are_immutable_update")
    db.execute("UPDATE events SET data = '{not json' WHERE position = 2")
    db.close()
    with SQLiteEventStore.open(tmp_path / "odd.evstore", read_only=True) as store:
        write_report(store, ReportScope(), tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[1]["summary"].startswith("[damaged event: stored data is not valid JSON")


def test_csv_changes_read_like_the_report(store, demo, tmp_path: Path) -> None:
    from explorer.reports.model import iter_entries, resolve_scope

    sid = demo[1].night_caller
    write_report(store, ReportScope(stream_ids=(sid,)), tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    entries = list(iter_entries(store, resolve_scope(store, ReportScope(stream_ids=(sid,)))))
    assert [r["changes"] for r in rows] == [e.changes_text() for e in entries]
    assert [r["summary"] for r in rows] == [e.sentence for e in entries]


def test_csv_cells_from_event_data_never_start_a_formula(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "f.evstore") as store:
        store.append("thing-1", "Thing", [
            NewEvent("=ThingCreated", {"occurred_at": "=HYPERLINK(\"http://x\")", "name": "+1"}, {"actor": "@me"}),
        ], NO_STREAM)
        write_report(store, ReportScope(), tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["occurred_at"] == "'=HYPERLINK(\"http://x\")"
    assert row["type"] == "'=ThingCreated" and row["actor"] == "'@me"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_report_gets_the_permissions_of_any_new_file_of_the_user(store, tmp_path: Path) -> None:
    (tmp_path / "plain.txt").touch()
    plain = stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    result = write_report(store, ReportScope(to_position=20), tmp_path / "r.csv")
    assert stat.S_IMODE(result.path.stat().st_mode) == plain  # not mkstemp's private 0600
    assert result.sidecar is not None and stat.S_IMODE(result.sidecar.stat().st_mode) == plain


def test_a_report_never_replaces_a_file_of_the_store_it_is_made_of(tmp_path: Path) -> None:
    # A store whose name is what a CSV report's sidecar would be called, and its write-ahead log.
    path = tmp_path / "r.csv.verify.json"
    with SQLiteEventStore.create(path) as store:
        store.append("thing-1", "Thing", [NewEvent("ThingCreated", {"n": 1})], NO_STREAM)
        for target, words in ((tmp_path / "r.csv", "that is the event store"),
                              (tmp_path / "r.csv.verify.json-wal", "a file of the event store")):
            with pytest.raises(ReportError, match=words):
                write_report(store, ReportScope(), target, fmt="csv")
        assert not (tmp_path / "r.csv").exists()
    with SQLiteEventStore.open(path, read_only=True) as store:
        assert [e.type for e in store.read_all()] == ["ThingCreated"]
