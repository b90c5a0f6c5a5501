"""Sub-commands of the write side: `exec` (one command, headless) and `simulate` (other writers).

`exec` exit codes: 0 recorded (prints the positions), 1 the domain said no (its message),
3 another writer was first (expected and actual versions), 2 bad input.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from explorer import commands
from explorer.cli.common import (
    EXIT_CHECK_FAILED,
    CliError,
    OneLineParser,
    check_range,
    non_empty,
    open_store,
    print_json,
)
from explorer.domain.decider import DomainError
from explorer.domain.iot import device as dev
from explorer.simulate import SimulationSummary, simulate
from explorer.store.errors import ConcurrencyError, StoreError
from explorer.store.sqlite import SQLiteEventStore

EXIT_CONFLICT = 3
MAX_SIMULATED_DEVICES = 100_000  # far more than a simulation needs; the store is asked for 4x as many


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # argparse cannot mix FIELD=VALUE positionals with options after them, so `exec` hands its
    # whole argument list to its own parser, which parses them intermixed.
    p = subparsers.add_parser("exec", help="issue one command on a stream (exit 1: rejected, 3: version conflict)",
                              add_help=False, usage=exec_parser().format_usage().removeprefix("usage: "),
                              prefix_chars="\x01")  # no argument looks like an option to this level
    p.add_argument("argv", nargs="*")
    p.set_defaults(handler=cmd_exec, writes_store=True)

    p = subparsers.add_parser(
        "simulate",
        help="other writers: issue realistic commands at a rate (conflicts included)",
        description="Run simulated clients that issue commands through the real write path, some "
        "on the same devices, so version conflicts really happen. Stop with Ctrl+C.",
    )
    p.add_argument("store", help="the store file (.evstore)")
    p.add_argument("--rate", type=float, default=20.0, help="events per second (default 20)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    p.add_argument("--devices", type=int, default=8, help="how many devices to work on (default 8)")
    p.add_argument("--stream", action="append", type=non_empty,
                   help="work on this device stream too: an active Device in the store (repeatable)")
    p.add_argument("--seed", type=int, metavar="N", help="the random seed, for a repeatable choice of commands")
    p.add_argument("--max-events", type=int, help="stop after this many events")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=cmd_simulate, writes_store=True)


def exec_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="event-explorer exec",
        description="Issue one command through the real deciders and append path. Fields are "
        "field=value pairs (e.g. name=gateway-7); a RegisterDevice's device_id defaults to the "
        "stream's id and a ReportCall's occurred_at to now. Exit codes: 0 recorded, 1 rejected by "
        "the domain, 2 bad input, 3 another writer was first (version conflict).",
    )
    p.add_argument("store", help="the store file (.evstore)")
    p.add_argument("command", metavar="COMMAND", help="e.g. RegisterDevice, rename, connect-device")
    p.add_argument("fields", nargs="*", metavar="FIELD=VALUE", help="the command's fields (e.g. name=gateway-7)")
    p.add_argument("--stream", required=True, type=non_empty, help="the stream id (device-<uuid>)")
    p.add_argument("--stream-type", default=dev.STREAM_TYPE, type=non_empty,
                   help="the type of a new stream (default: Device)")
    p.add_argument("--expected-version", type=int, help="fail with exit 3 unless the stream is at this version")
    p.add_argument("--actor", type=non_empty, help="who issues it (default: the OS user)")
    p.add_argument("--correlation-id", type=non_empty, metavar="ID",
                   help="the id shared by the events of one piece of work (metadata)")
    p.add_argument("--causation-id", type=non_empty, metavar="ID",
                   help="the id of the message that caused this command (metadata)")
    p.add_argument("--retries", type=int, default=0, help="re-decide on the fresh state this often after a conflict")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    return p


def parse_fields(command_type: type, pairs: list[str], stream_id: str) -> Any:
    """A command instance from `field=value` strings, typed by the fields' editors."""
    known = {f.name: f for f in fields(command_type)}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CliError(f"{pair!r}: give fields as name=value")
        spec = known.get(name)
        if spec is None:
            raise CliError(f"{command_type.__name__} has no field {name!r} (fields: {', '.join(_user_fields(command_type))})")
        editor = spec.metadata.get("editor", "text")
        if editor == "fact":
            raise CliError(f"{name!r} is read from the store when the command is handled; do not give it")
        if editor == "number":
            try:
                values[name] = int(text)
            except ValueError:
                raise CliError(f"{name}={text!r}: not a whole number") from None
        elif editor == "device":
            values[name] = dev.device_id_of(text.strip())  # a stream id or a device id
        else:
            values[name] = text
    if command_type is dev.RegisterDevice:
        values.setdefault("device_id", dev.device_id_of(stream_id))
    if command_type is dev.ReportCall:
        values.setdefault("occurred_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    missing = [n for n in _user_fields(command_type) if n not in values]
    if missing:
        raise CliError(f"{command_type.__name__} needs {', '.join(f'{n}=…' for n in missing)}")
    return command_type(**values)


def _user_fields(command_type: type) -> list[str]:
    return [f.name for f in fields(command_type) if f.metadata.get("editor") != "fact"]


def cmd_exec(outer: argparse.Namespace) -> int:
    args = exec_parser().parse_intermixed_args(outer.argv)
    try:
        command_type = commands.command_by_name(args.command, args.stream_type)
    except DomainError as exc:
        raise CliError(str(exc)) from None
    command = parse_fields(command_type, args.fields, args.stream)
    if command_type is dev.RegisterDevice and dev.device_stream(command.device_id) != args.stream:
        raise CliError(f"a device registered as {command.device_id!r} lives in stream "
                       f"{dev.device_stream(command.device_id)!r}, not {args.stream!r}")
    if args.retries < 0:
        raise CliError("--retries must be >= 0")
    store = open_store(args.store, read_only=False)
    try:
        try:
            recorded = commands.handle(
                store, args.stream, command, expected_version=args.expected_version, actor=args.actor,
                correlation_id=args.correlation_id, causation_id=args.causation_id, retries=args.retries,
                stream_type=args.stream_type,
            )
        except DomainError as exc:
            _report(args, {"outcome": "rejected", "message": str(exc)}, f"rejected: {exc}", error=True)
            return EXIT_CHECK_FAILED
        except ConcurrencyError as exc:
            expected = exc.expected if isinstance(exc.expected, int) else str(exc.expected)
            _report(args, {"outcome": "conflict", "stream_id": exc.stream_id, "expected_version": expected,
                           "actual_version": exc.actual, "message": str(exc)},
                    f"conflict: {exc.stream_id} is at version {exc.actual}, expected {expected}; "
                    "nothing was recorded", error=True)
            return EXIT_CONFLICT
        except StoreError as exc:
            raise CliError(str(exc)) from None
    finally:
        store.close()
    positions = list(recorded.positions)
    _report(args, {"outcome": "recorded", "stream_id": recorded.stream_id, "positions": positions,
                   "version": recorded.version, "command_id": recorded.command_id, "attempts": recorded.attempts},
            f"recorded at position{'s' if len(positions) > 1 else ''} {', '.join(map(str, positions))} "
            f"({recorded.stream_id} is now at version {recorded.version})")
    return 0


def _report(args: argparse.Namespace, payload: dict[str, Any], text: str, *, error: bool = False) -> None:
    if args.json:
        print_json(payload)
    elif error:
        print(text, file=sys.stderr)
    else:
        print(text)


def _check_simulated_stream(store: SQLiteEventStore, stream_id: str) -> None:
    """A CliError unless `simulate --stream` can issue commands on the stream (an active Device):
    the simulator would only skip it, and with nothing else to do end at once with 0 events."""
    info = store.stream_info(stream_id)
    if info is None:
        raise CliError(f"--stream {stream_id}: no such stream in this store; simulate works on the "
                       f"{dev.STREAM_TYPE} streams there are (leave --stream out to let it choose or register them)")
    if info.stream_type != dev.STREAM_TYPE:
        raise CliError(f"--stream {stream_id}: a {info.stream_type} stream; simulate issues commands "
                       f"on {dev.STREAM_TYPE} streams only")
    status = commands.load(store, stream_id).state["status"]
    if status != "active":
        raise CliError(f"--stream {stream_id}: the device is {status}; simulate can issue no command on it")


def cmd_simulate(args: argparse.Namespace) -> int:
    # `nan <= 0` is False: test for what is wanted, a finite number above 0.
    if not (math.isfinite(args.rate) and args.rate > 0):
        raise CliError(f"--rate must be a number > 0 events per second (not {args.rate})")
    if not (math.isfinite(args.duration) and args.duration > 0):
        raise CliError(f"--duration must be a number > 0 seconds (not {args.duration})")
    check_range("--max-events", args.max_events, 1)
    check_range("--devices", args.devices, 1, MAX_SIMULATED_DEVICES)
    stop = {"now": False}

    def interrupted(*_: object) -> None:
        stop["now"] = True  # finish the command in flight, then print the summary

    def stop_when_locked(summary: SimulationSummary) -> None:
        if summary.locked:  # it waited the whole busy timeout: another writer holds the store, give up
            stop["now"] = True

    with open_store(args.store, read_only=False) as store:
        for stream_id in args.stream or []:
            _check_simulated_stream(store, stream_id)
        previous = signal.signal(signal.SIGINT, interrupted)
        try:
            summary = simulate(store, rate=args.rate, duration=args.duration, devices=args.devices, seed=args.seed,
                               streams=args.stream, max_events=args.max_events, should_stop=lambda: stop["now"],
                               on_step=stop_when_locked)
        except StoreError as exc:
            raise CliError(str(exc)) from None
        finally:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json(summary.to_json())
    else:
        data = summary.to_json()
        print(f"{data['events']} events from {data['commands']} commands in {data['seconds']} s "
              f"({data['events_per_s']}/s); {data['conflicts']} conflicts ({data['resolved']} re-decided and "
              f"recorded), {data['rejections']} rejections")
    if summary.locked:  # as `exec` does: the store would not take a command, so exit 2 and say why
        reason = (summary.lock_message or f"{args.store}: the store stayed locked").removesuffix("; nothing was written")
        raise CliError(f"{reason}; simulate stopped there, after recording {summary.events} events")
    return 0
