"""The app's settings: one declarative table (key -> default, cast, validate) over QSettings.

Settings live in an INI file in the config directory (explorer.paths.config_dir), so tests point
them at tmp_path through EXPLORER_CONFIG_DIR or the `path` argument. A stored value that cannot
be cast or fails its check falls back to the default (and is logged), never crashes the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from explorer import paths

log = logging.getLogger(__name__)

MAX_RECENT = 10


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _to_bytes(value: Any) -> QByteArray:
    if isinstance(value, QByteArray):
        return value
    if isinstance(value, (bytes, bytearray)):
        return QByteArray(bytes(value))
    raise ValueError(f"not bytes: {type(value).__name__}")


def _to_str_list(value: Any) -> list[str]:
    # QSettings returns a str for one-element lists and None for empty ones in INI files.
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise ValueError(f"not a list: {value!r}")


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting.

    Attributes:
        key: the QSettings key ("group/name").
        default: the value when nothing (or something bad) is stored.
        cast: turns the stored value into the right type (raises on bad input).
        validate: True when the cast value is acceptable.
        doc: what the setting is for.
    """

    key: str
    default: Any
    cast: Callable[[Any], Any]
    validate: Callable[[Any], bool] = lambda value: True
    doc: str = ""


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("window/geometry", QByteArray(), _to_bytes, doc="main window geometry (saveGeometry)"),
        Setting("window/state", QByteArray(), _to_bytes, doc="docks and toolbars (saveState)"),
        Setting("window/splitter", QByteArray(), _to_bytes, doc="events / detail splitter (saveState)"),
        Setting("window/tab", 0, int, lambda v: 0 <= v < 100, doc="the centre tab shown last"),
        Setting("store/last", "", str, doc="the store open when the app was closed"),
        Setting("store/last_read_only", False, _to_bool, doc="whether it was open read-only"),
        Setting("store/recent", [], _to_str_list, lambda v: len(v) <= 50, doc="recently opened stores"),
        Setting("events/follow_tail", True, _to_bool, doc="scroll to new events when at the end"),
        Setting("events/page_size", 200, int, lambda v: 20 <= v <= 5000, doc="rows fetched at a time"),
        Setting("demo/devices", 200, int, lambda v: 4 <= v <= 100_000, doc="devices in a new demo store"),
        Setting("demo/events", 20_000, int, lambda v: 100 <= v <= 10_000_000, doc="events in a new demo store"),
        Setting("live/follow_head", False, _to_bool,
                doc="move the as-of cursor to the head when other writers append"),
        Setting("commands/actor", "", str, lambda v: len(v) <= 200, doc="who issues commands (empty: the OS user)"),
        Setting("commands/auto_retry", False, _to_bool, doc="re-submit a conflicted command when still valid"),
    )
}


class Settings:
    """Typed access to the SETTINGS table.

    Attributes:
        path: the INI file.
    """

    def __init__(self, *, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.config_dir() / "settings.ini"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def get(self, key: str) -> Any:
        spec = SETTINGS[key]
        raw = self._qs.value(key)
        if raw is None:
            return _copy(spec.default)
        try:
            value = spec.cast(raw)
            if not spec.validate(value):
                raise ValueError(f"{value!r} is out of range")
        except (TypeError, ValueError) as exc:
            log.warning("setting %s: bad stored value (%s); using the default", key, exc)
            return _copy(spec.default)
        return value

    def set(self, key: str, value: Any) -> None:
        spec = SETTINGS[key]
        value = spec.cast(value)
        if not spec.validate(value):
            raise ValueError(f"setting {key}: {value!r} is not allowed")
        self._qs.setValue(key, value)

    def add_recent(self, path: str) -> list[str]:
        """Put `path` first in the recent-files list; return the new list."""
        recent = [p for p in self.get("store/recent") if p != path]
        recent.insert(0, path)
        del recent[MAX_RECENT:]
        self.set("store/recent", recent)
        return recent

    def remove_recent(self, path: str) -> list[str]:
        recent = [p for p in self.get("store/recent") if p != path]
        self.set("store/recent", recent)
        return recent

    def sync(self) -> None:
        self._qs.sync()


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
