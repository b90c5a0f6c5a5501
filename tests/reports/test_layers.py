"""Reports draw PDFs with QtGui only: no module of explorer.reports imports QtWidgets."""

from __future__ import annotations

import ast
from pathlib import Path

import explorer.reports


def test_no_report_module_imports_qtwidgets() -> None:
    root = Path(explorer.reports.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("QtWidgets" in n for n in names), f"{path.name} imports QtWidgets"
