"""about_info(): the versions and directories an About box and a bug report show."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest
from PySide6.QtCore import qVersion

from explorer import __version__, about


def test_versions_are_the_running_ones() -> None:
    info = about.about_info()
    assert info["version"] == __version__
    assert info["qt"] == qVersion()
    assert info["sqlite"] == apsw.sqlite_lib_version()
    assert info["fts5"] is True
    assert info["frozen"] is False and info["bundle"] is None


def test_paths_follow_the_overrides(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(isolated_dirs / "elsewhere"))
    paths = about.about_info()["paths"]
    assert paths["data"] == str(isolated_dirs / "elsewhere")
    assert paths["demo_store"] == str(isolated_dirs / "elsewhere" / "demo.evstore")
    assert paths["cache"] == str(isolated_dirs / "cache")
    assert paths["settings"] == str(isolated_dirs / "config")
    assert paths["logs"] == str(isolated_dirs / "log")


def test_platform_defaults_ignore_the_overrides(isolated_dirs: Path) -> None:
    defaults = about.platform_default_dirs()
    assert set(defaults) == {"data", "cache", "logs", "settings"}
    for value in defaults.values():
        assert Path(value).is_absolute()
        assert not Path(value).is_relative_to(isolated_dirs)
        assert "event-explorer" in value


def test_text_has_versions_and_every_path() -> None:
    info = about.about_info()
    text = about.about_text(info)
    assert text.splitlines()[0] == f"Event Explorer {__version__}"
    assert f"Qt {info['qt']}" in text and f"SQLite {info['sqlite']} with FTS5" in text
    for value in info["paths"].values():
        assert value in text


def test_frozen_app_is_recognised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    info = about.about_info()
    assert info["frozen"] is True and info["bundle"] == str(tmp_path)
    assert "(installed app)" in about.about_text(info).splitlines()[0]
