"""The settings table: defaults, round trips, and bad stored values falling back."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from explorer.ui.settings import MAX_RECENT, SETTINGS, Settings


def test_defaults_when_nothing_is_stored(tmp_path: Path) -> None:
    settings = Settings(path=tmp_path / "s.ini")
    for key, spec in SETTINGS.items():
        assert settings.get(key) == spec.default


def test_values_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    settings = Settings(path=path)
    settings.set("events/page_size", 300)
    settings.set("store/last", "/data/a b.evstore")
    settings.set("events/follow_tail", False)
    settings.set("window/geometry", QByteArray(b"\x01\x02geometry"))
    settings.sync()
    again = Settings(path=path)
    assert again.get("events/page_size") == 300
    assert again.get("store/last") == "/data/a b.evstore"
    assert again.get("events/follow_tail") is False
    assert bytes(again.get("window/geometry")) == b"\x01\x02geometry"


def test_bad_stored_values_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    raw = QSettings(str(path), QSettings.Format.IniFormat)
    raw.setValue("events/page_size", "lots")
    raw.setValue("demo/devices", 1)  # below the allowed range
    raw.setValue("events/follow_tail", "perhaps")
    raw.setValue("window/tab", -3)
    raw.sync()
    settings = Settings(path=path)
    assert settings.get("events/page_size") == 200
    assert settings.get("demo/devices") == 200
    assert settings.get("events/follow_tail") is True
    assert settings.get("window/tab") == 0


def test_recent_files_are_most_recent_first_unique_and_bounded(tmp_path: Path) -> None:
    settings = Settings(path=tmp_path / "s.ini")
    settings.add_recent("/a")
    settings.add_recent("/b")
    assert settings.add_recent("/a") == ["/a", "/b"]
    for i in range(20):
        settings.add_recent(f"/s{i}")
    assert len(settings.get("store/recent")) == MAX_RECENT
    assert settings.remove_recent("/s19")[0] == "/s18"
    one = Settings(path=tmp_path / "one.ini")
    one.add_recent("/only")
    one.sync()
    assert Settings(path=tmp_path / "one.ini").get("store/recent") == ["/only"]  # a 1-item list survives INI
