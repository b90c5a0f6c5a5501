"""The frozen app's entry script (PyInstaller needs a file): the same entry point as `event-explorer`."""

import sys

from explorer.entry import main

if __name__ == "__main__":
    sys.exit(main())
