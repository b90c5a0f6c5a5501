"""Sub-commands of the read side: project (read model status, catch up, rebuild), graph, search.

Read models live in the read database in the cache directory, so every one of these works on a
store opened read-only: nothing is ever written into the store.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from explorer.cli.common import EXIT_CHECK_FAILED, CliError, open_store, parse_time, print_json, progress_printer, table
from explorer.projections import READ_MODELS, runner_for
from explorer.projections import graph as graph_model
from explorer.projections.registry import DeviceNotFound, names_at, resolve_device
from explorer.projections.runner import FAILED, ProjectionRunner, ProjectionStatus, format_lag
from explorer.projections.search import search
from explorer.store.sqlite import SQLiteEventStore


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "project", help="bring every read model up to the head and show its status; --rebuild rebuilds")
    p.add_argument("store")
    p.add_argument("--rebuild", nargs="?", const="all", metavar="NAME",
                   help=f"rebuild one read model ({', '.join(m.name for m in READ_MODELS)}) or all of them")
    p.add_argument("--status-only", action="store_true", help="only show the status; apply nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_project)

    p = subparsers.add_parser("graph", help="the device-connection graph as of a position or time")
    p.add_argument("store")
    at = p.add_mutually_exclusive_group()
    at.add_argument("--at-position", type=int)
    at.add_argument("--at-time")
    query = p.add_mutually_exclusive_group()
    query.add_argument("--connected-to", metavar="DEVICE",
                       help="devices connected to DEVICE directly or transitively (stream id, device id or name)")
    query.add_argument("--path", nargs=2, metavar=("A", "B"), help="a shortest chain of connections from A to B")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_graph)

    p = subparsers.add_parser("search", help="full-text search over device names, owners and event summaries")
    p.add_argument("store")
    p.add_argument("text")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_search)


def _catch_up(store: SQLiteEventStore, names: list[str] | None = None, *, quiet: bool = False) -> ProjectionRunner:
    runner = runner_for(store)
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


def cmd_project(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        runner = runner_for(store)
        if args.rebuild:
            names = None if args.rebuild == "all" else [args.rebuild]
            if names and names[0] not in runner.projections:
                raise CliError(f"no read model named {names[0]!r} (known: {', '.join(runner.projections)})")
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


def _as_of(store: SQLiteEventStore, args: argparse.Namespace) -> int:
    head = store.head().position
    if args.at_position is not None:
        if not 0 <= args.at_position <= head:
            raise CliError(f"position {args.at_position} is outside the store (0 to {head})")
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
    with open_store(args.store) as store:
        runner = _catch_up(store, ["graph", "registry"], quiet=args.json)
        at = _as_of(store, args)
        g = graph_model.graph_at(runner.readdb, at)
        names = names_at(runner.readdb, at)

        def label(sid: str) -> str:
            return names.get(sid) or sid

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
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    with open_store(args.store) as store:
        runner = _catch_up(store, ["search"], quiet=args.json)
        hits = search(runner.readdb, args.text, args.limit)
        if args.json:
            print_json({"query": args.text, "hits": [h.to_json() for h in hits]})
        else:
            if not hits:
                print(f"nothing matches {args.text!r}")
            table([[h.kind, f"{h.position:,}", h.stream_id, h.text] for h in hits],
                  ["kind", "position", "stream", "text"])
        return 0 if hits else EXIT_CHECK_FAILED
