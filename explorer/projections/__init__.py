"""Read models (CQRS): projections fed by events in position order, kept in the read database.

`READ_MODELS` lists the sample domain's projections; `runner_for(store)` makes a runner over the
store's read database in the cache directory.
"""

from __future__ import annotations

from explorer.projections.analytics import CallAnalytics
from explorer.projections.graph import DeviceGraph
from explorer.projections.registry import DeviceRegistry
from explorer.projections.runner import Projection, ProjectionRunner
from explorer.projections.search import SearchIndex
from explorer.store.base import EventStore
from explorer.store.readdb import ReadDatabase

READ_MODELS: tuple[type[Projection], ...] = (DeviceRegistry, SearchIndex, DeviceGraph, CallAnalytics)


def runner_for(store: EventStore, readdb: ReadDatabase | None = None) -> ProjectionRunner:
    """A runner of every read model of `store`, in its read database (cache dir, keyed by store id)."""
    return ProjectionRunner(store=store, readdb=readdb or ReadDatabase.for_store(store.store_id),
                            projections=READ_MODELS)
