"""The device network as of the cursor (pyqtgraph): edges come and go as the cursor moves.

Nodes keep one position per store (a force layout of every device and connection ever seen,
computed once in the background), so dragging the cursor changes only which edges are drawn.
Edges added since the previous cursor position are green, removed ones red; a pending command's
edges are dashed. Click a node to select the device; "Connected" highlights its component.
Only while the view is visible: hidden, it neither queries nor redraws, and catches up once when
shown (its layout too is computed the first time the view is shown).
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.projections.graph import GraphAt, all_edges, all_nodes, connected_to, graph_at
from explorer.projections.layout import force_layout, spread_position
from explorer.projections.registry import names_at
from explorer.ui.context import AppContext, PendingPreview
from explorer.ui.views.latest_reader import Connections, LatestReader
from explorer.ui.views.when_shown import RefreshWhenShown

MIN_DRAW_INTERVAL_MS = 50
"""While answers stream in (a cursor drag), draws are at least this far apart, and at least three
times the last draw's cost apart: a 20,000-edge graph costs ~30 ms of Python plus as much paint, and
drawing each answer would leave the state view and timeline no GUI time. Only the newest answer is drawn."""
LABEL_LIMIT = 150  # labels are drawn when at most this many nodes are in view
COLORS = {
    "edge": (120, 130, 145, 120), "added": (46, 160, 67, 255), "removed": (220, 50, 47, 220),
    "component": (255, 152, 0, 230), "pending": (123, 31, 162, 255), "node": (66, 133, 244, 255),
    "selected": (255, 87, 34, 255), "isolated": (158, 158, 158, 200),
}


def _pen(name: str, width: float = 1.0, dashed: bool = False) -> QPen:
    pen = pg.mkPen(color=QColor(*COLORS[name]), width=width)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    return pen


class GraphView(QWidget):
    """The device-connection graph as of the cursor.

    Attributes:
        graph: the GraphAt shown (None before the first answer).
        previous: the graph shown before it (what "added/removed" compares with).
        added / removed: edges added and removed since `previous`.
        highlight: the devices of the highlighted component.
        layout_positions: stream id -> (x, y), stable per store.

    Signals:
        graph_shown(object): a new GraphAt was drawn.
    """

    graph_shown = Signal(object)

    def __init__(self, *, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.reader = LatestReader(name="graph", parent=self)
        self.graph: GraphAt | None = None
        self.previous: GraphAt | None = None
        self.added: set[tuple[str, str]] = set()
        self.removed: set[tuple[str, str]] = set()
        self.highlight: set[str] = set()
        self.layout_positions: dict[str, tuple[float, float]] = {}
        self.names: dict[str, str] = {}
        self._node_ids: list[str] = []
        self._index: dict[str, int] = {}  # stream id -> row of the coordinates array
        self._coords_array: np.ndarray | None = None
        # Every edge seen with this layout gets a row: (node row, node row) in `_edge_ends`, so a
        # graph's edges become one array of rows (one C-level dict lookup per edge) and the line
        # ends, the added/removed diff and the connected devices are numpy operations, not a Python
        # loop per edge (that loop was ~20 ms of a redraw at 20,000 edges).
        self._edge_rows: dict[tuple[str, str], int] = {}
        self._edge_pairs: list[tuple[str, str]] = []
        self._edge_ends = np.zeros((0, 2), dtype=np.int64)
        self._rows_now = np.zeros(0, dtype=np.int64)  # the rows of `graph.edges`
        self._node_rows = np.zeros(0, dtype=np.int64)  # the rows of `_node_ids` in the coordinates array
        self._shown_ids: dict[str, list[str]] = {}  # what each node scatter item shows
        self._labels: list[pg.TextItem] = []
        self._fit = False
        self._next_graph: GraphAt | None = None  # the newest answer, waiting for its draw slot
        self._last_draw = QElapsedTimer()
        self._draw_cost_ms = 0.0
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_next)

        self.plot = pg.PlotWidget(self)
        self.plot.setBackground("w")
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMenuEnabled(False)
        vb = self.plot.getViewBox()
        self.edges_item = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True, pen=_pen("edge"))
        self.component_item = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True, pen=_pen("component", 2))
        self.added_item = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True, pen=_pen("added", 2.5))
        self.removed_item = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True, pen=_pen("removed", 2, dashed=True))
        for item in (self.edges_item, self.component_item, self.added_item):
            # Solid lines: Qt's drawLines is several times faster than one path of 10,000 subpaths.
            item.setSegmentedLineMode("on")
        self.pending_item = pg.PlotCurveItem(connect="pairs", skipFiniteCheck=True, pen=_pen("pending", 2.5, dashed=True))
        # One scatter item per kind of node, each with one brush and size: pyqtgraph then renders
        # one symbol per item, not one per point (per-point brushes cost ~100 ms at 2,000 nodes).
        self.node_items = {
            kind: pg.ScatterPlotItem(size=size, pxMode=True, hoverable=True, tip=self._tip, pen=None,
                                     brush=pg.mkBrush(*COLORS[kind]))
            for kind, size in (("isolated", 6), ("node", 7), ("component", 9), ("selected", 13))
        }
        for item in (self.edges_item, self.component_item, self.removed_item, self.added_item, self.pending_item,
                     *self.node_items.values()):
            self.plot.addItem(item)
        for item in self.node_items.values():
            item.sigClicked.connect(self._clicked)
        self.nodes_item = self.node_items["node"]
        vb.sigRangeChanged.connect(lambda *_: self._update_labels())

        legend = pg.LegendItem(offset=(10, 10), labelTextColor=(60, 60, 60), brush=pg.mkBrush(255, 255, 255, 225),
                               pen=pg.mkPen(200, 200, 200))
        legend.setParentItem(vb)
        legend.addItem(pg.PlotDataItem(pen=_pen("edge", 2)), "connection")
        legend.addItem(pg.PlotDataItem(pen=_pen("added", 2.5)), "added since last cursor")
        legend.addItem(pg.PlotDataItem(pen=_pen("removed", 2, dashed=True)), "removed since last cursor")
        legend.addItem(pg.PlotDataItem(pen=_pen("component", 2)), "connected to selected")
        legend.addItem(pg.PlotDataItem(pen=_pen("pending", 2.5, dashed=True)), "pending command")
        self.legend = legend

        self.component_box = QCheckBox("Show devices connected to the selected one", self)
        self.component_box.toggled.connect(lambda _on: self._update_highlight())
        self.info = QLabel(self)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        top = QHBoxLayout()
        top.addWidget(self.component_box)
        top.addStretch(1)
        top.addWidget(self.info)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)

        # Only a visible graph queries and redraws; a hidden one (another tab current) catches up
        # once when shown: a redraw is tens of ms at thousands of edges, wasted on a hidden view.
        self.refresher = RefreshWhenShown(widget=self, refresh=self.refresh, context=context)
        context.store_changed.connect(self._store_changed)
        context.stream_selected.connect(self._stream_selected)
        context.pending_changed.connect(self._draw_pending)
        if context.store is not None:
            self._store_changed(context.store)

    # -- requests ------------------------------------------------------------------------------

    def _store_changed(self, store: Any) -> None:
        self.reader.forget("layout")
        self.reader.forget("graph")
        self._draw_timer.stop()
        self._next_graph = None
        self.graph = self.previous = None
        self.set_layout({}, {})
        self.added, self.removed, self.highlight = set(), set(), set()
        self._draw()
        if store is not None:
            self.refresher.request()

    def _stream_selected(self, _sid: str | None) -> None:
        if self.refresher.visible():
            self._update_highlight()
        else:
            self.refresher.request()  # hidden: the highlight is redrawn when shown

    def refresh(self) -> None:
        """Bring the view to the cursor: the layout first if there is none yet, else the graph."""
        if self.context.store is None:
            return
        if not self.layout_positions:
            self.request_layout()
        else:
            self.request_graph()

    def request_layout(self) -> None:
        """Compute the stable layout (every device and connection ever seen) in the background."""
        store = self.context.store
        if store is None:
            return

        def job(conn: Connections, cancelled: Any) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
            if conn.readdb is None:
                return {}, {}
            nodes, edges = all_nodes(conn.readdb), all_edges(conn.readdb)
            return force_layout(nodes, edges, cancelled=cancelled), names_at(conn.readdb)

        self.reader.submit(store, "layout", job, self._layout_ready)

    def _layout_ready(self, result: tuple[dict[str, tuple[float, float]], dict[str, str]]) -> None:
        self.set_layout(*result)
        if self.isVisible():
            self.request_graph()  # not refresh(): an empty layout (no read model yet) must not loop
        else:
            self.refresher.stale = True
        self._fit = True  # fit the view to the first graph drawn with this layout (nothing is drawn yet)

    def set_layout(self, positions: dict[str, tuple[float, float]], names: dict[str, str] | None = None) -> None:
        """Use `positions` (stream id -> x, y) for every node from now on."""
        self.layout_positions = dict(positions)
        self._index = {sid: i for i, sid in enumerate(self.layout_positions)}
        self._coords_array = None
        self._shown_ids = {}
        self._edge_rows, self._edge_pairs = {}, []
        self._edge_ends = np.zeros((0, 2), dtype=np.int64)
        self._rows_now = np.zeros(0, dtype=np.int64)
        if self.graph is not None:  # the graph shown keeps its rows: the next diff compares with it
            self._rows_now = self._edge_rows_of(self.graph.edges)
        if names is not None:
            self.names = names

    def request_graph(self) -> None:
        store = self.context.store
        if store is None or not self.layout_positions:
            return
        position = self.context.position

        def job(conn: Connections, _cancelled: Any) -> GraphAt | None:
            return graph_at(conn.readdb, position) if conn.readdb is not None else None

        self.reader.submit(store, "graph", job, self._graph_ready)

    def _graph_ready(self, graph: GraphAt | None) -> None:
        """An answer arrived: draw it now, or when the draw interval has passed (newest only)."""
        self._next_graph = graph
        if self._draw_timer.isActive():
            return
        interval = max(MIN_DRAW_INTERVAL_MS, 3 * self._draw_cost_ms)
        elapsed = self._last_draw.elapsed() if self._last_draw.isValid() else interval
        if elapsed >= interval:
            self._draw_next()
        else:
            self._draw_timer.start(int(interval - elapsed))

    def _draw_next(self) -> None:
        graph, self._next_graph = self._next_graph, None
        if graph is None:
            return
        clock = QElapsedTimer()
        clock.start()
        self.show_graph(graph)
        self._draw_cost_ms = float(clock.elapsed())
        self._last_draw.start()

    # -- drawing -------------------------------------------------------------------------------

    def show_graph(self, graph: GraphAt | None) -> None:
        """Draw `graph`, marking the edges added and removed since the one drawn before."""
        if graph is None:
            return
        if not self.isVisible():
            self.refresher.stale = True  # hidden since it was asked for: redraw (to the cursor) when shown
            return
        self.previous = self.graph
        self.graph = graph
        before, self._rows_now = self._rows_now, self._edge_rows_of(graph.edges)
        if self.previous is not None:
            # Set differences as masks over the edge rows (np.setdiff1d sorts: several times slower).
            was, now = np.zeros(len(self._edge_pairs), dtype=bool), np.zeros(len(self._edge_pairs), dtype=bool)
            was[before], now[self._rows_now] = True, True
            pairs = self._edge_pairs
            self.added = {pairs[r] for r in np.flatnonzero(now & ~was).tolist()}
            self.removed = {pairs[r] for r in np.flatnonzero(was & ~now).tolist()}
        else:
            self.added, self.removed = set(), set()
        self._draw()
        if self._fit:
            self._fit = False
            self.plot.getViewBox().autoRange(padding=0.05)
        self.graph_shown.emit(graph)

    def _xy(self, sid: str) -> tuple[float, float]:
        found = self.layout_positions.get(sid)
        if found is None:
            found = self.layout_positions[sid] = spread_position(sid)
        if sid not in self._index:
            self._index[sid] = len(self._index)
        return found

    def _edge_rows_of(self, edges: Any) -> np.ndarray:
        """The rows of `edges` in `_edge_ends`; edges (and devices) not seen before get theirs first."""
        rows = self._edge_rows
        found = np.fromiter(map(rows.get, edges, repeat(-1)), dtype=np.int64, count=len(edges))
        missing = np.flatnonzero(found < 0).tolist()
        if missing:  # most cursor moves bring a few edges never drawn before (one pass, then these)
            index, added = self._index, []
            for i in missing:
                pair = edges[i]
                row = rows.get(pair)
                if row is None:
                    a, b = pair
                    self._xy(a), self._xy(b)  # devices the layout did not know get their spot first
                    row = rows[pair] = len(self._edge_pairs)
                    self._edge_pairs.append(pair)
                    added.append((index[a], index[b]))
                found[i] = row
            if added:
                self._edge_ends = np.concatenate([self._edge_ends, np.asarray(added, dtype=np.int64)])
        return found

    def _segments(self, edges: Any, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x and y of the line ends of `edges` (or of the edge `rows`), two points per edge."""
        if rows is None:
            rows = self._edge_rows_of(tuple(edges)) if edges else np.zeros(0, dtype=np.int64)
        if not len(rows):
            return np.zeros(0), np.zeros(0)
        pts = self._coords()[self._edge_ends[rows].ravel()]
        return pts[:, 0], pts[:, 1]

    def _coords(self) -> np.ndarray:
        """The layout as an array (rows in `_index` order), rebuilt only when devices were added."""
        if self._coords_array is None or len(self._coords_array) != len(self._index):
            self._coords_array = np.asarray([self.layout_positions[s] for s in self._index],
                                            dtype=np.float64).reshape(-1, 2)
        return self._coords_array

    def _draw(self) -> None:
        g = self.graph
        if g is None:
            for item in (self.edges_item, self.component_item, self.added_item, self.removed_item):
                item.setData([], [])
            for item in self.node_items.values():
                item.setData([])
            self.info.setText("")
            return
        self.edges_item.setData(*self._segments(g.edges, self._rows_now))
        self.added_item.setData(*self._segments(self.added))
        self.removed_item.setData(*self._segments(self.removed))
        self._node_ids = list(g.nodes)
        for sid in self._node_ids:
            if sid not in self._index:
                self._xy(sid)
        self._node_rows = np.fromiter(map(self._index.__getitem__, self._node_ids), dtype=np.int64,
                                      count=len(self._node_ids))
        self._update_highlight(redraw_nodes=False)  # first: the node colours use this graph's component
        self._draw_nodes()
        self._draw_pending()
        self.info.setText(f"as of #{g.position:,}: {len(g.nodes):,} devices, {len(g.edges):,} connections "
                          f"(+{len(self.added)} −{len(self.removed)})")
        self._update_labels()

    def _draw_nodes(self) -> None:
        g = self.graph
        if g is None:
            return
        has_edge = np.zeros(len(self._index), dtype=bool)
        has_edge[self._edge_ends[self._rows_now].ravel()] = True
        connected = has_edge[self._node_rows].tolist()
        selected = self.context.stream_id
        highlight = self.highlight
        groups: dict[str, list[str]] = {"isolated": [], "node": [], "component": [], "selected": []}
        for sid, linked in zip(self._node_ids, connected):
            kind = ("selected" if sid == selected else "component" if sid in highlight
                    else "node" if linked else "isolated")
            groups[kind].append(sid)
        for kind, ids in groups.items():
            if ids == self._shown_ids.get(kind):
                continue  # most cursor moves change edges only: leave the scatter alone
            self._shown_ids[kind] = ids
            pts = self._coords()[np.fromiter(map(self._index.__getitem__, ids), dtype=np.int64, count=len(ids))]
            self.node_items[kind].setData(pos=pts, data=ids)

    def node_count(self) -> int:
        """How many devices are drawn."""
        return sum(len(item.data) for item in self.node_items.values())

    def _update_highlight(self, redraw_nodes: bool = True) -> None:
        g, sid = self.graph, self.context.stream_id
        if g is not None and sid and self.component_box.isChecked():
            self.highlight = connected_to(g, sid)
            marked = np.zeros(len(self._index), dtype=bool)
            marked[[self._index[s] for s in (*self.highlight, sid) if s in self._index]] = True
            rows = self._rows_now[marked[self._edge_ends[self._rows_now, 0]]]  # edges from a marked device
            self.component_item.setData(*self._segments((), rows))
        else:
            self.highlight = set()
            self.component_item.setData([], [])
        if redraw_nodes:
            self._draw_nodes()
            self._update_labels()

    def _draw_pending(self, *_args: Any) -> None:
        pending: PendingPreview | None = self.context.pending
        if pending is None or pending.status in ("confirmed", "rejected"):
            self.pending_item.setData([], [])
            return
        edges = list(pending.added_edges) + list(pending.removed_edges)
        self.pending_item.setData(*self._segments(edges))

    def _update_labels(self) -> None:
        vb = self.plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        wanted = set(self.highlight)
        if self.context.stream_id:
            wanted.add(self.context.stream_id)
        ids = self._node_ids
        if ids:
            pts = self._coords()[self._node_rows]
            inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
            if int(inside.sum()) <= LABEL_LIMIT:
                wanted |= {ids[i] for i in np.flatnonzero(inside)}
        shown = sorted(wanted & set(ids))[:LABEL_LIMIT * 2]
        while len(self._labels) < len(shown):
            label = pg.TextItem(color=(40, 40, 40), anchor=(0, 1))
            self.plot.addItem(label, ignoreBounds=True)
            self._labels.append(label)
        for label, sid in zip(self._labels, shown):
            label.setText(self.names.get(sid) or sid[:15])  # plain text
            label.setPos(*self._xy(sid))
            label.show()
        for label in self._labels[len(shown):]:
            label.hide()

    def _tip(self, x: float, y: float, data: Any) -> str:
        return f"{self.names.get(str(data), '')}\n{data}"

    def _clicked(self, _item: Any, points: Any, *_args: Any) -> None:
        if len(points):
            self.context.select_stream(str(points[0].data()))
            self._draw_nodes()
            self._update_highlight()


def create(context: AppContext) -> GraphView:
    """The view factory the main window calls (VIEWS)."""
    return GraphView(context=context)
