"""The stream browser's model: stream types with counts, their streams paged in lazily.

Top-level rows are stream types; a type's streams arrive a page at a time through
canFetchMore/fetchMore, each page read by a worker on the model's own store connection, so a
store of 100,000 streams opens as fast as one of 10. A filter narrows the streams by id prefix
(typed with or without the `<type>-` prefix).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from explorer.store.records import StreamInfo
from explorer.store.sqlite import SQLiteEventStore
from explorer.ui.models.reader import StoreReader

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex
STREAM_ID_ROLE = Qt.ItemDataRole.UserRole + 1
STREAM_TYPE_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(slots=True)
class TypeNode:
    """One stream type row.

    Attributes:
        stream_type: the type.
        streams / events: totals for the type (whole store).
        prefix: the id prefix the children are filtered by ("" for none).
        children: the streams loaded so far, ordered by id.
        complete: every matching stream is loaded.
        loading: a page is being read.
    """

    stream_type: str
    streams: int
    events: int
    prefix: str = ""
    children: list[StreamInfo] = field(default_factory=list)
    complete: bool = False
    loading: bool = False
    is_name_matches: bool = False


NAME_MATCHES = "Name matches"


def _read_database(store: SQLiteEventStore) -> Any:
    """The store's read database if the read models were ever built (never creates one), else None."""
    try:
        from explorer import paths
        from explorer.store.readdb import ReadDatabase

        path = paths.read_db_path(store.store_id)
        return ReadDatabase(path) if path.exists() else None
    except Exception:  # noqa: BLE001 - names are a nicety; ids always work
        log.exception("cannot open the read database")
        return None


def device_names(store: SQLiteEventStore) -> dict[str, str]:
    """stream id -> device name from the registry read model (empty when it is absent)."""
    readdb = _read_database(store)
    if readdb is None:
        return {}
    try:
        from explorer.projections.registry import names_at

        return names_at(readdb)
    except Exception:  # noqa: BLE001
        log.exception("reading device names failed")
        return {}
    finally:
        readdb.close()


def has_symbols(text: str) -> bool:
    """Whether `text` has characters the search index cannot see: its FTS5 tokenizer (unicode61)
    keeps only letters and digits as words, so an emoji or a sign is no part of any word there."""
    return any(not (ch.isalnum() or ch.isspace()) for ch in text)


def name_matches(store: SQLiteEventStore, text: str, limit: int = 200) -> list[StreamInfo]:
    """Streams whose device name (or owner, kind) matches `text`, via the search read model:
    words as prefixes of words. Text with symbols ("📱", "<b>") is also looked for inside the
    devices' names (the registry's), case-folded; those streams come first."""
    readdb = _read_database(store)
    if readdb is None:
        return []
    try:
        ids: dict[str, None] = {}
        if has_symbols(text):
            try:
                from explorer.projections.registry import names_at

                wanted = text.casefold()
                ids.update((sid, None) for sid, name in names_at(readdb).items() if wanted in name.casefold())
            except Exception:  # noqa: BLE001 - the word search below still answers
                log.exception("name lookup failed")
        from explorer.projections.search import search

        ids.update((h.stream_id, None) for h in search(readdb, text, limit) if h.kind == "device")
    except Exception:  # noqa: BLE001
        log.exception("name search failed")
        return []
    finally:
        readdb.close()
    return [info for info in (store.stream_info(sid) for sid in list(ids)[:limit]) if info is not None]


