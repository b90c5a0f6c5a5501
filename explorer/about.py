"""What an "About" box and a bug report need: versions (app, Python, Qt, SQLite) and where files live.

`about_info()` is plain data (no widgets), so the About dialog, `--self-test --json` and a bug
report all show the same facts. Qt is asked only when PySide6 imports; a headless install without
a working Qt still gets an answer.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import apsw
import platformdirs

from explorer import APP_NAME, __version__, paths


def is_frozen() -> bool:
    """True inside a PyInstaller bundle (the installed desktop app), False from a Python install."""
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path | None:
    """The frozen app's own files (read-only; nothing the user makes goes there), or None."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if base else None


def fts5_available() -> bool:
    """Whether this SQLite can make an FTS5 table (the search read model needs it)."""
    db = apsw.Connection(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE probe USING fts5(body)")
        return True
    except apsw.Error:
        return False
    finally:
        db.close()


def qt_versions() -> dict[str, str]:
    """Qt (run time) and PySide6 versions, or "unavailable" with the reason."""
    try:
        import PySide6
        from PySide6.QtCore import qVersion
    except ImportError as exc:  # a headless install without Qt libraries
        return {"qt": f"unavailable ({exc})", "pyside6": "unavailable"}
    return {"qt": qVersion(), "pyside6": PySide6.__version__}


def platform_default_dirs() -> dict[str, str]:
    """The platform's directories for this app, ignoring the EXPLORER_*_DIR overrides."""
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return {"data": dirs.user_data_dir, "cache": dirs.user_cache_dir, "logs": dirs.user_log_dir,
            "settings": dirs.user_config_dir}


def about_info() -> dict[str, Any]:
    """Everything an About box shows, as JSON-ready data.

    Keys: name, version, python, platform, qt, pyside6, sqlite, apsw, fts5, frozen,
    executable, bundle (or None), and paths: data, cache, logs, settings, demo_store (the
    directories in effect, EXPLORER_*_DIR overrides included).
    """
    return {
        "name": "Event Explorer",
        "version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **qt_versions(),
        "sqlite": apsw.sqlite_lib_version(),
        "apsw": apsw.apsw_version(),
        "fts5": fts5_available(),
        "frozen": is_frozen(),
        "executable": sys.executable,
        "bundle": str(bundle_dir()) if bundle_dir() else None,
        "paths": {
            "data": str(paths.data_dir()),
            "cache": str(paths.cache_dir()),
            "logs": str(paths.log_dir()),
            "settings": str(paths.config_dir()),
            "demo_store": str(paths.demo_store_path()),
        },
    }


def about_text(info: dict[str, Any] | None = None) -> str:
    """about_info() as plain text lines (for a QMessageBox with Qt.PlainText, or a terminal)."""
    info = info or about_info()
    lines = [
        f"{info['name']} {info['version']}" + (" (installed app)" if info["frozen"] else ""),
        f"Qt {info['qt']} · PySide6 {info['pyside6']} · SQLite {info['sqlite']}"
        f"{' with FTS5' if info['fts5'] else ' (no FTS5)'} · apsw {info['apsw']} · Python {info['python']}",
        "",
    ]
    labels = {"data": "Data", "cache": "Cache", "logs": "Logs", "settings": "Settings", "demo_store": "Demo store"}
    lines += [f"{labels[key]}: {value}" for key, value in info["paths"].items()]
    return "\n".join(lines)
