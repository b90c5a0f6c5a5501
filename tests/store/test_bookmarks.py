"""Bookmarks: saved in the read database, listed in position order, survive a reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.store.bookmarks import NOTE_MAX, BookmarkStore
from explorer.store.readdb import ReadDatabase


def test_add_list_update_delete_and_reopen(tmp_path: Path) -> None:
    marks = BookmarkStore(ReadDatabase(tmp_path / "read.sqlite"))
    late = marks.add(90, "  late  ")
    early = marks.add(10, "early <b>note</b>")
    assert [(b.position, b.note) for b in marks.list()] == [(10, "early <b>note</b>"), (90, "late")]
    marks.update(late.id, "later")
    marks.delete(early.id)
    marks.readdb.close()
    again = BookmarkStore(ReadDatabase(tmp_path / "read.sqlite"))
    assert again.pairs() == [(90, "later")]


def test_bad_bookmarks_are_refused_or_trimmed(tmp_path: Path) -> None:
    marks = BookmarkStore(ReadDatabase(tmp_path / "read.sqlite"))
    with pytest.raises(ValueError):
        marks.add(-1, "x")
    assert len(marks.add(1, "x" * (NOTE_MAX + 50)).note) == NOTE_MAX
