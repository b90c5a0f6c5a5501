"""The device-connection graph read model (temporal) and the graph queries.

Edges keep the positions at which they appeared and disappeared; an R*Tree over those intervals
makes "the graph as of P" one indexed stabbing query. A device is in the graph over each interval
from a registration to the decommission after it: as the Device fold says (its status is "active"),
a device may have several such intervals (registered again after a decommission) or none (only
decommissioned, or only named by a peer's connection), whatever order the store holds its events in. Connectivity questions (devices connected to
a device, the path between two devices, connected components) treat connections as undirected and
run in memory on the graph as of P.
"""

from __future__ import annotations

import operator
import os
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import apsw
import numpy as np

from explorer.domain.iot import device as dev
from explorer.projections.runner import Fact, Projection, live_prefix
from explorer.store.readdb import ReadDatabase

OPEN = 2**31 - 1  # the "still there" end of an interval (rtree_i32 holds 32-bit integers)


class DeviceGraph(Projection):
    """Devices (nodes) and their connections (edges) with validity intervals."""

    name = "graph"
    title = "Device-connection graph"
    version = 4  # 4: one presence interval per registration (3 kept one per device)
    event_types = (dev.DEVICE_REGISTERED, dev.DEVICE_CONNECTED, dev.DEVICE_DISCONNECTED, dev.DEVICE_DECOMMISSIONED)
    tables = ("nodes", "presence", "edges", "spans")

    def __init__(self, *, prefix: str) -> None:
        super().__init__(prefix=prefix)
        self._keys: dict[str, int] = {}
        self._open: dict[tuple[int, int], int] | None = None  # (src, dst) -> edge id of open edges
        self._present: dict[int, int] = {}  # device key -> its open presence interval (loaded with _open)
        self._next_key = 0
        self._next_edge = 0
        self._next_presence = 0

    def setup(self, tx: apsw.Connection) -> None:
        p = self.prefix
        tx.execute(f"""
            CREATE TABLE IF NOT EXISTS {p}nodes (
                device_key INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS {p}presence (
                presence_id INTEGER PRIMARY KEY, device_key INTEGER NOT NULL,
                appeared INTEGER NOT NULL, removed INTEGER);
            CREATE TABLE IF NOT EXISTS {p}edges (
                edge_id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL,
                appeared INTEGER NOT NULL, disappeared INTEGER);
            CREATE VIRTUAL TABLE IF NOT EXISTS {p}spans USING rtree_i32(edge_id, lo, hi);
        """)

    def discard_caches(self) -> None:
        self._keys.clear()
        self._open = None
        self._present.clear()

    def _load(self, tx: apsw.Connection) -> dict[tuple[int, int], int]:
        p = self.prefix
        self._open = {(a, b): e for e, a, b in tx.execute(
            f"SELECT edge_id, src, dst FROM {p}edges WHERE disappeared IS NULL")}
        self._present = dict(tx.execute(f"SELECT device_key, presence_id FROM {p}presence WHERE removed IS NULL"))
        self._next_presence = (tx.execute(f"SELECT max(presence_id) FROM {p}presence").fetchone()[0] or 0) + 1
        self._next_key = (tx.execute(f"SELECT max(device_key) FROM {p}nodes").fetchone()[0] or 0) + 1
        self._next_edge = (tx.execute(f"SELECT max(edge_id) FROM {p}edges").fetchone()[0] or 0) + 1
        return self._open

    def _key(self, tx: apsw.Connection, stream_id: str, new_nodes: list[tuple[int, str]]) -> int:
        key = self._keys.get(stream_id)
        if key is None:
            row = tx.execute(f"SELECT device_key FROM {self.prefix}nodes WHERE stream_id = ?", (stream_id,)).fetchone()
            if row is None:
                key = self._next_key
                self._next_key += 1
                new_nodes.append((key, stream_id))
            else:
                key = row[0]
            self._keys[stream_id] = key
        return key

    def apply(self, batch: Sequence[Fact], tx: apsw.Connection) -> None:
        p = self.prefix
        open_edges = self._open if self._open is not None else self._load(tx)
        present = self._present
        new_nodes: list[tuple[int, str]] = []
        appeared: list[tuple[int, int, int]] = []
        removed: list[tuple[int, int]] = []
        new_edges: list[tuple[int, int, int, int]] = []
        closed: list[tuple[int, int]] = []
        for position, sid, etype, _recorded_us, data in batch:
            src = self._key(tx, sid, new_nodes)
            if etype == dev.DEVICE_CONNECTED:
                dst = self._key(tx, dev.device_stream(str(data["peer_id"])), new_nodes)
                if (src, dst) not in open_edges:
                    edge = self._next_edge
                    self._next_edge += 1
                    open_edges[(src, dst)] = edge
                    new_edges.append((edge, src, dst, position))
            elif etype == dev.DEVICE_DISCONNECTED:
                dst = self._key(tx, dev.device_stream(str(data["peer_id"])), new_nodes)
                edge = open_edges.pop((src, dst), None)
                if edge is not None:
                    closed.append((position, edge))
            elif etype == dev.DEVICE_REGISTERED:
                if src not in present:  # registered again while active: it stays, as in the fold
                    present[src] = self._next_presence
                    appeared.append((self._next_presence, src, position))
                    self._next_presence += 1
            elif etype == dev.DEVICE_DECOMMISSIONED:
                interval = present.pop(src, None)
                if interval is not None:  # a decommission of a device not in the graph changes nothing
                    removed.append((position, interval))
        # Inserts before updates: an edge (or a presence) may open and close within one batch.
        tx.executemany(f"INSERT INTO {p}nodes (device_key, stream_id) VALUES (?, ?)", new_nodes)
        tx.executemany(f"INSERT INTO {p}presence (presence_id, device_key, appeared) VALUES (?, ?, ?)", appeared)
        tx.executemany(f"INSERT INTO {p}edges (edge_id, src, dst, appeared) VALUES (?, ?, ?, ?)", new_edges)
        tx.executemany(f"INSERT INTO {p}spans VALUES (?, ?, {OPEN})", [(e, pos) for e, _a, _b, pos in new_edges])
        tx.executemany(f"UPDATE {p}edges SET disappeared = ? WHERE edge_id = ?", closed)
        tx.executemany(f"UPDATE {p}spans SET hi = ? WHERE edge_id = ?", closed)
        tx.executemany(f"UPDATE {p}presence SET removed = ? WHERE presence_id = ?", removed)


