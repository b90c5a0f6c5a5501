"""Sub-commands of the read side: project (read model status, catch up, rebuild), graph, search.

Read models live in the read database in the cache directory, so every one of these works on a
store opened read-only: nothing is ever written into the store.

`project --progress-json --control-stdin [--linger S]` is how the desktop app runs its read models
in a child process (explorer/ui/projection_service.py). The protocol, one JSON object per stdout line:

- `{"event": "started", "action": "catch-up" | "rebuild", "names": [...] | null, "pid": N, "store": ..., "read_database": ..., "read_models": [status, ...]}`
- `{"event": "progress", "action": ..., "done": N, "total": N, "rates": {name: events/s}, "read_models": [...]}`
  (at most every 0.2 s; `status` is `ProjectionStatus.to_json()`)
- one end per run: `{"event": "done" | "cancelled" | "stopped", "action": ..., "names": ..., "read": N | null,
  "read_models": [...], "checkpoints": {name: position}, "peak_rss_mb": float | null}`

Commands on stdin (with --control-stdin), one a line: `stop` (end after the current batch, keep what
is applied - a rebuild resumes next time - and exit), `cancel` (a rebuild drops its partial
generation: the live model is untouched), `catch-up` / `rebuild [NAME[,NAME...]]` (another run,
while lingering). The end of stdin means `stop`: the program that started this one is gone, so a
child never outlives the app. SIGTERM means `stop` too. Errors keep the usual `error:` line on
stderr and exit 2; a stopped or cancelled run exits 130 (interrupted, as Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import apsw

from explorer import paths

from explorer.cli.common import (
    EXIT_CHECK_FAILED,
    CliError,
    check_position,
    check_range,
    json_line,
    non_empty,
    one_line,
    open_store,
    parse_time,
    print_json,
    progress_printer,
    table,
)
from explorer.projections import READ_MODELS, runner_for
from explorer.projections import graph as graph_model
from explorer.projections.registry import DeviceNotFound, names_at, resolve_device
from explorer.projections.runner import (
    FAILED,
    ProjectionRunner,
    ProjectionStatus,
    ReadDatabaseBusy,
    RebuildCancelled,
    format_lag,
)
from explorer.projections.search import search
from explorer.store.sqlite import SQLiteEventStore


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "project", help="bring every read model up to the head and show its status; --rebuild rebuilds")
    p.add_argument("store", help="the store file (.evstore)")
    p.add_argument("--rebuild", nargs="?", const="all", type=non_empty, metavar="NAME",
                   help=f"rebuild one read model ({', '.join(m.name for m in READ_MODELS)}), several "
                        "(comma-separated) or all of them")
    p.add_argument("--status-only", action="store_true", help="only show the status; apply nothing")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument("--progress-json", action="store_true",
                   help="for programs (the app runs its read models this way): print JSON lines on stdout "
                        "instead of the table - 'started', 'progress' (every 0.2 s) and one 'done', "
                        "'cancelled' or 'stopped' per run, each with every read model's status")
    p.add_argument("--control-stdin", action="store_true",
                   help="read commands from stdin, one a line: 'stop' (end after the current batch, keeping "
                        "what is applied), 'cancel' (a rebuild drops its partial read model), 'catch-up' or "
                        "'rebuild [NAMES]' (another run while --linger waits); end of input means stop")
    p.add_argument("--linger", type=float, default=0.0, metavar="SECONDS",
                   help="with --control-stdin: after a run, wait this long for another command before exiting")
    p.add_argument("--background", action="store_true",
                   help="run at a lower CPU priority, so an interactive program beside it stays responsive")
    p.set_defaults(handler=cmd_project)

    p = subparsers.add_parser("graph", help="the device-connection graph as of a position or time")
    p.add_argument("store", help="the store file (.evstore)")
    at = p.add_mutually_exclusive_group()
    at.add_argument("--at-position", type=int, metavar="N", help="as of store position N (0 to the head; default: the head)")
    at.add_argument("--at-time", type=non_empty, metavar="ISO", help="as of this time (ISO 8601; no zone means UTC)")
    query = p.add_mutually_exclusive_group()
    query.add_argument("--connected-to", type=non_empty, metavar="DEVICE",
                       help="devices connected to DEVICE directly or transitively (stream id, device id or name)")
    query.add_argument("--path", nargs=2, type=non_empty, metavar=("A", "B"),
                       help="a shortest chain of connections from A to B")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=cmd_graph)

    p = subparsers.add_parser("search", help="full-text search over devices (name, owner, kind) and the events"
                                             " of Device streams (other stream types are not indexed)")
    p.add_argument("store", help="the store file (.evstore)")
    p.add_argument("text", help="the words to find (put -- before text that starts with '-')")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N hits (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=cmd_search)


# The read database is the only file these commands write. A cache folder that cannot be made or
# written is the user's to fix or move, not a damaged store (the store is open read-only).
_READ_DATABASE_UNWRITABLE = (apsw.CantOpenError, apsw.ReadOnlyError, apsw.PermissionsError)


def _cache_folder_problem(exc: BaseException) -> CliError:
    if isinstance(exc, OSError):
        reason = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
    else:
        reason = str(exc).split(": ", 1)[-1]
    return CliError(f"cannot keep the read models in the cache folder {paths.cache_dir()} ({reason}); "
                    "set EXPLORER_CACHE_DIR to a folder you can write; nothing was written to the store")


def _runner(store: SQLiteEventStore) -> ProjectionRunner:
    """The store's read-model runner; its read database is made in the cache folder if need be."""
    try:
        return runner_for(store)
    except (OSError, *_READ_DATABASE_UNWRITABLE) as exc:
        raise _cache_folder_problem(exc) from None


