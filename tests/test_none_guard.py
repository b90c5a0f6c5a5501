"""The None refcount guard keeps Python 3.11 alive under PySide6's void-method refcount bug."""

from __future__ import annotations

import sys

import explorer  # noqa: F401 - importing the package applies the guard
from explorer._none_guard import guard


def test_many_void_qt_calls_do_not_abort_the_interpreter() -> None:
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(50_000):  # more than None's natural refcount (~4,500 here)
        obj.setObjectName("x")
    assert sys.getrefcount(None) > 0
    assert before - sys.getrefcount(None) <= 50_000


def test_guard_is_idempotent() -> None:
    count = sys.getrefcount(None)
    guard()
    guard()
    assert abs(sys.getrefcount(None) - count) < 1000


def test_many_bool_signal_emits_do_not_abort_the_interpreter() -> None:
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        toggled = Signal(bool)

    emitter = Emitter()
    for _ in range(50_000):  # each emit drops a reference to True under PySide6 6.12
        emitter.toggled.emit(True)
        emitter.toggled.emit(False)
    assert sys.getrefcount(True) > 0 and sys.getrefcount(False) > 0
