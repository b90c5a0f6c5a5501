"""A CSV report split across processes is the same, byte for byte, as one written by one process."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer.reports import csv as csv_report
from explorer.reports import parallel
from explorer.reports.model import FieldChange, ReportCancelled, ReportEntry, ReportScope, analyse, start_report
from explorer.reports.verify import verify_report
from explorer.reports.writer import write_report
from explorer.store.base_types import NO_STREAM
from explorer.store.records import NewEvent
from explorer.store.sqlite import SQLiteEventStore

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@given(first=st.integers(1, 1000), size=st.integers(1, 5000), parts=st.integers(1, 8),
       fold_share=st.floats(0.0, 0.9))
def test_parts_cover_the_range_once_and_finish_together(first: int, size: int, parts: int, fold_share: float) -> None:
    last = first + size - 1
    plan = parallel.plan_parts(first, last, parts, fold_share)
    assert plan[0][0] == first and plan[-1][1] == last
    assert all(a <= b for a, b in plan)
    assert all(plan[i][1] + 1 == plan[i + 1][0] for i in range(len(plan) - 1))
    assert len(plan) <= parts
    if size >= 100 * parts:  # large enough that rounding is small: each part's time is about equal
        times = [(b - a + 1) + fold_share * (a - first) for a, b in plan]
        assert max(times) - min(times) <= 0.02 * max(times) + 2


def test_small_reports_are_not_split(store: SQLiteEventStore) -> None:
    run = start_report(store, ReportScope())
    assert parallel.parts_for(store, run.resolved, cores=8) == 1


def test_what_counts_for_a_split_is_the_events_read(store: SQLiteEventStore, monkeypatch) -> None:
    head = store.head().position
    monkeypatch.setattr(parallel, "PARALLEL_MIN_EVENTS", head // 2)
    whole = start_report(store, ReportScope()).resolved
    assert parallel.parts_for(store, whole, cores=8) == min(8, head // (head // 4))
    assert parallel.parts_for(store, whole, cores=2) == 2
    # One stream over the whole range: a few of the range's positions, not worth a process.
    sid = store.streams(limit=1)[0].stream_id
    one = start_report(store, ReportScope(stream_ids=(sid,))).resolved
    assert store.count_events_of((sid,), 1, head) == store.stream_info(sid).version < head // 2
    assert parallel.parts_for(store, one, cores=8) == 1


@pytest.mark.parametrize("scope", [
    ReportScope(),
    ReportScope(from_position=300, to_position=1200),
    ReportScope(event_types=("DeviceConnected", "DeviceRenamed"), from_position=200),
    ReportScope(actors=("alice", "ops-bot")),
], ids=["whole", "range", "types", "actor"])
def test_a_split_csv_equals_the_one_process_csv(store: SQLiteEventStore, tmp_path: Path, scope: ReportScope) -> None:
    whole = write_report(store, scope, tmp_path / "one.csv", generated_by="t", split=1)
    seen: list[tuple[int, int]] = []
    split = write_report(store, scope, tmp_path / "three.csv", generated_by="t", split=3,
                         progress=lambda done, total: seen.append((done, total)))
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "three.csv").read_bytes()
    assert split.events == whole.events > 0
    assert (whole.processes, split.processes) == (1, 3)
    assert split.report.integrity == whole.report.integrity
    one, three = whole.report.summary, split.report.summary
    assert three.counts_by_type == one.counts_by_type and list(three.counts_by_type) == list(one.counts_by_type)
    assert three.counts_by_actor == one.counts_by_actor
    assert three.timeline.counts == one.timeline.counts
    assert three.streams == one.streams and three.streams_changed == one.streams_changed
    assert (three.first_event, three.last_event) == (one.first_event, one.last_event)
    assert seen and seen[-1][0] == seen[-1][1]  # progress ends at 100 %
    assert not list(tmp_path.glob(".report-parts-*"))  # the parts' files are gone


@pytest.mark.parametrize("scope", [
    ReportScope(),
    ReportScope(from_position=300, to_position=1200),
    ReportScope(event_types=("DeviceRenamed",), from_position=1900),  # parts that list nothing
], ids=["whole", "range", "sparse"])
def test_a_split_json_equals_the_one_process_json(store: SQLiteEventStore, tmp_path: Path,
                                                  scope: ReportScope) -> None:
    whole = write_report(store, scope, tmp_path / "one.json", generated_by="t", split=1)
    split = write_report(store, scope, tmp_path / "three.json", generated_by="t", split=3)
    lines = {name: (tmp_path / name).read_bytes().split(b"\n") for name in ("one.json", "three.json")}
    assert lines["one.json"][1].startswith(b'"header": ')  # the only line that differs: when each was made
    assert lines["three.json"][:1] + lines["three.json"][2:] == lines["one.json"][:1] + lines["one.json"][2:]
    one = orjson.loads((tmp_path / "one.json").read_bytes())
    assert split.processes == 3 and split.events == whole.events == len(one["events"])
    assert split.report.integrity == whole.report.integrity
    assert verify_report(store, tmp_path / "three.json").ok


@pytest.mark.parametrize("scope", [
    ReportScope(),
    ReportScope(from_position=300, to_position=1200),
    ReportScope(event_types=("DeviceRenamed",), from_position=1900),  # parts that list nothing
    ReportScope(actors=("alice", "ops-bot")),
], ids=["whole", "range", "sparse", "actor"])
def test_a_split_summary_pass_makes_the_report_of_one_process(store: SQLiteEventStore, tmp_path: Path,
                                                              scope: ReportScope) -> None:
    """The Report dialog's preview and an HTML report's first pass, over 3 processes."""
    one = analyse(store, scope, now=NOW).report
    run = start_report(store, scope, now=NOW)
    seen: list[tuple[int, int]] = []
    three = parallel.summarise_split(run, parts=3, workdir=tmp_path,
                                     progress=lambda done, total: seen.append((done, total)))
    assert three == run.report == one
    assert one.integrity.event_count == 0 or (one.summary.last_event.sentence and one.summary.first_event.sentence)
    assert seen and seen[-1][0] == seen[-1][1]
    assert list(tmp_path.iterdir()) == []  # the parts' files are gone


def test_a_split_summary_names_the_last_event_as_it_was_before_a_hidden_rename(tmp_path: Path) -> None:
    with SQLiteEventStore.create(tmp_path / "s.evstore") as writable:
        writable.append("device-d1", "Device", [
            NewEvent("DeviceRegistered", {"device_id": "d1", "name": "old-name", "kind": "sensor", "owner": "o"}),
            *[NewEvent("CallReported", {"direction": "in", "number": f"+1 55{k}", "duration_s": k}) for k in range(6)],
            NewEvent("DeviceRenamed", {"name": "new-name"}),
        ], NO_STREAM)
    scope = ReportScope(event_types=("CallReported",))
    with SQLiteEventStore.open(tmp_path / "s.evstore", read_only=True) as store:
        one = analyse(store, scope, now=NOW).report
        run = start_report(store, scope, now=NOW)
        two = parallel.summarise_split(run, parts=2, workdir=tmp_path)
    assert two.summary.last_event.sentence == "Incoming call from +1 555 on old-name, 5 s"
    assert two == one


def test_the_preview_of_a_large_scope_is_split(store: SQLiteEventStore, monkeypatch, tmp_path: Path) -> None:
    from explorer.reports.writer import summary_run

    monkeypatch.setattr(parallel, "SUMMARY_MIN_EVENTS", 400)
    calls: list[int] = []
    real = parallel.summarise_split
    monkeypatch.setattr(parallel, "summarise_split", lambda run, **kw: calls.append(kw["parts"]) or real(run, **kw))
    run = summary_run(store, ReportScope(), jobs=2, now=NOW, workdir=tmp_path)
    assert calls == [2] and run.report == analyse(store, ReportScope(), now=NOW).report


def test_a_cancelled_split_report_leaves_no_file(store: SQLiteEventStore, tmp_path: Path) -> None:
    with pytest.raises(ReportCancelled):
        write_report(store, ReportScope(), tmp_path / "r.csv", split=2, cancelled=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_part_fails_the_report_and_leaves_no_file(store_copy: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        run = start_report(store, ReportScope(), now=NOW)
    shutil.move(store_copy, tmp_path / "moved.evstore")  # the parts cannot open it any more
    with pytest.raises(Exception) as failure, (out_dir / "r.csv").open("wb") as out:
        parallel.write_split(run, out, fmt="csv", parts=2, workdir=out_dir)
    assert not isinstance(failure.value, ReportCancelled)
    assert [p.name for p in out_dir.iterdir()] == ["r.csv"]  # only the file this test opened


@given(st.lists(st.text(alphabet=st.sampled_from('ab ,"\r\n\t=+-@\'→é'), max_size=12), min_size=1, max_size=6))
def test_csv_line_quotes_exactly_like_the_csv_module(cells: list[str]) -> None:
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerow(cells)
    if cells != [""]:  # csv quotes a lone empty field; a report row always has 13
        assert csv_report.csv_line(cells) == expected.getvalue()
    assert next(csv.reader(io.StringIO(csv_report.csv_line(cells)))) == (cells if cells != [""] else [])


_TEXT = st.text(alphabet=st.sampled_from('ab ,"\r\n\t=+-@\'→é'), max_size=6)


@given(st.lists(st.tuples(_TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT,
                          st.lists(st.tuples(_TEXT, _TEXT, _TEXT), max_size=2)), min_size=1, max_size=8))
def test_report_rows_are_what_the_csv_module_writes_of_guarded_cells(rows: list[tuple]) -> None:
    # Few distinct texts, so stream ids, types and actors repeat (write_rows keeps their cells).
    entries = [ReportEntry(n, "2026-01-01T00:00:00.000000Z", occurred, sid, stype, 1, etype, actor, sentence,
                           tuple(FieldChange("p", label, old, new) for label, old, new in changes), eid,
                           "ab" * 32, chash, {}, {})
               for n, (occurred, sid, stype, etype, actor, sentence, eid, chash, _unused, changes) in enumerate(rows)]
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\r\n")
    for e in entries:
        writer.writerow([str(e.position), e.recorded_at] + [csv_report.cell(t) for t in (
            e.occurred_at, e.stream_id, e.stream_type)] + [str(e.version)] + [csv_report.cell(t) for t in (
            e.type, e.actor, e.sentence, csv_report.changes_cell(e), e.event_id)] + [e.event_hash,
                                                                                     csv_report.cell(e.chain_hash)])
    written = io.StringIO()
    assert csv_report.write_rows(entries, written) == len(entries)
    assert written.getvalue() == expected.getvalue()


def test_when_no_process_can_start_the_same_report_is_written_by_this_one(
        store: SQLiteEventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real = parallel.multiprocessing.get_context

    class NoProcesses:
        def __init__(self, method: str) -> None:
            self.context = real(method)

        def __getattr__(self, name: str) -> object:  # Array, Pipe: the real ones
            return getattr(self.context, name)

        def Process(self, *args: object, **kwargs: object) -> object:  # noqa: N802 - multiprocessing's name
            process = self.context.Process(*args, **kwargs)

            def start() -> None:
                raise OSError(9, "Bad file descriptor")

            process.start = start
            return process

    whole = write_report(store, ReportScope(), tmp_path / "one.csv", generated_by="t", split=1)
    monkeypatch.setattr(parallel.multiprocessing, "get_context", NoProcesses)
    fallback = write_report(store, ReportScope(), tmp_path / "fallback.csv", generated_by="t", split=3)
    assert fallback.processes == 1 and "cannot start worker processes" in caplog.text
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "fallback.csv").read_bytes()
    assert fallback.report.integrity == whole.report.integrity


def test_a_script_without_a_main_guard_still_gets_its_report(store_copy: Path, tmp_path: Path) -> None:
    # Spawned processes run such a script again, fail at once, and would be restarted forever by a
    # Pool: the report must come out anyway (in one process), not hang.
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from explorer.reports.model import ReportScope\n"
        "from explorer.reports.writer import write_report\n"
        "from explorer.store.sqlite import SQLiteEventStore\n"
        f"store = SQLiteEventStore.open({str(store_copy)!r}, read_only=True)\n"
        f"result = write_report(store, ReportScope(), {str(tmp_path / 'r.csv')!r}, split=2)\n"
        "print('processes', result.processes, 'events', result.events)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2].startswith("processes 1 events ")
    assert "CSV report in one process" in done.stderr
    with SQLiteEventStore.open(store_copy, read_only=True) as store:
        assert verify_report(store, tmp_path / "r.csv").ok
