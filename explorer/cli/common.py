"""What the sub-commands share: opening stores, parsing times, printing JSON and progress."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from explorer.store.errors import StoreError, StoreOpenError
from explorer.store.sqlite import SQLiteEventStore

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
LARGEST_INTEGER = 2**63 - 1  # SQLite's: a larger number cannot even be compared with a position


class CliError(Exception):
    """A one-line error for stderr, with the exit code it means."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def check_range(option: str, value: int | None, low: int, high: int = LARGEST_INTEGER) -> None:
    """A CliError unless an integer option (when given) lies in low..high."""
    if value is not None and not low <= value <= high:
        raise CliError(f"{option} must be a whole number from {low:,} to {high:,} (not {value})")


def check_store_file(path: str) -> None:
    """A CliError for a path that is there but is no regular file (a FIFO, a device, a socket).

    Reading one could block forever (a FIFO waits for a writer) before SQLite says a word. A
    directory and a missing path are left to the store, which names them.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # the store says "no such file"
        return
    except OSError as exc:
        raise CliError(f"{path}: cannot be looked at ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")
    raise CliError(f"{path}: is {kind}, not a regular file; a store is an SQLite file")


def open_store(path: str, *, read_only: bool = True, migrate: bool = False) -> SQLiteEventStore:
    """Open a store for a sub-command; reading commands open read-only so nothing is written."""
    check_store_file(path)
    try:
        return SQLiteEventStore.open(Path(path), read_only=read_only, migrate=migrate)
    except StoreOpenError as exc:
        raise CliError(str(exc)) from None
    except StoreError as exc:
        raise CliError(str(exc)) from None


def parse_time(text: str) -> datetime:
    """ISO 8601 / RFC 3339; a trailing Z (or z) or no zone means UTC."""
    stripped = text.strip()
    if stripped[-1:] in ("Z", "z"):
        stripped = stripped[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(stripped)
    except ValueError:
        raise CliError(f"{text!r} is not an ISO 8601 date/time (e.g. 2026-10-05T14:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def print_json(value: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode())
    out.write("\n")


def json_line(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def progress_printer(label: str, stream: TextIO | None = None) -> Callable[[int, int], None] | None:
    """A progress bar on a terminal (stderr); None when stderr is not a terminal."""
    out = stream or sys.stderr
    if not out.isatty():
        return None

    def show(done: int, total: int) -> None:
        total = max(total, 1)
        width = 30
        filled = int(width * min(done, total) / total)
        out.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        if done >= total:
            out.write("\n")
        out.flush()

    return show


_CONTROL = {c: " " for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}


def one_line(text: str) -> str:
    """`text` with control characters (newline, tab, ...) as spaces: a name printed on one line."""
    return text.translate(_CONTROL)


def table(rows: list[list[str]], headers: list[str], out: TextIO | None = None) -> None:
    """A plain, aligned text table; a cell's control characters print as spaces, so a row stays one line."""
    out = out or sys.stdout
    rows = [[one_line(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip() + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")
