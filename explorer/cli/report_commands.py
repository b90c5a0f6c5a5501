"""`event-explorer report`: a verifiable audit report (PDF, HTML, CSV or JSON), headless.

Verification of a report is `event-explorer verify STORE --report FILE` (store_commands).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import apsw

from explorer.cli.common import CliError, non_empty, open_store, parse_time, progress_printer
from explorer.reports.model import ReportCancelled, ReportError, ReportScope
from explorer.reports.writer import FORMATS, format_of, report_files, write_report
from explorer.store.readdb import ReadDatabase
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import TimeTravel


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "report",
        help="write a verifiable audit report (pdf, html, csv, json)",
        description="Write an audit report of a store, a stream or a device and its connected devices. "
                    "Check it later with `event-explorer verify STORE --report FILE`.",
    )
    p.add_argument("store", help="the store file (.evstore)")
    p.add_argument("--stream", action="append", default=[], type=non_empty, metavar="ID",
                   help="only this stream (repeatable)")
    p.add_argument("--connected-to", type=non_empty, metavar="DEVICE",
                   help="a device (stream id, device id, or a name the device registry knows) and every "
                        "device connected to it")
    p.add_argument("--since", type=non_empty, metavar="ISO", help="recorded at or after (ISO 8601; no zone means UTC)")
    p.add_argument("--until", type=non_empty, metavar="ISO", help="recorded at or before (ISO 8601)")
    p.add_argument("--from-position", type=int, metavar="N", help="from this store position on")
    p.add_argument("--to-position", type=int, metavar="N", help="up to this store position, inclusive")
    p.add_argument("--type", action="append", default=[], type=non_empty, metavar="T",
                   help="only this event type (repeatable)")
    p.add_argument("--actor", action="append", default=[], type=non_empty, metavar="A",
                   help="only events by this actor (repeatable)")
    p.add_argument("--format", choices=FORMATS, help="default: from the output file's extension")
    p.add_argument("-o", "--output", required=True, type=non_empty, metavar="FILE",
                   help="the report file to write (.pdf, .html, .csv or .json)")
    p.add_argument("--title", default="", help="the report's title (default: from the scope)")
    p.add_argument("--by", default=None, type=non_empty, metavar="ACTOR", help="who generates it (default: the OS user)")
    p.add_argument("--with-data", action="store_true", help="add an appendix with every event's full data")
    p.add_argument("--bookmarks", action="store_true",
                   help="include the store's saved bookmarks as annotations")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="processes that write a CSV or JSON report of 20,000 events or more "
                        "(default: one per core; 1: this one only)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    output = Path(args.output)
    try:
        fmt = format_of(output, args.format)
    except ReportError as exc:
        raise CliError(f"{exc} (or name the output file .pdf, .html, .csv or .json)") from None
    existing = [path for path in report_files(output, fmt) if path.exists()]
    if existing and not args.force:  # a sidecar too: it may belong to an older report kept under another name
        what = f"{existing[0]}: already exists" if len(existing) == 1 else \
            f"{' and '.join(map(str, existing))} already exist"
        raise CliError(f"{what}; choose another name or pass --force")
    for flag, value in (("--from-position", args.from_position), ("--to-position", args.to_position),
                        ("--jobs", args.jobs)):
        if value is not None and value < 1:
            raise CliError(f"{flag} must be 1 or more")
    scope = ReportScope(
        stream_ids=tuple(args.stream),
        connected_to=args.connected_to,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        from_position=args.from_position,
        to_position=args.to_position,
        event_types=tuple(args.type),
        actors=tuple(args.actor),
    )
    with open_store(args.store) as store:
        readdb = _read_database(store.store_id)
        if scope.connected_to and readdb is not None:
            scope = replace(scope, connected_to=_device_named(store, readdb, scope.connected_to))
        bookmarks = None
        if args.bookmarks and readdb is not None:
            from explorer.store.bookmarks import BookmarkStore

            bookmarks = [(b.position, b.note) for b in BookmarkStore(readdb).list()]
        try:
            result = write_report(
                store, scope, output, fmt=fmt, title=args.title, generated_by=args.by, bookmarks=bookmarks,
                include_data=args.with_data, time_travel=TimeTravel(store, readdb),
                progress=progress_printer(f"report ({fmt})"), jobs=args.jobs,
            )
        except ReportError as exc:
            raise CliError(str(exc)) from None
        except ReportCancelled:
            raise CliError("cancelled; no report was written") from None
        except OSError as exc:
            raise CliError(f"{exc.filename or output}: cannot be written ({exc.strerror or exc})") from None
    integrity = result.report.integrity
    pages = f", {result.pages} pages" if result.pages else ""
    processes = f", written by {result.processes} processes" if result.processes > 1 else ""
    print(f"wrote {result.path} ({fmt}, {result.events:,} events{pages}{processes})")
    if result.sidecar is not None:
        print(f"verification block: {result.sidecar}")
    print(f"event-list digest {integrity.event_list_digest}")
    print(f"store head digest {integrity.head_digest} (head {integrity.head_position:,})")
    sys.stdout.flush()
    return 0


def _device_named(store: SQLiteEventStore, readdb: ReadDatabase, text: str) -> str:
    """`text` as given when the store has such a stream (or bare id), else the device the registry
    read model knows by that name or id (as `graph --connected-to` takes it); the report names
    what it cannot find; a name several devices have had is an error naming them."""
    from explorer.domain.iot.device import device_stream
    from explorer.projections import runner_for
    from explorer.projections.registry import AmbiguousDevice, DeviceNotFound, resolve_device

    if any(store.stream_info(ref) is not None for ref in (text, device_stream(text))):
        return text
    try:
        # A name: the registry read model knows it once it is up to date (as `graph` brings it)
        runner_for(store, readdb).catch_up(names=["registry"], progress=progress_printer("catching up"))
        return resolve_device(readdb, text)
    except AmbiguousDevice as exc:
        raise CliError(str(exc)) from None
    except (DeviceNotFound, apsw.Error):  # unknown, or the registry is not built: the report says so
        return text


def _read_database(store_id: str) -> ReadDatabase | None:
    try:
        return ReadDatabase.for_store(store_id)
    except Exception:  # noqa: BLE001 - no cache directory: reports still work, only slower
        return None


def verify_report_command(args: argparse.Namespace) -> int:
    """`verify STORE --report FILE`: exit 0 when the store matches the report, 1 naming what differs."""
    from explorer.cli.common import EXIT_CHECK_FAILED, print_json
    from explorer.reports.verify import verify_report

    with open_store(args.store) as store:
        try:
            result = verify_report(store, args.report, progress=progress_printer("verifying report"))
        except ReportError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json(result.to_json())
    elif result.ok:
        print(f"ok: the store holds exactly the {result.listed:,} events the report lists; chain intact over "
              f"{result.checked:,} events; event-list digest {result.event_list_digest}")
    else:
        where = f" at position {result.first_bad_position}" if result.first_bad_position is not None else ""
        print(f"FAILED{where}: the store does not match the report {args.report}", file=sys.stderr)
        for problem in result.problems:
            print(f"  {problem.text()}", file=sys.stderr)
    if not args.json:
        for note in result.notes:  # what was not checked (e.g. a CSV's rows when only its sidecar is there)
            print(f"  note: {note}", file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else EXIT_CHECK_FAILED
