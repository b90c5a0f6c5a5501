"""The frozen app's entry script (PyInstaller needs a file): the same entry point as `event-explorer`."""

import multiprocessing
import sys

from explorer.entry import main

if __name__ == "__main__":
    # Large CSV reports start worker processes ("spawn"): in a frozen app each of them runs this
    # executable again, and freeze_support() makes it the worker instead of a second app.
    multiprocessing.freeze_support()
    sys.exit(main())
