"""`python -m explorer`: the same entry point as the `event-explorer` script."""

import sys

from explorer.entry import main

sys.exit(main())
