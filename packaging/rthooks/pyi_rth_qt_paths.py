"""Run-time hook: point Qt at the bundle's plugins without importing QtCore at start-up.

It replaces PyInstaller's pyi_rth_pyside6 (see the spec), which imports PySide6.QtCore (Qt and
ICU, about 0.4 s here) before any of our code runs, only to write an embedded qt.conf that the
PyPI PySide6 wheels do not need: their Qt finds its prefix relative to libQt6Core. So
`event-explorer --version` and the headless sub-commands start without loading Qt at all; the
window and reports still get every plugin (the self-test's window step proves it).
"""

import os
import sys


def _qt_plugin_path() -> None:
    base = sys._MEIPASS  # type: ignore[attr-defined]
    if sys.platform.startswith("win"):
        qt_dir = os.path.join(base, "PySide6")
        # Qt's DLL dependencies collected beside the executable must be found by Windows.
        os.environ["PATH"] = base + os.pathsep + os.environ.get("PATH", "")
    else:
        qt_dir = os.path.join(base, "PySide6", "Qt")
    os.environ["QT_PLUGIN_PATH"] = os.path.join(qt_dir, "plugins")


_qt_plugin_path()
del _qt_plugin_path
