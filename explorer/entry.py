"""The one entry point: a sub-command runs headless; no sub-command (or a store path) opens the app."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from explorer import __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from explorer import cli

    if args and args[0] in ("--version", "-V"):
        print(f"event-explorer {__version__}")
        return 0
    if args and args[0] == "--self-test":
        from explorer import selftest

        return selftest.main(args[1:])
    if args and (args[0] in cli.command_names() or args[0] in ("-h", "--help")):
        return cli.main(args)
    stray = next((a for a in args if not a.startswith("-")), None)
    if stray is not None and not os.path.exists(stray):
        # Neither a sub-command nor a file: a typo, most likely; don't open a window for it.
        print(f"error: {stray!r} is neither a command nor an existing store file "
              "(see `event-explorer --help`)", file=sys.stderr)
        return 2
    return gui_main(args)


def gui_main(argv: Sequence[str] | None = None) -> int:
    """Start the desktop app (on the demo store when no path is given)."""
    try:
        from explorer.ui import app
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("explorer.ui"):
            print("error: the desktop app is not built yet; try `event-explorer --help`", file=sys.stderr)
            return 2
        raise
    return app.main(list(sys.argv[1:] if argv is None else argv))
