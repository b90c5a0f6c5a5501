"""From-scratch folds of the sample domain's events: the oracle the read models must equal."""

from __future__ import annotations

from typing import Any

from explorer.domain.iot import device as dev
from explorer.store.records import RecordedEvent


def registry_fold(events: list[RecordedEvent], position: int) -> dict[str, dict[str, Any]]:
    """stream id -> the registry's fields, from dev.evolve over the events up to `position`."""
    states: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    for event in events:
        if event.position > position:
            break
        state = states.get(event.stream_id) or dev.initial_state()
        states[event.stream_id] = dev.evolve(state, event.type, event.data)
        seen[event.stream_id] = event.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = {}
    for sid, s in states.items():
        if s["status"] == "unregistered":
            continue
        last = s["last_call"] or {}
        out[sid] = {
            "name": s["name"], "kind": s["kind"], "owner": s["owner"], "status": s["status"],
            "connections": len(s["peers"]), "calls_in": s["calls_in"], "calls_out": s["calls_out"],
            "last_call_at": last.get("occurred_at", ""), "last_call_number": last.get("number", ""),
            "last_call_direction": last.get("direction", ""), "last_seen": seen[sid],
        }
    return out


def graph_fold(events: list[RecordedEvent], position: int) -> tuple[set[str], set[tuple[str, str]]]:
    """(devices registered and not decommissioned, open connections) as of `position`."""
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for event in events:
        if event.position > position:
            break
        sid = event.stream_id
        if event.type == dev.DEVICE_REGISTERED:
            nodes.add(sid)
        elif event.type == dev.DEVICE_DECOMMISSIONED:
            nodes.discard(sid)
        elif event.type == dev.DEVICE_CONNECTED:
            edges.add((sid, dev.device_stream(event.data["peer_id"])))
        elif event.type == dev.DEVICE_DISCONNECTED:
            edges.discard((sid, dev.device_stream(event.data["peer_id"])))
    return nodes, edges


def calls_fold(events: list[RecordedEvent], position: int) -> dict[str, dict[str, int]]:
    """stream id -> call counts (calls, in, out, unknown, night) as of `position`."""
    out: dict[str, dict[str, int]] = {}
    numbers: dict[str, set[str]] = {}
    for event in events:
        if event.position > position:
            break
        if event.type != dev.CALL_REPORTED:
            continue
        c = out.setdefault(event.stream_id, {"calls": 0, "in": 0, "out": 0, "unknown": 0, "night": 0})
        known = numbers.setdefault(event.stream_id, set())
        c["calls"] += 1
        c["in" if event.data["direction"] == "in" else "out"] += 1
        if event.data["number"] not in known:
            c["unknown"] += 1
            known.add(event.data["number"])
        if int(event.data["occurred_at"][11:13]) < 6:
            c["night"] += 1
    return out
