"""Noticing appends made by other processes, cheaply enough to ask several times a second.

SQLite's `PRAGMA data_version` changes only when another connection commits; it costs no table
read. Only when it moved do we look at the head (one indexed lookup of the last position).
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.store.errors import StoreError
from explorer.store.sqlite import SQLiteEventStore


@dataclass(frozen=True, slots=True)
class Growth:
    """The store grew from `old_head` to `new_head` (positions)."""

    old_head: int
    new_head: int

    @property
    def appended(self) -> int:
        return self.new_head - self.old_head


class ChangeWatch:
    """Tells whether another connection appended since the last look.

    Attributes:
        store: the connection it asks (the GUI thread's own is fine: both questions are cheap).
        head: the last head it saw.
        checks / head_reads: how often it asked data_version and how often it then read the head
            (for tests and benchmarks: head_reads stays 0 while nothing happens).
    """

    def __init__(self, *, store: SQLiteEventStore) -> None:
        self.store = store
        self._data_version = store.data_version()
        self.head = store.head().position
        self.checks = 0
        self.head_reads = 0

    def poll(self) -> Growth | None:
        """A Growth when the head moved since the last poll, else None. Never scans a table."""
        self.checks += 1
        try:
            data_version = self.store.data_version()
            if data_version == self._data_version:
                return None
            self._data_version = data_version
            self.head_reads += 1
            head = self.store.head().position
        except StoreError:
            return None
        except Exception as exc:  # apsw.BusyError and friends: try again at the next tick
            if type(exc).__module__ == "apsw":
                return None
            raise
        if head == self.head:
            return None  # a commit that appended nothing (a meta write, a failed append)
        growth = Growth(self.head, head)
        self.head = head
        return growth