@contextmanager
def _read_database_writes() -> Iterator[None]:
    """A read database that opened but cannot be written (a read-only file or folder): one line."""
    try:
        yield
    except _READ_DATABASE_UNWRITABLE as exc:
        raise _cache_folder_problem(exc) from None


def _catch_up(store: SQLiteEventStore, names: list[str] | None = None, *, quiet: bool = False) -> ProjectionRunner:
    runner = _runner(store)
    label = "catching up"
    progress = None if quiet else progress_printer(label)
    runner.catch_up(progress=progress, names=names)
    failed = [s for s in runner.status() if s.state == FAILED and (names is None or s.name in names)]
    for status in failed:
        assert status.failure is not None
        print(f"warning: read model {status.name} stopped at position {status.failure.position} "
              f"({status.failure.type}): {status.failure.error}", file=sys.stderr)
    return runner


def _status_rows(statuses: list[ProjectionStatus]) -> list[list[str]]:
    rows = []
    for s in statuses:
        note = ""
        if s.failure is not None:
            note = f"failed at {s.failure.position} ({s.failure.type}): {s.failure.error}"
        elif s.rebuild_checkpoint is not None:
            note = f"rebuild at {s.rebuild_checkpoint:,}"
        rows.append([s.name, s.state, f"{s.checkpoint:,}", f"{s.head:,}", f"{s.lag_events:,}",
                     format_lag(s.lag_seconds), f"{s.events_per_second:,.0f}" if s.events_per_second else "-", note])
    return rows


def _rebuild_names(runner: ProjectionRunner, text: str) -> list[str] | None:
    """None for "all", else the named read models (comma-separated), each checked."""
    if text.strip() in ("", "all"):
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise CliError(f"{text!r} names no read model; name one or more of {', '.join(runner.projections)} "
                       "(comma-separated), or none to rebuild all")
    for name in names:
        if name not in runner.projections:
            raise CliError(f"no read model named {name!r} (known: {', '.join(runner.projections)})")
    return names


def cmd_project(args: argparse.Namespace) -> int:
    try:
        with _read_database_writes():
            return _project(args)
    except ReadDatabaseBusy as exc:  # the runner already waited and tried again (BEGIN IMMEDIATE)
        raise CliError(f"the read database stayed locked by another program ({exc}); nothing was lost, "
                       "the read models go on from their checkpoints next time") from None


def _project(args: argparse.Namespace) -> int:
    if args.linger < 0:
        raise CliError("--linger must be 0 or more seconds")
    if (args.control_stdin or args.linger) and not args.progress_json:
        raise CliError("--control-stdin and --linger need --progress-json")
    if args.progress_json and args.json:
        raise CliError("--json and --progress-json cannot be combined (--progress-json ends with the status)")
    if args.progress_json and args.status_only:
        raise CliError("--status-only and --progress-json cannot be combined")
    if args.background:
        _lower_priority()
    if args.progress_json:
        return _project_for_a_program(args)
    with open_store(args.store) as store:
        runner = _runner(store)
        if args.rebuild:
            names = _rebuild_names(runner, args.rebuild)
            runner.rebuild(names, progress=progress_printer("rebuilding"))
        elif not args.status_only:
            runner.catch_up(progress=progress_printer("catching up"))
        statuses = runner.status()
        if args.json:
            print_json({"store": str(store.path), "read_database": str(runner.readdb.path),
                        "read_models": [s.to_json() for s in statuses]})
        else:
            table(_status_rows(statuses), ["read model", "state", "checkpoint", "head", "lag", "lag (time)",
                                           "events/s", ""])
        return EXIT_CHECK_FAILED if any(s.state == FAILED for s in statuses) else 0


