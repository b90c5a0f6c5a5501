"""The Qt binding we install keeps the refcounts of None and True (PySide6 6.12.0 on Python 3.11
does not: each void call drops one on None, each Signal(bool).emit(True) one on True, and the
interpreter aborts after a few thousand)."""

from __future__ import annotations

import subprocess
import sys


def test_void_calls_and_bool_signals_keep_refcounts() -> None:
    code = (
        "import sys\n"
        "from PySide6.QtCore import QObject, Signal\n"
        "class A(QObject):\n"
        "    changed = Signal(bool)\n"
        "a = A(); a.changed.connect(lambda v: None)\n"
        "none0, true0 = sys.getrefcount(None), sys.getrefcount(True)\n"
        "for _ in range(50_000):\n"
        "    a.setObjectName('x'); a.changed.emit(True)\n"
        "print(none0 - sys.getrefcount(None), true0 - sys.getrefcount(True))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lost_none, lost_true = (int(x) for x in result.stdout.split())
    assert abs(lost_none) < 100 and abs(lost_true) < 100
