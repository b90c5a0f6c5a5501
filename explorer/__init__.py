"""Event Explorer: a desktop audit and time-travel explorer for event-sourced systems."""

__version__ = "0.1.0"
APP_NAME = "event-explorer"

