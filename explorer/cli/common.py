"""What the sub-commands share: opening stores, parsing times, printing JSON and progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, NoReturn, TextIO

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


class OneLineParser(argparse.ArgumentParser):
    """argparse with our one-line usage errors (`error: …`, exit 2) instead of a usage block first."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)  # for error(): what this level was given
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self._explained(message)} (see `{self.prog} --help`)\n")

    def _explained(self, message: str) -> str:
        """argparse's message, or why a positional is "missing": a value starting with '-' was read as an option."""
        if not message.startswith("the following arguments are required: ") or self._subparsers is not None:
            return message  # a missing COMMAND is no value read as an option
        missing = message.split(": ", 1)[1]
        for arg in getattr(self, "_given", []):
            if arg == "--":
                break
            is_number = self._negative_number_matcher.match(arg)  # argparse reads "-5" as a value
            if arg[:1] in self.prefix_chars and len(arg) > 1 and not is_number \
                    and arg.split("=", 1)[0] not in self._option_string_actions:
                return (f"{arg!r} is not an option of {self.prog}, so {missing} is missing; to give a value that "
                        f"starts with '-', put -- before it ({self.prog} ... -- {arg})")
        return message


def non_empty(text: str) -> str:
    """An argparse type: an empty value is an error, where it would silently mean "no filter"."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def check_range(option: str, value: int | None, low: int, high: int = LARGEST_INTEGER) -> None:
    """A CliError unless an integer option (when given) lies in low..high."""
    if value is not None and not low <= value <= high:
        raise CliError(f"{option} must be a whole number from {low:,} to {high:,} (not {value})")


def check_position(option: str, value: int | None, head: int) -> None:
    """A CliError unless a store position (when given) lies in 0..head: no silent clamping."""
    if value is not None and not 0 <= value <= head:
        raise CliError(f"{option} {value} is outside the store (positions 0 to {head:,})")


def check_version(option: str, value: int | None, stream_id: str, last: int) -> None:
    """A CliError unless a stream version (when given) lies in 0 (before its first event)..last."""
    if value is not None and not 0 <= value <= last:
        raise CliError(f"{option} {value} is outside the versions of {stream_id} (0 to {last:,})")


def open_store(path: str, *, read_only: bool = True, migrate: bool = False) -> SQLiteEventStore:
    """Open a store for a sub-command; reading commands open read-only so nothing is written."""
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
    streamed_table(rows, headers, out, sample=len(rows))


def streamed_table(rows: Iterable[list[str]], headers: list[str], out: TextIO | None = None, *,
                   sample: int = 1000, min_widths: Sequence[int] = ()) -> None:
    """A table of any length, printed as the rows come (memory stays flat): one header, and the
    column widths of the first `sample` rows (at least `min_widths`) kept to the end. A longer cell
    later shifts the rest of its own row only: it is never cut, so an id stays whole."""
    out = out or sys.stdout
    rows = iter(rows)
    first = [[one_line(cell) for cell in row] for row in islice(rows, sample)]
    widths = [max([len(h), *(len(row[i]) for row in first), *min_widths[i:i + 1]])
              for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() + "\n"

    out.write(line(headers))
    for row in first:
        out.write(line(row))
    for row in rows:
        out.write(line([one_line(cell) for cell in row]))
