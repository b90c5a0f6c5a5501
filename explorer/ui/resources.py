"""The app's bundled resources at run time: the window icon.

The icons live in explorer/resources/icons (package data, so they travel with a wheel and with
the PyInstaller bundle); packaging/make_icons.py renders them from resources/event-explorer.svg.
They are read through importlib.resources, which works the same from a source tree, an
installed wheel and a frozen app.
"""

from __future__ import annotations

from importlib import resources

from PySide6.QtGui import QGuiApplication, QIcon, QPixmap

ICON_NAME = "event-explorer"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)


def icon_pngs() -> dict[int, bytes]:
    """The app icon's PNG bytes by pixel size (only the sizes present)."""
    folder = resources.files("explorer") / "resources" / "icons"
    found: dict[int, bytes] = {}
    for size in ICON_SIZES:
        entry = folder / f"{ICON_NAME}-{size}.png"
        if entry.is_file():
            found[size] = entry.read_bytes()
    return found


def app_icon() -> QIcon:
    """The Event Explorer icon in every bundled size (a null QIcon when none is found).

    Qt picks the closest size for title bars, task bars and alt-tab; the pixmaps are made from
    bytes, so this works even when the resources are not plain files.
    """
    icon = QIcon()
    for data in icon_pngs().values():
        pixmap = QPixmap()
        if pixmap.loadFromData(data, "PNG"):
            icon.addPixmap(pixmap)
    return icon


def apply_app_icon(app: QGuiApplication | None = None) -> bool:
    """Set the icon on the application (every window inherits it); False when there is none."""
    app = app or QGuiApplication.instance()  # type: ignore[assignment]
    icon = app_icon()
    if app is None or icon.isNull():
        return False
    app.setWindowIcon(icon)  # type: ignore[union-attr]
    return True
