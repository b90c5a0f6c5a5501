"""The Qt binding we install keeps None's reference count (PySide6 6.12.0 on Python 3.11 does not)."""

from __future__ import annotations

import subprocess
import sys


def test_void_qt_calls_keep_the_interpreter_alive() -> None:
    code = (
        "import sys\n"
        "from PySide6.QtCore import QObject\n"
        "o = QObject(); before = sys.getrefcount(None)\n"
        "for _ in range(50_000): o.setObjectName('x')\n"
        "print(before - sys.getrefcount(None))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert abs(int(result.stdout.strip())) < 100
