"""Render the app icon (resources/event-explorer.svg) into every format the platforms want.

    python packaging/make_icons.py        # rewrite the generated icons (commit them)
    python packaging/make_icons.py --check  # exit 1 when a generated icon is missing or stale

Writes, from the one SVG:
- resources/icons/hicolor/<N>x<N>/apps/event-explorer.png and .../scalable/apps/event-explorer.svg
  (the freedesktop icon theme layout, for the Linux .desktop entry);
- resources/event-explorer.ico (Windows; PNG-compressed entries 16..256, Vista and later);
- resources/event-explorer.icns (macOS; PNG entries 16..1024);
- explorer/resources/icons/ and explorer/resources/icon.png (what the running app sets as its
  window icon).

Rendering uses Qt's own SVG renderer (QtSvg ships in PySide6-Essentials), so no extra tool is
needed; the ICO and ICNS containers are tiny formats written here with struct, because neither
Qt (its ICO writer stores one image) nor the standard library writes multi-size containers.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
SOURCE = RESOURCES / "event-explorer.svg"
HICOLOR = RESOURCES / "icons" / "hicolor"
RUNTIME = ROOT / "explorer" / "resources" / "icons"
NAME = "event-explorer"

HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
RUNTIME_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types that hold a PNG, and their pixel size.
ICNS_TYPES = (
    (b"icp4", 16), (b"ic11", 32), (b"icp5", 32), (b"ic12", 64), (b"icp6", 64), (b"ic07", 128),
    (b"ic13", 256), (b"ic08", 256), (b"ic14", 512), (b"ic09", 512), (b"ic10", 1024),
)


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn antialiased on a transparent size x size image, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _ = QGuiApplication.instance() or QGuiApplication([])  # QPainter on QImage needs a Gui app for fonts
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding each PNG as one entry (ICONDIR + ICONDIRENTRY[] + data)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = [], []
    for size in sizes:
        png = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in the one-byte width/height fields
        entries.append(struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset))
        blobs.append(png)
        offset += len(png)
    return header + b"".join(entries) + b"".join(blobs)


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns of PNG elements ('icns' + big-endian length, then type + length + data)."""
    body = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def outputs() -> dict[Path, bytes]:
    """Every generated file and its content."""
    sizes = sorted(set(HICOLOR_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES})
    pngs = {size: render_png(SOURCE, size) for size in sizes}
    svg = SOURCE.read_bytes()
    files: dict[Path, bytes] = {HICOLOR / "scalable" / "apps" / f"{NAME}.svg": svg, RUNTIME / f"{NAME}.svg": svg}
    for size in HICOLOR_SIZES:
        files[HICOLOR / f"{size}x{size}" / "apps" / f"{NAME}.png"] = pngs[size]
    for size in RUNTIME_SIZES:
        files[RUNTIME / f"{NAME}-{size}.png"] = pngs[size]
    # explorer/ui/app.py sets explorer/resources/icon.png as the window icon.
    files[RUNTIME.parent / "icon.png"] = pngs[256]
    files[RESOURCES / f"{NAME}.ico"] = ico_bytes({s: pngs[s] for s in ICO_SIZES})
    files[RESOURCES / f"{NAME}.icns"] = icns_bytes(pngs)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the generated icons are current")
    args = parser.parse_args(argv)
    stale = []
    for path, content in outputs().items():
        if path.exists() and path.read_bytes() == content:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    if args.check and stale:
        for path in stale:
            print(f"stale or missing: {path.relative_to(ROOT)}", file=sys.stderr)
        print("run: python packaging/make_icons.py", file=sys.stderr)
        return 1
    print(f"{'checked' if args.check else 'wrote'} icons ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