# -- for programs: JSON lines out, commands in ----------------------------------------------------

PROGRESS_EVERY_S = 0.2  # a panel needs no more; every line costs a status query
CONTROL_BUSY_TIMEOUT_MS = 60_000  # a background child waits for the app's own writes (snapshots), never fails on them
EXIT_INTERRUPTED = 130


class _Stop(Exception):
    """Raised from the progress callback to end a rebuild at a batch boundary without dropping it."""


@dataclass
class _Control:
    """Commands read from stdin by a daemon thread (and SIGTERM): what the app asks the child.

    Attributes:
        stop: end the run after the current batch and exit.
        cancel: a running rebuild drops its partial generation.
        requests: further runs asked for while lingering ((action, names) or None at the end).
    """

    stop: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    requests: queue.Queue[tuple[str, str] | None] = field(default_factory=queue.Queue)

    def listen(self) -> None:
        threading.Thread(target=self._read, name="project-control", daemon=True).start()
        try:  # only the flag: a handler must not take the queue's lock the main thread may hold
            signal.signal(signal.SIGTERM, lambda _sig, _frame: self.stop.set())
        except (ValueError, OSError):  # not the main thread, or no such signal here
            pass

    def end(self) -> None:
        self.stop.set()
        self.requests.put(None)

    def _read(self) -> None:
        for line in sys.stdin:
            command, _, rest = line.strip().partition(" ")
            if command == "stop":
                break
            if command == "cancel":
                self.cancel.set()
            elif command in ("catch-up", "rebuild"):
                self.cancel.clear()  # here, not when the run starts: a "cancel" right behind it counts
                self.requests.put((command, rest.strip()))
        self.end()  # "stop", or end of input: whoever started us is gone


def _lower_priority() -> None:
    """Below normal CPU priority: the app's window, not its background build, gets a busy core first."""
    try:
        if sys.platform == "win32":
            import ctypes

            below_normal = 0x4000  # BELOW_NORMAL_PRIORITY_CLASS
            ctypes.windll.kernel32.SetPriorityClass(ctypes.windll.kernel32.GetCurrentProcess(), below_normal)
        else:
            os.nice(10)
    except (OSError, AttributeError):  # not allowed, or not on this platform: run at normal priority
        pass


def _peak_rss_mb() -> float | None:
    try:
        import resource  # POSIX only

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError, ValueError):
        return None
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _emit(value: dict[str, Any]) -> None:
    sys.stdout.write(json_line(value) + "\n")
    sys.stdout.flush()


def _run_for_a_program(runner: ProjectionRunner, action: str, names: list[str] | None, control: _Control) -> int:
    """One catch-up or rebuild, reported as JSON lines; the exit code it means."""
    last = [0.0]

    def statuses() -> list[dict[str, Any]]:
        return [s.to_json() for s in runner.status()]

    def progress(done: int, total: int) -> None:
        if control.stop.is_set() and action == "rebuild" and not control.cancel.is_set():
            raise _Stop  # between two batches: everything committed stays, the rebuild resumes later
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            _emit({"event": "progress", "action": action, "done": done, "total": total,
                   "rates": {k: round(v, 1) for k, v in runner.rates.items()}, "read_models": statuses()})

    _emit({"event": "started", "action": action, "names": names, "pid": os.getpid(),
           "store": str(getattr(runner.store, "path", "")), "read_database": str(runner.readdb.path),
           "read_models": statuses()})
    end, read = "done", None
    runner.rates.clear()
    try:
        if action == "rebuild":
            runner.rebuild(names, cancelled=control.cancel.is_set, progress=progress)
        else:
            read = runner.catch_up(cancelled=control.stop.is_set, progress=progress)
            if control.stop.is_set():
                end = "stopped"
    except RebuildCancelled:
        end = "cancelled"
    except _Stop:
        end = "stopped"
    final = statuses()
    _emit({"event": end, "action": action, "names": names, "read": read, "read_models": final,
           "checkpoints": runner.checkpoints(), "peak_rss_mb": _peak_rss_mb()})
    if end != "done":
        return EXIT_INTERRUPTED
    return EXIT_CHECK_FAILED if any(s["state"] == FAILED for s in final) else 0


def _next_request(control: _Control, linger: float) -> tuple[str, str] | None:
    """The next run asked for within `linger` seconds; None at the end (time up, stop, SIGTERM)."""
    deadline = time.monotonic() + linger
    while not control.stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return control.requests.get(timeout=min(left, 0.25))
        except queue.Empty:
            continue
    return None


