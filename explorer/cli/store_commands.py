"""Sub-commands of the foundation: info, events, state, diff, history, verify, demo, migrate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import apsw

from explorer import paths
from explorer.cli.common import (
    EXIT_CHECK_FAILED,
    CliError,
    check_position,
    check_range,
    check_version,
    json_line,
    non_empty,
    open_store,
    parse_time,
    print_json,
    progress_printer,
    streamed_table,
    table,
)
from explorer.demo import check_demo_size, make_demo_store
from explorer.domain.plugins import pack_for
from explorer.store.errors import StoreError, StoreOpenError
from explorer.store.readdb import ReadDatabase
from explorer.store.records import EventFilter, RecordedEvent, StreamInfo, format_time
from explorer.store.sqlite import SQLiteEventStore
from explorer.timetravel import StreamNotFound, TimeTravel, diff, get_path, has_path

PAGE = 5000
TABLE_SAMPLE = 1000  # the events table's column widths are those of its first rows (and kept)
STORE_HELP = "the store file (.evstore)"
STREAM_HELP = "the stream id (e.g. device-<uuid>)"
JSON_HELP = "print JSON instead of text"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("info", help="summary of a store: id, schema, head, counts, digest")
    p.add_argument("store", help=STORE_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=cmd_info)

    p = subparsers.add_parser("events", help="list events (JSON Lines with --json)")
    p.add_argument("store", help=STORE_HELP)
    p.add_argument("--stream", action="append", type=non_empty, help="only this stream (repeatable)")
    p.add_argument("--type", action="append", type=non_empty, help="only this event type (repeatable)")
    p.add_argument("--stream-type", action="append", type=non_empty, help="only this stream type (repeatable)")
    p.add_argument("--from-position", type=int, default=1, metavar="N",
                   help="start at this store position (default 1)")
    p.add_argument("--to-position", type=int, metavar="N", help="end at this store position, inclusive")
    p.add_argument("--since", type=non_empty, metavar="ISO", help="recorded at or after (ISO 8601; no zone means UTC)")
    p.add_argument("--until", type=non_empty, metavar="ISO", help="recorded at or before (ISO 8601)")
    p.add_argument("--limit", type=int, metavar="N", help="at most this many events (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON Lines, one event a line")
    p.set_defaults(handler=cmd_events)

    p = subparsers.add_parser("state", help="a stream's replayed state (at the head by default)")
    p.add_argument("store", help=STORE_HELP)
    p.add_argument("stream", help=STREAM_HELP)
    at = p.add_mutually_exclusive_group()
    at.add_argument("--at-version", type=int, metavar="N",
                    help="as of the stream's version N (0: before its first event)")
    at.add_argument("--at-position", type=int, metavar="N", help="as of store position N (0 to the head)")
    at.add_argument("--at-time", type=non_empty, metavar="ISO", help="as of this time (ISO 8601; no zone means UTC)")
    p.add_argument("--json", action="store_true", help="print the state as JSON")
    p.set_defaults(handler=cmd_state)

    p = subparsers.add_parser("diff", help="what changed in a stream's state between two versions")
    p.add_argument("store", help=STORE_HELP)
    p.add_argument("stream", help=STREAM_HELP)
    p.add_argument("--from-version", type=int, required=True, metavar="N",
                   help="the stream's state as of version N (0: before its first event) ...")
    p.add_argument("--to-version", type=int, required=True, metavar="N", help="... compared with version N")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=cmd_diff)

    p = subparsers.add_parser("history", help="the events that changed one field of a stream's state")
    p.add_argument("store", help=STORE_HELP)
    p.add_argument("stream", help=STREAM_HELP)
    p.add_argument("field", metavar="FIELD.PATH", help="the field; dots for nested ones (e.g. name, last_call.duration)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=cmd_history)

    p = subparsers.add_parser("verify", help="check SQLite integrity and the chain hash of every event")
    p.add_argument("store", help=STORE_HELP)
    p.add_argument("--report", metavar="REPORT",
                   help="instead, check that the store still holds exactly the events this report lists "
                        "(.json, .html, or a .pdf/.csv with its .verify.json sidecar)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=cmd_verify)

    p = subparsers.add_parser("demo", help="make a realistic, deterministic demo store")
    p.add_argument("store", nargs="?", help=f"where to make it (default: {paths.demo_store_path()})")
    p.add_argument("--devices", type=int, default=200, metavar="N", help="how many devices (default %(default)s)")
    p.add_argument("--events", type=int, default=20_000, metavar="N",
                   help="about how many events (default %(default)s)")
    p.add_argument("--days", type=int, default=30, metavar="N",
                   help="the days of history they span (default %(default)s)")
    p.add_argument("--seed", type=int, default=7, metavar="N",
                   help="the random seed: the same seed makes the same store (default %(default)s)")
    p.set_defaults(handler=cmd_demo, writes_store=True)

    p = subparsers.add_parser("migrate", help="upgrade a store of an older schema (a backup is kept)")
    p.add_argument("store", help=STORE_HELP)
    p.set_defaults(handler=cmd_migrate, writes_store=True)


# -- handlers ---------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        head = store.head()
        span = store.time_span()
        info: dict[str, Any] = {
            "path": str(store.path),
            "store_id": store.store_id,
            "schema_version": store.schema_version,
            "created_at": store.created_at,
            "head_position": head.position,
            "events": head.position,
            "streams": store.count_streams(),
            "stream_types": {t: {"streams": n, "events": e} for t, (n, e) in store.counts_by_stream_type().items()},
            "event_types": store.counts_by_event_type(),
            "first_recorded_at": format_time(span[0]) if span else None,
            "last_recorded_at": format_time(span[1]) if span else None,
            "digest": head.chain_hash,
            "read_only": store.read_only,
        }
    if args.json:
        print_json(info)
        return 0
    out = sys.stdout
    out.write(f"store        {info['path']}\n")
    out.write(f"id           {info['store_id']}\n")
    out.write(f"schema       {info['schema_version']}\n")
    out.write(f"head         {info['head_position']:,}\n")
    out.write(f"streams      {info['streams']:,}\n")
    recorded = f"{info['first_recorded_at']} .. {info['last_recorded_at']}" if span else "no events yet"
    out.write(f"recorded     {recorded}\n")
    out.write(f"digest       {info['digest']}\n")
    out.write("stream types\n")
    for name, c in info["stream_types"].items():
        out.write(f"  {name:<22} {c['streams']:>10,} streams {c['events']:>12,} events\n")
    out.write("event types\n")
    for name, n in info["event_types"].items():
        out.write(f"  {name:<22} {n:>12,}\n")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    check_range("--limit", args.limit, 0)
    check_range("--from-position", args.from_position, 0)
    check_range("--to-position", args.to_position, 0)
    filters = EventFilter(
        stream_types=tuple(args.stream_type) if args.stream_type else None,
        event_types=tuple(args.type) if args.type else None,
        stream_ids=tuple(args.stream) if args.stream else None,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
    )
    problems = 0

    def checked(events: Any) -> Any:
        nonlocal problems
        for event in events:
            if event.problem:
                problems += 1
                print(f"error: position {event.position}: {event.problem}", file=sys.stderr)
            yield event

    with open_store(args.store) as store:
        events = checked(_stream_events(store, args.from_position, args.to_position, filters, args.limit))
        if args.json:
            out = sys.stdout
            for event in events:
                out.write(json_line(event.to_json()))
                out.write("\n")
        else:
            # Printed as read (flat memory on any store size), under one header. No position or
            # version exceeds the head, so those columns are as wide as its number from the start.
            digits = len(str(store.head().position))
            streamed_table((_event_row(event) for event in events),
                           ["position", "recorded_at", "stream", "ver", "type", "actor", "summary"],
                           sample=TABLE_SAMPLE, min_widths=[digits, 0, 0, digits])
    return EXIT_CHECK_FAILED if problems else 0


def _stream_events(store: SQLiteEventStore, start: int, end: int | None, filters: EventFilter,
                   limit: int | None) -> Any:
    """Every matching event, read in pages so memory stays flat."""
    remaining = limit
    position = start
    while remaining is None or remaining > 0:
        page = PAGE if remaining is None else min(PAGE, remaining)
        batch = list(store.read_all(position, end, page, filters))
        yield from batch
        if len(batch) < page:
            return
        position = batch[-1].position + 1
        if remaining is not None:
            remaining -= len(batch)


def _event_row(event: RecordedEvent) -> list[str]:
    summary = pack_for(event.stream_type).sentence(event.type, event.data, event.stream_id) \
        if not event.problem else f"<{event.problem}>"
    return [
        str(event.position),
        format_time(event.recorded_at)[:19] + "Z",
        event.stream_id,
        str(event.version),
        event.type,
        str(event.metadata.get("actor", "")),
        summary.replace("\n", " ")[:100],
    ]


def _time_travel(store: SQLiteEventStore) -> TimeTravel:
    try:
        readdb = ReadDatabase.for_store(store.store_id)
    except Exception:  # no cache dir: time travel still answers, only slower
        readdb = None
    return TimeTravel(store, readdb)


def _stream_info(store: SQLiteEventStore, stream_id: str) -> StreamInfo:
    info = store.stream_info(stream_id)
    if info is None:
        raise CliError(f"no stream {stream_id!r} in this store")
    return info


def cmd_state(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        info = _stream_info(store, args.stream)
        check_version("--at-version", args.at_version, info.stream_id, info.version)
        check_position("--at-position", args.at_position, store.head().position)
        result = _time_travel(store).state_at(  # the stream is there: _stream_info said so
            args.stream,
            version=args.at_version,
            position=args.at_position,
            time=parse_time(args.at_time) if args.at_time else None,
        )
    if args.json:
        print_json(result.state)
    else:
        print(f"{result.stream_id} ({result.stream_type}) at version {result.version}")
        _print_tree(result.state, pack_for(result.stream_type).label)
    return 0


def _print_tree(value: Any, label: Any, indent: int = 1, prefix: str = "") -> None:
    if not isinstance(value, dict):
        print("  " * indent + repr(value))
        return
    for key, item in value.items():
        path = f"{prefix}.{key}" if prefix else key
        name = f"{key} ({label(path)})" if label(path) != path else key
        if isinstance(item, dict):
            print("  " * indent + f"{name}:")
            _print_tree(item, label, indent + 1, path)
        else:
            print("  " * indent + f"{name}: {item!r}" if not isinstance(item, str) else "  " * indent + f"{name}: {item}")


def cmd_diff(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        info = _stream_info(store, args.stream)
        check_version("--from-version", args.from_version, info.stream_id, info.version)
        check_version("--to-version", args.to_version, info.stream_id, info.version)
        tt = _time_travel(store)  # the stream is there: _stream_info said so
        a = tt.state_at(args.stream, version=args.from_version)
        b = tt.state_at(args.stream, version=args.to_version)
    changes = diff(a.state, b.state)
    if args.json:
        print_json({"stream_id": a.stream_id, "from_version": a.version, "to_version": b.version,
                    "changes": [c.to_json() for c in changes]})
        return 0
    label = pack_for(a.stream_type).label
    print(f"{a.stream_id}: version {a.version} -> {b.version}, {len(changes)} change(s)")
    for c in changes:
        print(f"  {c.kind:<8} {label(c.path)}: {c.old!r} -> {c.new!r}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        tt = _time_travel(store)
        try:
            changes = tt.history(args.stream, args.field)
        except StreamNotFound as exc:
            raise CliError(str(exc)) from None
        if not changes:  # a typo gets a message, not an empty table
            # A value that never changed is either always there or never: the head's state tells which.
            state = tt.state_at(args.stream).state
            if not has_path(state, args.field):
                raise CliError(_no_such_field(state, args.field))
    if args.json:
        print_json([
            {"position": c.position, "version": c.version, "recorded_at": format_time(c.recorded_at),
             "type": c.event_type, "old": c.old, "new": c.new}
            for c in changes
        ])
        return 0
    table(
        [[str(c.position), str(c.version), format_time(c.recorded_at)[:19] + "Z", c.event_type,
          f"{c.old!r} -> {c.new!r}"] for c in changes],
        ["position", "ver", "recorded_at", "type", "change"],
    )
    return 0


def _no_such_field(state: Any, path: str) -> str:
    """Why a dotted path names nothing in `state`, with the fields there are where it goes wrong."""
    parts = path.split(".")
    for depth in range(len(parts)):
        parent = ".".join(parts[:depth])
        if not has_path(state, ".".join(parts[: depth + 1])):
            value = get_path(state, parent) if parent else state
            where = f" under {parent!r}" if parent else ""
            if isinstance(value, dict):
                return (f"no field {parts[depth]!r}{where} in this stream's state; "
                        f"its fields: {', '.join(map(str, value))}")
            return f"no field {path!r} in this stream's state ({parent!r} is {value!r})"
    return f"no field {path!r} in this stream's state"


def cmd_verify(args: argparse.Namespace) -> int:
    if getattr(args, "report", None):
        from explorer.cli.report_commands import verify_report_command

        return verify_report_command(args)
    with open_store(args.store) as store:
        result = store.verify(progress=progress_printer("verifying"))
    if args.json:
        print_json({"ok": result.ok, "checked": result.checked, "digest": result.digest if result.ok else None,
                    "first_bad_position": result.first_bad_position, "message": result.message})
    elif result.ok:
        print(f"ok: {result.checked:,} events, chain intact; digest {result.digest}")
    else:
        where = f" at position {result.first_bad_position}" if result.first_bad_position else ""
        print(f"FAILED{where}: {result.message}", file=sys.stderr)
    return 0 if result.ok else EXIT_CHECK_FAILED


def cmd_demo(args: argparse.Namespace) -> int:
    target = Path(args.store) if args.store else paths.demo_store_path()
    exists = f"{target}: already exists; choose a new path (the demo never overwrites a file)"
    try:  # before anything is made: a bad size must leave no file behind
        check_demo_size(devices=args.devices, events=args.events, days=args.days)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if target.exists() or target.is_symlink():
        raise CliError(exists)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{target.parent}: cannot make the folder ({exc.strerror or exc}); nothing was written") from None
    try:
        summary = make_demo_store(target, devices=args.devices, events=args.events, days=args.days,
                                  seed=args.seed, progress=progress_printer("demo"))
    except FileExistsError:
        raise CliError(exists) from None
    except BaseException as exc:  # make_demo_store removed what it had made
        interrupted = isinstance(exc, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt)
        if interrupted:  # Ctrl+C, perhaps surfacing as the ROLLBACK that failed under it
            raise CliError("interrupted; nothing was written", code=130) from None
        if isinstance(exc, StoreOpenError):
            raise CliError(f"{target}: cannot make the demo store ({exc}); nothing was written") from None
        if isinstance(exc, ValueError | StoreError | apsw.Error | OSError):
            reason = str(exc).split(": ", 1)[-1] if isinstance(exc, apsw.Error) else str(exc)
            raise CliError(f"{target}: the demo store could not be made ({reason}); nothing was written") from None
        raise
    print(f"made {target}: {summary.events:,} events, {summary.devices} devices; digest {summary.digest}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    try:
        store = SQLiteEventStore.open(Path(args.store), migrate=True)
    except (StoreOpenError, StoreError) as exc:
        raise CliError(str(exc)) from None
    with store:
        print(f"{store.path}: schema version {store.schema_version}")
    return 0


