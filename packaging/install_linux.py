"""Install the built bundle on Linux for one user (or system-wide), with its menu entry and icons.

    python packaging/install_linux.py                    # into ~/.local
    sudo python3 packaging/install_linux.py --prefix /usr/local
    python packaging/install_linux.py --uninstall

Puts the bundle in PREFIX/lib/event-explorer, a link PREFIX/bin/event-explorer, the .desktop
entry in PREFIX/share/applications (Exec pointing at that link) and the icon theme files in
PREFIX/share/icons/hicolor. Only these paths are touched; user data (settings, logs, the demo
store, read-model caches in the platform directories) is never removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAME = "event-explorer"
DESKTOP = ROOT / "resources" / f"{NAME}.desktop"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"


def planned(prefix: Path) -> dict[str, Path]:
    return {
        "bundle": prefix / "lib" / NAME,
        "link": prefix / "bin" / NAME,
        "desktop": prefix / "share" / "applications" / f"{NAME}.desktop",
        "icons": prefix / "share" / "icons" / "hicolor",
    }


def icon_files() -> list[Path]:
    """The theme icons, relative to the hicolor directory."""
    return sorted(p.relative_to(HICOLOR) for p in HICOLOR.rglob(f"{NAME}.*"))


def desktop_entry(link: Path) -> str:
    """The .desktop file with Exec/TryExec pointing at the installed link (PATH may lack PREFIX/bin)."""
    lines = []
    for line in DESKTOP.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = f"Exec={link} %f"
        elif line.startswith("TryExec="):
            line = f"TryExec={link}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _refresh_caches(prefix: Path) -> None:
    """Let menus notice the entry now (best effort: the tools are optional)."""
    for tool, arg in (("update-desktop-database", prefix / "share" / "applications"),
                      ("gtk-update-icon-cache", prefix / "share" / "icons" / "hicolor")):
        if shutil.which(tool) and arg.is_dir():
            subprocess.run([tool, "-q", str(arg)] if tool == "update-desktop-database" else [tool, "-qtf", str(arg)],
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def install(bundle: Path, prefix: Path) -> dict[str, Path]:
    exe = bundle / NAME
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise SystemExit(f"error: no built app at {exe}; run `python3 tasks.py package` first")
    where = planned(prefix)
    target = where["bundle"]
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundle, staging, symlinks=True)
    # Swap in the new version only once it is complete; a failed copy leaves the old one working.
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)

    link = where["link"]
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target / NAME)

    where["desktop"].parent.mkdir(parents=True, exist_ok=True)
    where["desktop"].write_text(desktop_entry(link), encoding="utf-8")
    for rel in icon_files():
        dest = where["icons"] / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HICOLOR / rel, dest)
    _refresh_caches(prefix)
    return where


def uninstall(prefix: Path) -> list[Path]:
    where = planned(prefix)
    removed = []
    if where["bundle"].exists():
        shutil.rmtree(where["bundle"])
        removed.append(where["bundle"])
    for path in [where["link"], where["desktop"], *(where["icons"] / rel for rel in icon_files())]:
        if path.is_symlink() or path.exists():
            path.unlink()
            removed.append(path)
    _refresh_caches(prefix)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path.home() / ".local", help="default: %(default)s")
    parser.add_argument("--bundle", type=Path, default=HERE / "dist" / NAME, help="default: %(default)s")
    parser.add_argument("--uninstall", action="store_true", help="remove what an install put in PREFIX")
    args = parser.parse_args(argv)
    prefix = args.prefix.expanduser().resolve()
    if args.uninstall:
        removed = uninstall(prefix)
        print(f"removed {len(removed)} paths from {prefix} (your settings and stores are kept)")
        return 0
    where = install(args.bundle.expanduser().resolve(), prefix)
    print(f"installed {where['bundle']}\n  command: {where['link']}\n  menu entry: {where['desktop']}")
    if str(where["link"].parent) not in os.environ.get("PATH", "").split(os.pathsep):
        print(f"  note: {where['link'].parent} is not on your PATH")
    return 0


if __name__ == "__main__":
    sys.exit(main())
