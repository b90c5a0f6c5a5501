"""Qt item models of the desktop app (lazy, paged; they hold ids and fetch rows in workers)."""
