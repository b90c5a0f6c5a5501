"""The layer rule beyond import-linter: only the ui touches QtWidgets or pyqtgraph, even indirectly."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "explorer"
WIDGET_MODULES = ("PySide6.QtWidgets", "pyqtgraph")
# Layers above the ui (pyproject's layers contract) may drive it: the self-test draws the window.
ABOVE_THE_UI = {"entry.py", "selftest.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_ui_imports_widgets_directly() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if "ui" in relative.parts or str(relative) in ABOVE_THE_UI:
            continue
        bad = {n for n in _imports(path) if n.startswith(WIDGET_MODULES)}
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(bad)}")
    assert offenders == []


def test_the_command_line_loads_no_widgets() -> None:
    """Importing every headless module (and building the parser) pulls in no widget module."""
    code = (
        "import sys, pkgutil, importlib, explorer\n"
        "for m in pkgutil.walk_packages(explorer.__path__, 'explorer.'):\n"
        "    if '.ui' in m.name or m.name.endswith('__main__') or m.name == 'explorer.selftest': continue\n"
        "    importlib.import_module(m.name)\n"
        "import explorer.cli as c; c.build_parser()\n"
        f"bad = [m for m in sys.modules if m.startswith({WIDGET_MODULES!r})]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
