"""Saved investigations: bookmarks (a position with a note) kept in the store's read database.

They live beside the read models (keyed by the store's id), so a read-only store can be
annotated too. Reports export them as annotations; the timeline draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from explorer.store.readdb import ReadDatabase

BOOKMARK_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookmarks (
    id INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
NOTE_MAX = 2000


@dataclass(frozen=True, slots=True)
class Bookmark:
    """One saved bookmark.

    Attributes:
        id: its key; position: the event it marks; note: plain text; created_at: ISO UTC.
    """

    id: int
    position: int
    note: str
    created_at: str


class BookmarkStore:
    """The bookmarks of one store, in its read database (one per thread, like the database).

    Attributes:
        readdb: the read database.
    """

    def __init__(self, readdb: ReadDatabase) -> None:
        self.readdb = readdb
        readdb.db.execute(BOOKMARK_SCHEMA)

    def add(self, position: int, note: str) -> Bookmark:
        if position < 0:
            raise ValueError("a bookmark needs a position of 0 or more")
        note = note.strip()[:NOTE_MAX]
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.readdb.db:
            row = self.readdb.db.execute(
                "INSERT INTO bookmarks (position, note, created_at) VALUES (?, ?, ?) RETURNING id",
                (int(position), note, created),
            ).fetchone()
        return Bookmark(int(row[0]), int(position), note, created)

    def update(self, bookmark_id: int, note: str) -> None:
        with self.readdb.db:
            self.readdb.db.execute("UPDATE bookmarks SET note = ? WHERE id = ?", (note.strip()[:NOTE_MAX], bookmark_id))

    def delete(self, bookmark_id: int) -> None:
        with self.readdb.db:
            self.readdb.db.execute("DELETE FROM bookmarks WHERE id = ?", (bookmark_id,))

    def list(self) -> list[Bookmark]:
        """Every bookmark, in position order."""
        return [Bookmark(int(i), int(p), str(n), str(c)) for i, p, n, c in self.readdb.db.execute(
            "SELECT id, position, note, created_at FROM bookmarks ORDER BY position, id")]

    def pairs(self) -> list[tuple[int, str]]:
        """(position, note) pairs: what AppContext.set_bookmarks and reports take."""
        return [(b.position, b.note) for b in self.list()]