def _project_for_a_program(args: argparse.Namespace) -> int:
    control = _Control()
    if args.control_stdin:
        control.listen()
    with open_store(args.store) as store:
        runner = _runner(store)
        if args.control_stdin:
            runner.readdb.db.setbusytimeout(CONTROL_BUSY_TIMEOUT_MS)
        action, names = ("rebuild", _rebuild_names(runner, args.rebuild)) if args.rebuild else ("catch-up", None)
        code = _run_for_a_program(runner, action, names, control)
        while not control.stop.is_set() and args.control_stdin and args.linger > 0:
            request = _next_request(control, args.linger)
            if request is None or control.stop.is_set():
                break
            action = request[0]
            try:
                names = _rebuild_names(runner, request[1]) if action == "rebuild" else None
            except CliError as exc:  # a bad request ends nothing: say so and wait for the next one
                _emit({"event": "rejected", "message": str(exc)})
                continue
            code = _run_for_a_program(runner, action, names, control)
        return code


def _as_of(store: SQLiteEventStore, args: argparse.Namespace) -> int:
    head = store.head().position
    if args.at_position is not None:
        check_position("--at-position", args.at_position, head)
        return int(args.at_position)
    if args.at_time is not None:
        return store.position_at_time(parse_time(args.at_time))
    return head


def _resolve(runner: ProjectionRunner, text: str) -> str:
    try:
        return resolve_device(runner.readdb, text)
    except DeviceNotFound as exc:
        raise CliError(str(exc)) from None


def cmd_graph(args: argparse.Namespace) -> int:
    with open_store(args.store) as store, _read_database_writes():
        runner = _catch_up(store, ["graph", "registry"], quiet=args.json)
        at = _as_of(store, args)
        g = graph_model.graph_at(runner.readdb, at)
        names = names_at(runner.readdb, at)

        def label(sid: str) -> str:
            return one_line(names.get(sid) or sid)  # a name with a newline must not break a line

        def device(sid: str) -> dict[str, Any]:
            return {"stream_id": sid, "name": names.get(sid, "")}

        if args.connected_to:
            sid = _resolve(runner, args.connected_to)
            found = sorted(graph_model.connected_to(g, sid), key=lambda s: (label(s), s))
            if args.json:
                print_json({"position": at, "device": device(sid), "connected": [device(s) for s in found]})
            else:
                print(f"as of position {at:,}: {len(found)} devices connected to {label(sid)}")
                table([[label(s), s] for s in found], ["name", "stream id"])
            return 0
        if args.path:
            a, b = (_resolve(runner, x) for x in args.path)
            chain = graph_model.path(g, a, b)
            if args.json:
                print_json({"position": at, "from": device(a), "to": device(b),
                            "path": None if chain is None else [device(s) for s in chain]})
            elif chain is None:
                print(f"as of position {at:,}: {label(a)} and {label(b)} are not connected")
            else:
                print(f"as of position {at:,}: {len(chain) - 1} connections from {label(a)} to {label(b)}")
                print("  " + " -> ".join(label(s) for s in chain))
            return 0 if chain is not None else EXIT_CHECK_FAILED
        comps = graph_model.components(g)
        if args.json:
            print_json({"position": at, "nodes": len(g.nodes), "edges": len(g.edges),
                        "components": [[device(s) for s in c] for c in comps],
                        "edge_list": [[a, b] for a, b in g.edges]})
        else:
            print(f"as of position {at:,}: {len(g.nodes):,} devices, {len(g.edges):,} connections, "
                  f"{len(comps):,} connected components")
            table([[str(i + 1), f"{len(c):,}", ", ".join(label(s) for s in c[:5]) + (" ..." if len(c) > 5 else "")]
                   for i, c in enumerate(comps[:10])], ["#", "devices", "some of them"])
        return 0


def cmd_search(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise CliError("give some text to search for")
    check_range("--limit", args.limit, 1)
    with open_store(args.store) as store, _read_database_writes():
        runner = _catch_up(store, ["search"], quiet=args.json)
        hits = search(runner.readdb, args.text, args.limit)
        if args.json:
            print_json({"query": args.text, "hits": [h.to_json() for h in hits]})
        else:
            if not hits:
                print(f"nothing matches {args.text!r}")
            else:
                table([[h.kind, f"{h.position:,}", h.stream_id, h.text] for h in hits],
                      ["kind", "position", "stream", "text"])
        return 0 if hits else EXIT_CHECK_FAILED