class StreamTreeModel(QAbstractItemModel):
    """Stream types and their streams, lazily paged.

    Attributes:
        page_size: streams read per fetch.
        types: the TypeNode rows.

    Signals:
        types_loaded: the stream types of the current store (and filter) arrived.
        page_loaded(str): a page of streams of that type arrived.
    """

    types_loaded = Signal()
    page_loaded = Signal(str)

    COLUMNS = ("Stream", "Events")

    def __init__(self, *, page_size: int = 200, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.page_size = page_size
        self.types: list[TypeNode] = []
        self.names: dict[str, str] = {}
        self.reader = StoreReader(self)
        self._filter = ""
        self._generation = 0

    # -- loading ------------------------------------------------------------------------------

    def set_store(self, store: SQLiteEventStore | None) -> None:
        self.reader.set_store(store)
        self.names = {}
        self.reload()
        if store is not None:
            self.reload_names()

    def reload_names(self) -> None:
        """Read device names from the registry read model (when built) to label streams."""
        generation = self._generation
        self.reader.run(device_names, name="device names",
                        on_result=lambda names: self._names_arrived(generation, names))

    def _names_arrived(self, generation: int, names: dict[str, str]) -> None:
        if generation != self._generation or not names:
            return
        self.names = names
        for row, node in enumerate(self.types):
            if node.children:
                parent = self.index(row, 0)
                self.dataChanged.emit(self.index(0, 0, parent), self.index(len(node.children) - 1, 0, parent),
                                      [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    def set_filter(self, text: str) -> None:
        text = text.strip()
        if text != self._filter:
            self._filter = text
            self.reload()

    @property
    def filter_text(self) -> str:
        return self._filter

    def reload(self) -> None:
        self._generation += 1
        generation = self._generation
        self.beginResetModel()
        self.types = []
        self.endResetModel()
        if not self.reader.has_store:
            return
        text = self._filter

        def load(store: SQLiteEventStore) -> list[TypeNode]:
            nodes = []
            for stream_type, (streams, events) in store.counts_by_stream_type().items():
                prefix = ""
                if text:
                    # Ids are usually "<type>-<uuid>": accept the uuid part alone as well.
                    prefix = text
                    if not store.streams(stream_type, limit=1, prefix=text):
                        typed = f"{stream_type.lower()}-{text}"
                        if not store.streams(stream_type, limit=1, prefix=typed):
                            continue
                        prefix = typed
                nodes.append(TypeNode(stream_type, streams, events, prefix))
            if text:
                named = name_matches(store, text)
                if named:
                    nodes.insert(0, TypeNode(NAME_MATCHES, len(named), sum(i.version for i in named),
                                             children=named, complete=True, is_name_matches=True))
            return nodes

        self.reader.run(load, name="stream types", on_result=lambda nodes: self._types_arrived(generation, nodes))

    def _types_arrived(self, generation: int, nodes: list[TypeNode]) -> None:
        if generation != self._generation:
            return
        self.beginResetModel()
        self.types = nodes
        self.endResetModel()
        self.types_loaded.emit()

    def refresh_counts(self) -> None:
        """The store grew: update the counts; a type that gained streams pages its list again.

        New streams sort among the loaded ones (by id), so offsets into the old list would skip
        or repeat rows: such a type is reloaded from its first page instead.
        """
        if not self.reader.has_store or self._filter:
            return
        generation = self._generation

        def load(store: SQLiteEventStore) -> dict[str, tuple[int, int]]:
            return store.counts_by_stream_type()

        self.reader.run(load, name="stream counts", on_result=lambda counts: self._counts_arrived(generation, counts))

    def _counts_arrived(self, generation: int, counts: dict[str, tuple[int, int]]) -> None:
        if generation != self._generation:
            return
        known = {node.stream_type: node for node in self.types}
        for row, node in enumerate(self.types):
            streams, events = counts.get(node.stream_type, (node.streams, node.events))
            grew = streams != node.streams
            node.streams, node.events = streams, events
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))
            if grew and (node.children or node.complete):
                had_children = bool(node.children)
                if node.children:
                    self.beginRemoveRows(self.index(row, 0), 0, len(node.children) - 1)
                    node.children = []
                    self.endRemoveRows()
                node.complete = node.loading = False
                if had_children:
                    self.fetchMore(self.index(row, 0))
        new = [TypeNode(t, n, e) for t, (n, e) in counts.items() if t not in known]
        if new:
            first = len(self.types)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self.types.extend(new)
            self.endInsertRows()

    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802 - Qt override
        node = self._type_node(parent)
        return node is not None and not node.complete and not node.loading

    def fetchMore(self, parent: Index) -> None:  # noqa: N802 - Qt override
        node = self._type_node(parent)
        if node is None or node.complete or node.loading:
            return
        node.loading = True
        generation, offset, limit = self._generation, len(node.children), self.page_size
        stream_type, prefix = node.stream_type, node.prefix

        def load(store: SQLiteEventStore) -> list[StreamInfo]:
            return store.streams(stream_type, offset=offset, limit=limit, prefix=prefix)

        self.reader.run(load, name=f"streams of {stream_type}",
                        on_result=lambda page: self._page_arrived(generation, node, page))

    def _page_arrived(self, generation: int, node: TypeNode, page: list[StreamInfo]) -> None:
        if generation != self._generation or not any(n is node for n in self.types):
            return
        node.loading = False
        if len(page) < self.page_size:
            node.complete = True
        if page:
            row = self.types.index(node)
            first = len(node.children)
            self.beginInsertRows(self.index(row, 0), first, first + len(page) - 1)
            node.children.extend(page)
            self.endInsertRows()
        self.page_loaded.emit(node.stream_type)

    def _type_node(self, index: Index) -> TypeNode | None:
        if index.isValid() and index.internalId() == 0 and 0 <= index.row() < len(self.types):
            return self.types[index.row()]
        return None

    def stream_at(self, index: Index) -> StreamInfo | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        node = self.types[index.internalId() - 1]
        return node.children[index.row()]

    def index_of_stream(self, stream_id: str) -> QModelIndex:
        """The index of a loaded stream (invalid when it is not loaded)."""
        for t, node in enumerate(self.types):
            for r, info in enumerate(node.children):
                if info.stream_id == stream_id:
                    return self.createIndex(r, 0, t + 1)
        return QModelIndex()

    # -- the model ------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        if parent.internalId() == 0:
            # A stream row's internal id is its type's row + 1 (0 marks a type row).
            return self.createIndex(row, column, parent.row() + 1)
        return QModelIndex()

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt override
        if not parent.isValid():
            return len(self.types)
        if parent.column() != 0:
            return 0
        node = self._type_node(parent)
        return len(node.children) if node is not None else 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt override
        return len(self.COLUMNS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802 - Qt override
        if not parent.isValid():
            return bool(self.types)
        node = self._type_node(parent)
        return node is not None and parent.column() == 0 and (bool(node.children) or not node.complete)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt override
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._type_node(index)
        if node is not None:
            if role == Qt.ItemDataRole.DisplayRole:
                if index.column() == 0:
                    if node.is_name_matches:
                        return f"{NAME_MATCHES}  ({node.streams:,})"
                    return f"{node.stream_type}  ({node.streams:,} streams)" if not node.prefix else (
                        f"{node.stream_type}  (ids starting {node.prefix})")
                return f"{node.events:,}"
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{node.stream_type}: {node.streams:,} streams, {node.events:,} events"
            if role == STREAM_TYPE_ROLE:
                return None if node.is_name_matches else node.stream_type
            if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 1:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        info = self.stream_at(index)
        if info is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 1:
                return f"{info.version:,}"
            name = self.names.get(info.stream_id)
            # The name first (people know devices by name), then enough of the id to tell apart.
            return f"{name}  ({info.stream_id[:15]}…)" if name else info.stream_id
        if role == Qt.ItemDataRole.ToolTipRole:
            name = self.names.get(info.stream_id)
            return (f"{name + chr(10) if name else ''}{info.stream_id}\n{info.stream_type}, {info.version:,} events, "
                    f"positions {info.first_position:,}–{info.last_position:,}")
        if role == STREAM_ID_ROLE:
            return info.stream_id
        if role == STREAM_TYPE_ROLE:
            return info.stream_type
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