@dataclass(frozen=True, slots=True)
class GraphAt:
    """The device network as of one position.

    Attributes:
        position: the as-of position.
        nodes: stream ids of the devices registered and not decommissioned as of `position`.
        edges: (device stream id, peer stream id) connections open as of `position`.
    """

    position: int
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    _adjacency: dict[str, set[str]] = field(default_factory=dict, compare=False, repr=False)

    def adjacency(self) -> dict[str, set[str]]:
        """Undirected neighbours of each device (computed once)."""
        if not self._adjacency:
            adj = self._adjacency
            for node in self.nodes:
                adj.setdefault(node, set())
            for a, b in self.edges:
                adj.setdefault(a, set()).add(b)
                adj.setdefault(b, set()).add(a)
        return self._adjacency


# The devices in the graph as of ?1: one presence interval at most per device holds P.
NODES_AT = ("SELECT n.stream_id FROM {p}presence s JOIN {p}nodes n ON n.device_key = s.device_key"
            " WHERE s.appeared <= ?1 AND (s.removed IS NULL OR s.removed > ?1) ORDER BY n.stream_id")
# Version 3 kept one interval per device in the nodes table (wrong for a device registered again).
NODES_AT_V3 = ("SELECT stream_id FROM {p}nodes WHERE appeared <= ?1 AND (removed IS NULL OR removed > ?1)"
               " ORDER BY stream_id")


