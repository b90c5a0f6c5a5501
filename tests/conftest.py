"""Shared fixtures: every test gets its own data, cache, log and config directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app's platform directories at a fresh temporary folder."""
    root = tmp_path_factory.mktemp("explorer-home")
    for name in ("DATA", "CACHE", "LOG", "CONFIG"):
        monkeypatch.setenv(f"EXPLORER_{name}_DIR", str(root / name.lower()))
    return root
