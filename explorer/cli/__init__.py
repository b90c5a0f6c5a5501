"""The headless command line: one entry point, sub-commands for scripts and auditors.

No sub-command opens the GUI. Exit codes: 0 ok, 1 a check failed, 2 bad input or usage.
Errors go to stderr as one line starting with `error:`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import apsw

from explorer import __version__, paths
from explorer.cli.common import CliError, Exit, OneLineParser
from explorer.store.errors import StoreError
from explorer.store.readdb import set_aside_if_damaged
from explorer.store.sqlite import SQLiteEventStore

# Each module has register(subparsers) that adds its sub-commands. Add new modules here.
COMMAND_MODULES = (
    "explorer.cli.store_commands",
    "explorer.cli.report_commands",
    "explorer.cli.projection_commands",
    "explorer.cli.command_commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="event-explorer",
        description="Explore, audit and time-travel through event stores.",
    )
    parser.add_argument("--version", action="version", version=f"event-explorer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def command_names() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


class _WarningLines(logging.Handler):
    """Warnings (a damaged read database set aside, a diverged copy) as `warning: ...` lines on
    stderr; sys.stderr is looked up at each line (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"warning: {record.getMessage()}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def _read_database_set_aside(args: argparse.Namespace) -> bool:
    """Whether the read database of the command's store was damaged and is now set aside."""
    store_path = getattr(args, "store", None)
    if not isinstance(store_path, str) or not Path(store_path).is_file():
        return False
    try:
        with SQLiteEventStore.open(Path(store_path), read_only=True) as store:
            store_id = store.store_id
    except (StoreError, apsw.Error):
        return False
    return set_aside_if_damaged(paths.read_db_path(store_id)) is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings = _WarningLines()
    logging.getLogger().addHandler(warnings)
    try:
        try:
            return int(args.handler(args) or 0)
        except (apsw.CorruptError, apsw.NotADBError):
            # Damage found while reading: the read database (derived, disposable) or the store?
            # A damaged read database is set aside (a warning line says where), and a command that
            # writes nothing into the store (its parser sets no `writes_store`) runs once more on a new one.
            if _read_database_set_aside(args) and not getattr(args, "writes_store", False):
                return int(args.handler(args) or 0)
            raise
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except Exit as exc:
        return exc.code
    except StoreError as exc:  # e.g. a write refused (read-only, locked) after the store opened
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except apsw.Error as exc:  # a page damaged after the header checks passed: one line, no traceback
        damaged = isinstance(exc, apsw.CorruptError | apsw.NotADBError)
        reason = ("the store file is damaged (`event-explorer verify` names the first bad event)" if damaged else
                  "SQLite could not write to the store" if isinstance(exc, apsw.ReadOnlyError) else
                  "SQLite could not read the store")
        print(f"error: {reason} ({str(exc).split(': ', 1)[-1]}); nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        logging.getLogger().removeHandler(warnings)