def graph_at(readdb: ReadDatabase, position: int | None = None) -> GraphAt:
    """The graph as of `position` (None: as of the checkpoint).

    The edges' intervals (a few tens of thousands even for a 1M-event store) are mirrored in
    memory as numpy arrays, kept up to date from the checkpoint (edges only get added and closed),
    so "open as of P" is one vectorised comparison rather than an R*Tree query that hands back
    thousands of rows; each edge id maps to a ready-made (stream id, stream id) pair. The R*Tree
    stays the durable index (it answers the same question in SQL).
    """
    p = live_prefix(readdb, DeviceGraph.name)
    if p is None:
        return GraphAt(position or 0, (), ())
    at = min(position if position is not None else OPEN - 1, OPEN - 1)
    db = readdb.db
    try:
        rows = db.execute(NODES_AT.format(p=p), (at,))
    except apsw.SQLError:  # no presence table: a version-3 live generation, kept until its rebuild swaps
        rows = db.execute(NODES_AT_V3.format(p=p), (at,))
    nodes = tuple(r[0] for r in rows)
    with _EDGE_LOCK:  # workers on several threads may ask at once; the mirror is updated in place
        cache = _edge_cache(readdb, p)
        n = len(cache.pairs)
        ids = np.flatnonzero((cache.lo[:n] <= at) & (cache.hi[:n] > at)).tolist()
    if not ids:
        return GraphAt(at, nodes, ())
    edges = operator.itemgetter(*ids)(cache.pairs)
    return GraphAt(at, nodes, edges if len(ids) > 1 else (edges,))


@dataclass(slots=True)
class _EdgeCache:
    """One generation's edges in memory, indexed by edge id - 1 (ids are dense from 1).

    Attributes:
        names: device key -> stream id.
        pairs: (src stream id, dst stream id) of each edge.
        lo / hi: each edge's interval [appeared, disappeared) (hi = OPEN while open); arrays with
            spare capacity beyond len(pairs).
        checkpoint: the generation's checkpoint the cache reflects.
    """

    names: dict[int, str]
    pairs: list[tuple[str, str]]
    lo: np.ndarray
    hi: np.ndarray
    checkpoint: int = -1


_EDGE_CACHE: dict[tuple[str, int, str, int], _EdgeCache] = {}
_EDGE_LOCK = threading.Lock()


def _edge_cache(readdb: ReadDatabase, prefix: str) -> _EdgeCache:
    """The edge mirror of `prefix`, brought up to the generation's checkpoint.

    Within a generation an edge never changes its devices or its start, ids only grow, and an end
    is set once (at a position after the checkpoint the cache last saw), so catching up reads only
    the new edges and the edges closed since. Re-reading a change twice is harmless (a writer may
    commit between the checkpoint read and the edge reads). If the checkpoint went backwards, the
    read database was deleted and rebuilt under the same prefix: start over.
    """
    db = readdb.db
    row = db.execute("SELECT checkpoint, started_us FROM projection_generations WHERE generation = ? AND name = ?",
                     (int(prefix.rsplit("_g", 1)[1].rstrip("_")), DeviceGraph.name)).fetchone()
    checkpoint, started = (row[0], row[1]) if row else (0, 0)
    # The file's inode and the generation's start too: a read database deleted and made again, or
    # emptied because it held another history (`ReadDatabase.bind`), numbers its generations anew.
    key = (str(readdb.path), os.stat(readdb.path).st_ino, prefix, started)
    cache = _EDGE_CACHE.get(key)
    if cache is not None and checkpoint < cache.checkpoint:
        cache = None
    if cache is None:
        for old in [k for k in _EDGE_CACHE if k[0] == key[0]]:  # a replaced generation's mirror goes
            del _EDGE_CACHE[old]
        cache = _EDGE_CACHE[key] = _EdgeCache(names={}, pairs=[], lo=np.zeros(0, np.int64), hi=np.zeros(0, np.int64))
    if checkpoint == cache.checkpoint:
        return cache
    names, pairs = cache.names, cache.pairs
    rows = db.execute(f"SELECT edge_id, src, dst, appeared, disappeared FROM {prefix}edges WHERE edge_id > ?"
                      " ORDER BY edge_id", (len(pairs),)).fetchall()
    closed = db.execute(f"SELECT edge_id, disappeared FROM {prefix}edges WHERE edge_id <= ? AND disappeared > ?",
                        (len(pairs), cache.checkpoint)).fetchall() if pairs else []
    if rows and (rows[0][0] != len(pairs) + 1 or rows[-1][0] != len(pairs) + len(rows)):
        raise RuntimeError(f"{prefix}edges: edge ids are not dense")  # apply() numbers them 1, 2, ...
    if any(a not in names or b not in names for _e, a, b, _lo, _hi in rows):  # devices added since the last fill
        names.update(db.execute(f"SELECT device_key, stream_id FROM {prefix}nodes"))
    n = len(pairs) + len(rows)
    if n > len(cache.lo):
        size = max(n, 2 * len(cache.lo), 1024)
        cache.lo = np.resize(cache.lo, size)
        cache.hi = np.resize(cache.hi, size)
    for edge, a, b, lo, hi in rows:
        pairs.append((names[a], names[b]))
        cache.lo[edge - 1] = lo
        cache.hi[edge - 1] = OPEN if hi is None else hi
    for edge, hi in closed:
        cache.hi[edge - 1] = hi
    cache.checkpoint = checkpoint
    return cache


