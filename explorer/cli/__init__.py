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

import apsw

from explorer import __version__
from explorer.cli.common import CliError, Exit, OneLineParser
from explorer.store.errors import StoreError

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings = _WarningLines()
    logging.getLogger().addHandler(warnings)
    try:
        return int(args.handler(args) or 0)
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
        reason = "the store file is damaged" if damaged else "SQLite could not read the store"
        print(f"error: {reason} ({str(exc).split(': ', 1)[-1]}); nothing was written", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        logging.getLogger().removeHandler(warnings)
