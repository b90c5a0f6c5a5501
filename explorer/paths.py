"""Where the app keeps its files: the platform's proper directories (platformdirs).

Each can be moved with an environment variable (tests point them at tmp_path):
EXPLORER_DATA_DIR (demo store), EXPLORER_CACHE_DIR (read models, snapshots),
EXPLORER_LOG_DIR (logs), EXPLORER_CONFIG_DIR (settings).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from explorer import APP_NAME

_DIRS = platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def _dir(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or default)


def data_dir() -> Path:
    return _dir("EXPLORER_DATA_DIR", _DIRS.user_data_dir)


def cache_dir() -> Path:
    return _dir("EXPLORER_CACHE_DIR", _DIRS.user_cache_dir)


def log_dir() -> Path:
    return _dir("EXPLORER_LOG_DIR", _DIRS.user_log_dir)


def config_dir() -> Path:
    return _dir("EXPLORER_CONFIG_DIR", _DIRS.user_config_dir)


def demo_store_path() -> Path:
    return data_dir() / "demo.evstore"


def read_db_path(store_id: str) -> Path:
    return cache_dir() / "readmodels" / f"{store_id}.sqlite"
