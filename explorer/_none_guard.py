"""Keep Python 3.11 alive under PySide6 6.12's None refcount bug.

PySide6/shiboken6 6.12.0 returns `None` from every void C++ method without a new reference
(fine on Python >= 3.12, where None is immortal; fatal on 3.11): each call such as
`painter.setFont(...)` or `obj.setObjectName(...)` lowers None's refcount by one, and after a
few thousand calls the interpreter aborts with "none_dealloc: deallocating None". Measured here:
`sys.getrefcount(None)` drops by exactly 1 per void call (tests/test_none_guard.py).

`guard()` adds 2**40 to None's refcount once, which makes it immortal in practice, as Python
3.12 does by design. It does nothing on 3.12+ and is idempotent.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_done = False


def guard() -> None:
    """Make None, True and False practically immortal on Python < 3.12 (see the module docstring)."""
    global _done
    if _done or sys.version_info >= (3, 12):
        return
    # ob_refcnt is the first field (a Py_ssize_t) of every object in release builds.
    # True and False suffer the same (e.g. every Signal(bool).emit(True) drops one reference to
    # True, measured with sys.getrefcount); Python 3.12 makes all three immortal.
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BOOST
    _done = True
