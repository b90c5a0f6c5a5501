"""The desktop bundle: platform files (icons, .desktop, spec) and, marked slow, a real PyInstaller build.

The slow tests build the app once (a module fixture, about 1.5 minutes on 2 cores) into a
temporary directory that is removed afterwards, then run the frozen binary offscreen:
`--version`, `--self-test`, headless sub-commands; and check its size, its start time and that
it keeps user files in the same platform directories as the pip-installed app.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImage

from explorer import __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"


def _load(name: str) -> ModuleType:
    """packaging/<name>.py as a module (by path: `build` is also the name of a PyPI package)."""
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load("build")
make_icons = _load("make_icons")

# Generous ceilings: they catch a regression in kind (Qt QML or a test framework bundled, a
# start-up that imports everything), not noise on a shared machine.
MAX_BUNDLE_MB = 300
MAX_START_S = 3.0


# -- platform files (fast) ----------------------------------------------------------------------


def test_desktop_entry_is_complete() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(RESOURCES / "event-explorer.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Event Explorer"
    assert entry["Exec"].split()[0] == "event-explorer"
    assert entry["Icon"] == make_icons.NAME
    assert entry["Terminal"] == "false"
    for key in ("Categories", "Keywords", "MimeType"):
        assert entry[key].endswith(";")  # the spec's list syntax


def test_hicolor_icons_have_their_sizes() -> None:
    for size in make_icons.HICOLOR_SIZES:
        image = QImage(str(RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "event-explorer.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
    assert (RESOURCES / "icons" / "hicolor" / "scalable" / "apps" / "event-explorer.svg").read_bytes() \
        == make_icons.SOURCE.read_bytes()


def _ico_entries(data: bytes) -> list[int]:
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        width, height, _c, _r, _planes, bits, length, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * i)
        assert width == height and bits == 32
        png = data[offset:offset + length]
        image = QImage.fromData(png, "PNG")
        sizes.append(image.width())
        assert image.width() == (width or 256)
    return sizes


def test_windows_ico_holds_every_size() -> None:
    assert _ico_entries((RESOURCES / "event-explorer.ico").read_bytes()) == list(make_icons.ICO_SIZES)


def test_macos_icns_holds_png_elements() -> None:
    data = (RESOURCES / "event-explorer.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack_from(">I", data, 4)[0] == len(data)
    found, offset = {}, 8
    while offset < len(data):
        kind, length = data[offset:offset + 4], struct.unpack_from(">I", data, offset + 4)[0]
        found[kind] = QImage.fromData(data[offset + 8:offset + length], "PNG").width()
        offset += length
    assert found == {kind: size for kind, size in make_icons.ICNS_TYPES}


def test_container_writers_round_trip(qapp) -> None:  # qapp first: render_png would make a bare QGuiApplication
    pngs = {size: make_icons.render_png(make_icons.SOURCE, size) for size in (16, 256)}
    assert _ico_entries(make_icons.ico_bytes(pngs)) == [16, 256]


def test_spec_uses_only_paths_relative_to_itself() -> None:
    spec = (PACKAGING / "event-explorer.spec").read_text()
    assert "SPECPATH" in spec
    for absolute in ("/work/", "/home/", "/root/", "C:\\", "/Users/"):
        assert absolute not in spec


def test_contents_check_flags_unwanted_and_missing_files(tmp_path: Path) -> None:
    bundle = tmp_path / "event-explorer"
    (bundle / "_internal" / "tkinter").mkdir(parents=True)
    (bundle / "_internal" / "_pytest").mkdir()
    problems = build.check_contents(bundle)
    assert any("should not be bundled: _internal/tkinter" in p for p in problems)
    assert any("_pytest" in p for p in problems)
    if sys.platform.startswith("linux"):
        assert "missing PySide6/Qt/plugins/platforms/libqoffscreen.so" in problems


# -- the real build (slow) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def built() -> Iterator[dict]:
    """Build once for the whole module; remove the bundle and PyInstaller's work dir afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="event-explorer-build-"))
    try:
        result_file = workdir / "result.json"
        proc = subprocess.run(
            [sys.executable, str(PACKAGING / "build.py"), "--dist", str(workdir / "dist"),
             "--work", str(workdir / "work"), "--runs", "3", "--json", str(result_file)],
            cwd=ROOT, capture_output=True, text=True, timeout=1200,
        )
        assert result_file.exists(), f"the build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        result = json.loads(result_file.read_text())
        result["returncode"] = proc.returncode
        result["output"] = proc.stdout + proc.stderr
        result["exe"] = workdir / "dist" / build.NAME / build.EXE_NAME
        yield result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _frozen(built: dict, *args: str, cwd: Path | None = None, env_dirs: Path | None = None,
            home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if home is not None:  # a fresh home: the platform directories (and anything else) land there
        env["HOME"] = str(home)
        for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            env.pop(name, None)
        for name in ("DATA", "CACHE", "LOG", "CONFIG"):
            env.pop(f"EXPLORER_{name}_DIR", None)
    if env_dirs is not None:
        for name in ("DATA", "CACHE", "LOG", "CONFIG"):
            env[f"EXPLORER_{name}_DIR"] = str(env_dirs / name.lower())
    return subprocess.run([str(built["exe"]), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_build_passes_every_check(built: dict) -> None:
    assert built["returncode"] == 0, built["output"][-5000:]
    assert built["ok"] is True
    assert built["content_problems"] == []


@pytest.mark.slow
def test_frozen_version(built: dict) -> None:
    proc = _frozen(built, "--version")
    assert (proc.returncode, proc.stdout) == (0, f"event-explorer {__version__}\n")


@pytest.mark.slow
def test_frozen_self_test_passes_offscreen(built: dict, isolated_dirs: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    proc = _frozen(built, "--self-test", env_dirs=isolated_dirs, home=home)
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = proc.stdout.strip().splitlines()
    from explorer.selftest import STEPS

    assert len(lines) == 1 and f"self-test: ok, {len(STEPS)} steps passed" in lines[0]
    # Every step of the JSON run inside the build passed too, the window drawn offscreen, and the
    # split CSV report started its worker processes from the frozen executable.
    steps = {s["name"]: s["status"] for s in built["self_test"]["steps"]}
    assert set(steps.values()) == {"ok"} and {"window", "split_report"} <= set(steps)
    assert built["self_test"]["facts"]["window"]["platform"] == "offscreen"
    # The self-test kept to its temporary directory: nothing in the user's dirs, nor in $HOME.
    assert not any(isolated_dirs.rglob("*"))
    assert not any(home.rglob("*")), list(home.rglob("*"))


@pytest.mark.slow
def test_frozen_headless_commands_with_fts5(built: dict, tmp_path: Path) -> None:
    store = tmp_path / "cli.evstore"
    made = _frozen(built, "demo", str(store), "--devices", "10", "--events", "300", env_dirs=tmp_path)
    assert made.returncode == 0, made.stderr
    verified = _frozen(built, "verify", str(store), env_dirs=tmp_path)
    assert verified.returncode == 0, verified.stderr
    found = _frozen(built, "search", str(store), "night", "--json", env_dirs=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "night-caller" in found.stdout


@pytest.mark.slow
def test_frozen_read_model_child(built: dict, tmp_path: Path) -> None:
    """The app's projection service runs `[bundle executable, "project", STORE, ...]` when frozen."""
    from explorer.ui.projection_service import CHILD_LINGER_S

    store = tmp_path / "child.evstore"
    assert _frozen(built, "demo", str(store), "--devices", "10", "--events", "300", env_dirs=tmp_path).returncode == 0
    proc = _frozen(built, "project", str(store), "--progress-json", "--control-stdin", "--linger",
                   str(CHILD_LINGER_S), "--background", env_dirs=tmp_path)  # stdin: none, so it stops at once
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines and lines[0]["event"] == "started", proc.stderr[-3000:]
    assert lines[-1]["event"] in ("done", "stopped") and proc.returncode in (0, 130)
    assert list((tmp_path / "cache" / "readmodels").glob("*.sqlite"))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG paths")
def test_frozen_app_keeps_the_demo_store_and_read_models_in_the_platform_dirs(built: dict, tmp_path: Path) -> None:
    made = _frozen(built, "demo", "--devices", "10", "--events", "200", home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / ".local/share/event-explorer/demo.evstore").is_file()
    projected = _frozen(built, "project", str(tmp_path / ".local/share/event-explorer/demo.evstore"), home=tmp_path)
    assert projected.returncode == 0, projected.stderr
    assert list((tmp_path / ".cache/event-explorer/readmodels").glob("*.sqlite"))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG paths")
def test_frozen_gui_first_start_keeps_its_files_in_the_platform_dirs(built: dict, tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "EXPLORER_DATA_DIR",
                 "EXPLORER_CACHE_DIR", "EXPLORER_LOG_DIR", "EXPLORER_CONFIG_DIR"):
        env.pop(name, None)
    wanted = {
        "demo store": lambda: (tmp_path / ".local/share/event-explorer/demo.evstore").is_file(),
        "settings": lambda: (tmp_path / ".config/event-explorer/settings.ini").is_file(),
        "log": lambda: (tmp_path / ".local/state/event-explorer/log/event-explorer.log").is_file(),
        "read models": lambda: any((tmp_path / ".cache/event-explorer/readmodels").glob("*.sqlite")),
    }
    # The app runs until its window closes: watch for its files, then stop it.
    proc = subprocess.Popen([str(built["exe"])], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    try:
        while not all(check() for check in wanted.values()):
            missing = [name for name, check in wanted.items() if not check()]
            assert proc.poll() is None, f"the app exited ({proc.returncode}) before making {missing}"
            assert time.monotonic() < deadline, f"after 180 s still no {missing}"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.5)
    finally:
        proc.kill()
        proc.communicate()
    made = {p.relative_to(tmp_path).parts[0] for p in tmp_path.iterdir()}
    assert made <= {".local", ".config", ".cache"}, made  # nothing else in $HOME


@pytest.mark.slow
def test_frozen_app_uses_the_same_platform_dirs_as_pip(built: dict) -> None:
    dirs = built["platform_dirs"]
    assert dirs["frozen"] == dirs["pip"]
    bundle = Path(built["bundle"]).resolve()
    assert not any(Path(p).resolve().is_relative_to(bundle) for p in dirs["frozen"].values())


@pytest.mark.slow
def test_bundle_size_and_start_time(built: dict) -> None:
    assert 20 < built["size_mb"] < MAX_BUNDLE_MB
    start = built["start"]
    assert start["frozen_median_s"] < MAX_START_S, start


# -- Linux install (a stand-in bundle; the slow test installs the real one) --------------------


install_linux = _load("install_linux")


def _fake_bundle(root: Path) -> Path:
    bundle = root / "dist" / "event-explorer"
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / "event-explorer"
    exe.write_text("#!/bin/sh\necho event-explorer fake\n")
    exe.chmod(0o755)
    return bundle


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux installer")
def test_linux_install_and_uninstall(tmp_path: Path) -> None:
    bundle, prefix = _fake_bundle(tmp_path), tmp_path / "prefix"

    where = install_linux.install(bundle, prefix)
    install_linux.install(bundle, prefix)  # a second install replaces the first

    assert subprocess.run([str(prefix / "bin" / "event-explorer")], capture_output=True, text=True).stdout \
        == "event-explorer fake\n"
    entry = where["desktop"].read_text()
    assert f"Exec={prefix / 'bin' / 'event-explorer'} %f" in entry and "Icon=event-explorer" in entry
    assert (prefix / "share/icons/hicolor/256x256/apps/event-explorer.png").is_file()
    assert (prefix / "share/icons/hicolor/scalable/apps/event-explorer.svg").is_file()
    assert not (prefix / "lib" / "event-explorer.new").exists() and not (prefix / "lib" / "event-explorer.old").exists()

    install_linux.uninstall(prefix)
    assert not [p for p in prefix.rglob("*") if p.is_file() or p.is_symlink()]


def test_install_without_a_build_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="run `python3 tasks.py package` first"):
        install_linux.install(tmp_path / "nothing", tmp_path / "prefix")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux installer")
def test_installed_app_runs_through_its_link(built: dict, tmp_path: Path) -> None:
    install_linux.install(built["exe"].parent, tmp_path / "prefix")
    proc = subprocess.run([str(tmp_path / "prefix" / "bin" / "event-explorer"), "--version"],
                          capture_output=True, text=True, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert (proc.returncode, proc.stdout) == (0, f"event-explorer {__version__}\n")


def test_archive_keeps_the_folder_and_the_executable_bit(tmp_path: Path) -> None:
    import tarfile

    bundle = _fake_bundle(tmp_path)
    archive = build.make_archive(bundle, __version__)
    assert archive.name.startswith(f"event-explorer-{__version__}-")
    if os.name != "nt":
        with tarfile.open(archive) as tar:
            member = tar.getmember("event-explorer/event-explorer")
            assert member.mode & 0o111


platform_info = _load("platform_info")


@pytest.mark.parametrize(("version", "numbers"), [
    ("0.1.0", (0, 1, 0, 0)), ("1.2.3.4", (1, 2, 3, 4)), ("2.0rc1", (2, 0, 0, 0)), ("3", (3, 0, 0, 0)),
])
def test_windows_version_numbers(version: str, numbers: tuple[int, ...]) -> None:
    assert platform_info.version_tuple(version) == numbers


@pytest.mark.skipif(sys.platform != "win32", reason="PyInstaller's version resource module imports only on Windows")
def test_windows_version_resource_carries_the_package_version() -> None:
    info = platform_info.windows_version_info(__version__, "event-explorer.exe")
    assert info.ffi.fileVersionMS >> 16 == platform_info.version_tuple(__version__)[0]
    text = str(info)
    assert f"StringStruct('ProductVersion', '{__version__}')" in text
    assert "StringStruct('OriginalFilename', 'event-explorer.exe')" in text


def test_macos_info_plist_carries_the_package_version() -> None:
    plist = platform_info.macos_info_plist(__version__)
    assert plist["CFBundleShortVersionString"] == __version__
    assert "evstore" in plist["CFBundleDocumentTypes"][0]["CFBundleTypeExtensions"]
