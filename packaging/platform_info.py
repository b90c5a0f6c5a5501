"""Platform metadata for the bundle, from the package version: Windows VERSIONINFO, macOS Info.plist.

Kept out of the spec so tests can check it on any OS (the spec applies it only on its platform).
"""

from __future__ import annotations

from typing import Any

APP_TITLE = "Event Explorer"
BUNDLE_ID = "org.eventexplorer.EventExplorer"
STORE_EXTENSIONS = ["evstore", "sqlite", "db"]


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """"1.2.3" / "1.2.3rc1" / "1.2" -> (1, 2, 3, 0): the four numbers Windows wants."""
    numbers: list[int] = []
    for part in version.split(".")[:4]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        numbers.append(int(digits or 0))
    return tuple((numbers + [0, 0, 0, 0])[:4])  # type: ignore[return-value]


def windows_version_info(version: str, exe_name: str) -> Any:
    """PyInstaller's VSVersionInfo (file properties > Details) for `version`."""
    from PyInstaller.utils.win32.versioninfo import (
        FixedFileInfo, StringFileInfo, StringStruct, StringTable, VarFileInfo, VarStruct, VSVersionInfo,
    )

    numbers = version_tuple(version)
    return VSVersionInfo(
        ffi=FixedFileInfo(filevers=numbers, prodvers=numbers),
        kids=[
            StringFileInfo([StringTable("040904B0", [
                StringStruct("CompanyName", "Event Explorer contributors"),
                StringStruct("FileDescription", APP_TITLE),
                StringStruct("FileVersion", version),
                StringStruct("InternalName", exe_name.removesuffix(".exe")),
                StringStruct("OriginalFilename", exe_name),
                StringStruct("ProductName", APP_TITLE),
                StringStruct("ProductVersion", version),
                StringStruct("LegalCopyright", "MIT License"),
            ])]),
            VarFileInfo([VarStruct("Translation", [0x0409, 1200])]),  # US English, Unicode
        ],
    )


def macos_info_plist(version: str) -> dict[str, Any]:
    """Info.plist keys of the .app bundle."""
    return {
        "CFBundleName": APP_TITLE,
        "CFBundleDisplayName": APP_TITLE,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "NSHighResolutionCapable": True,
        "LSMinimumSystemVersion": "11.0",
        # Stores open by drag and drop or "Open With".
        "CFBundleDocumentTypes": [{
            "CFBundleTypeName": "Event Explorer store",
            "CFBundleTypeExtensions": STORE_EXTENSIONS,
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "Alternate",
        }],
    }
