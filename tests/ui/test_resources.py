"""The app icon at run time: every bundled size loads, and the application gets it."""

from __future__ import annotations

from PySide6.QtCore import QSize

from explorer.ui import resources


def test_every_size_is_bundled_and_loads(qapp) -> None:
    pngs = resources.icon_pngs()
    assert sorted(pngs) == list(resources.ICON_SIZES)
    icon = resources.app_icon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} == set(resources.ICON_SIZES)
    pixmap = icon.pixmap(QSize(48, 48))
    assert pixmap.width() == 48
    # Opaque in the middle (the drawn icon), transparent in the corner (rounded square).
    image = pixmap.toImage()
    assert image.pixelColor(24, 24).alpha() == 255
    assert image.pixelColor(0, 0).alpha() == 0


def test_apply_sets_the_application_icon(qapp) -> None:
    assert resources.apply_app_icon(qapp)
    assert not qapp.windowIcon().isNull()
    assert {s.width() for s in qapp.windowIcon().availableSizes()} >= {16, 32, 256}
