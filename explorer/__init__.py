"""Event Explorer: a desktop audit and time-travel explorer for event-sourced systems."""

__version__ = "0.1.0"
APP_NAME = "event-explorer"

# PySide6 6.12 loses a reference to None on every void method call (fatal on Python 3.11).
from explorer._none_guard import guard as _guard_none  # noqa: E402

_guard_none()