def all_nodes(readdb: ReadDatabase) -> list[str]:
    """Every device the graph ever saw (for a layout that does not move as time moves)."""
    p = live_prefix(readdb, DeviceGraph.name)
    if p is None:
        return []
    return [r[0] for r in readdb.db.execute(f"SELECT stream_id FROM {p}nodes ORDER BY device_key")]


def all_edges(readdb: ReadDatabase) -> list[tuple[str, str]]:
    """Every pair of devices that was ever connected, once each."""
    p = live_prefix(readdb, DeviceGraph.name)
    if p is None:
        return []
    return [(a, b) for a, b in readdb.db.execute(
        f"SELECT DISTINCT na.stream_id, nb.stream_id FROM {p}edges e JOIN {p}nodes na ON na.device_key = e.src"
        f" JOIN {p}nodes nb ON nb.device_key = e.dst")]


def connected_to(graph: GraphAt, stream_id: str) -> set[str]:
    """Every device connected to `stream_id`, directly or through others (not itself)."""
    adj = graph.adjacency()
    if stream_id not in adj:
        return set()
    seen = {stream_id}
    queue = deque([stream_id])
    while queue:
        for peer in adj[queue.popleft()]:
            if peer not in seen:
                seen.add(peer)
                queue.append(peer)
    seen.discard(stream_id)
    return seen


def path(graph: GraphAt, a: str, b: str) -> list[str] | None:
    """A shortest path of connections from `a` to `b` (both included), or None if there is none."""
    adj = graph.adjacency()
    if a not in adj or b not in adj:
        return None
    if a == b:
        return [a]
    came_from: dict[str, str] = {a: a}
    queue = deque([a])
    while queue:
        node = queue.popleft()
        for peer in sorted(adj[node]):  # sorted: the same answer every time
            if peer in came_from:
                continue
            came_from[peer] = node
            if peer == b:
                out = [b]
                while out[-1] != a:
                    out.append(came_from[out[-1]])
                return out[::-1]
            queue.append(peer)
    return None


def components(graph: GraphAt) -> list[list[str]]:
    """Connected components, largest first (ties by first stream id); isolated devices included."""
    adj = graph.adjacency()
    seen: set[str] = set()
    out = []
    for node in sorted(adj):
        if node in seen:
            continue
        comp = connected_to(graph, node) | {node}
        seen |= comp
        out.append(sorted(comp))
    out.sort(key=lambda c: (-len(c), c[0]))
    return out
