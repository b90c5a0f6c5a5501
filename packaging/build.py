"""Build the desktop bundle with PyInstaller, then check it: `python3 tasks.py package`.

    python packaging/build.py                 # build packaging/dist/event-explorer, then check it
    python packaging/build.py --no-build      # only check the bundle already built
    python packaging/build.py --runs 9 --json packaging/build/result.json
    python packaging/build.py --archive       # also pack it for download (.tar.gz / .zip)

Checks, each printed as a line (exit 1 when one fails):
- contents: the offscreen (and on Linux xcb/wayland) Qt platform plugins, apsw, the icons are in;
  tkinter, test frameworks and Qt's QML/Quick/Designer/translations are not;
- `event-explorer --version` prints the package version;
- `event-explorer --self-test --json` passes offscreen (demo store, verify, state_at, read models,
  preview, PDF report, main window, paths), and the frozen app's platform directories are
  the same as the pip-installed app's;
- size of the bundle, and start time: the first `--version` after the build (cold disk cache,
  as far as a fresh build allows) and the median of --runs more, against `python -m explorer
  --version` from the same environment measured interleaved (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "event-explorer.spec"
NAME = "event-explorer"
EXE_NAME = NAME + (".exe" if os.name == "nt" else "")
DIST = HERE / "dist"
WORK = HERE / "build"
SELF_TEST_TIMEOUT_S = 300

# Present in the bundle (relative to its _internal dir); per platform.
REQUIRED = {
    "linux": ["PySide6/Qt/plugins/platforms/libqoffscreen.so", "PySide6/Qt/plugins/platforms/libqxcb.so",
              "PySide6/Qt/plugins/platforms/libqwayland.so", "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
              "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
              "PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so",
              "explorer/resources/icons/event-explorer-256.png", "explorer/resources/icon.png"],
    "win32": ["PySide6/plugins/platforms/qoffscreen.dll", "PySide6/plugins/platforms/qwindows.dll",
              "explorer/resources/icons/event-explorer-256.png"],
    "darwin": ["PySide6/Qt/plugins/platforms/libqoffscreen.dylib", "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
               "explorer/resources/icons/event-explorer-256.png"],
}
# Never in the bundle: path fragments (lower case).
FORBIDDEN = ["_tkinter", "/tcl", "/tk", "tkinter", "pytest", "hypothesis", "pytestqt", "/qml/",
             "qt/translations", "qt6quick", "qt6qml", "qt6designer", "libqgtk3", "pyqtgraph/examples"]


def log(message: str) -> None:
    print(message, flush=True)


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on the spec; return the seconds it took."""
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    log(f"build: {' '.join(cmd[2:])}")
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - started


def bundle_size(bundle: Path) -> int:
    """Bytes of every file in the bundle (symlinks counted once, as their target file)."""
    return sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())


def check_contents(bundle: Path) -> list[str]:
    """Problems with what the bundle holds (empty when fine)."""
    internal = bundle / "_internal"
    base = internal if internal.is_dir() else bundle
    key = "linux" if sys.platform.startswith("linux") else sys.platform
    problems = [f"missing {rel}" for rel in REQUIRED.get(key, []) if not (base / rel).exists()]
    names = [p.relative_to(bundle).as_posix().lower() for p in bundle.rglob("*")]
    for fragment in FORBIDDEN:
        hits = [n for n in names if fragment in "/" + n]
        if hits:
            problems.append(f"should not be bundled: {hits[0]}" + (f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""))
    return problems


def make_archive(bundle: Path, version: str) -> Path:
    """event-explorer-<version>-<os>-<machine>.tar.gz (zip on Windows) beside the bundle."""
    import shutil

    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    base = bundle.parent / f"{NAME}-{version}-{system}-{platform.machine().lower()}"
    kind = "zip" if os.name == "nt" else "gztar"
    return Path(shutil.make_archive(str(base), kind, root_dir=bundle.parent, base_dir=bundle.name))


def offscreen_env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def time_command(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def start_times(exe: Path, runs: int) -> dict[str, float]:
    """The first --version after the build, then medians of `runs` interleaved runs against the venv."""
    env = offscreen_env()
    frozen = [str(exe), "--version"]
    venv = [sys.executable, "-m", "explorer", "--version"]
    first = time_command(frozen, env)
    frozen_times: list[float] = []
    venv_times: list[float] = []
    for _ in range(runs):
        frozen_times.append(time_command(frozen, env))
        venv_times.append(time_command(venv, env))
    frozen_median, venv_median = statistics.median(frozen_times), statistics.median(venv_times)
    return {
        "first_s": round(first, 3),
        "frozen_median_s": round(frozen_median, 3),
        "frozen_max_s": round(max(frozen_times), 3),
        "venv_median_s": round(venv_median, 3),
        "ratio_frozen_to_venv": round(frozen_median / venv_median, 2),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true", help="check the bundle already in --dist")
    parser.add_argument("--dist", type=Path, default=DIST, help="where the bundle goes (default %(default)s)")
    parser.add_argument("--work", type=Path, default=WORK, help="PyInstaller's work dir (default %(default)s)")
    parser.add_argument("--runs", type=int, default=7, help="start-time runs (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--archive", action="store_true",
                        help="when the checks pass, pack the bundle for download (.tar.gz; .zip on Windows)")
    args = parser.parse_args(argv)

    result: dict[str, object] = {"machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
                                 "python": platform.python_version()}
    failures: list[str] = []
    if not args.no_build:
        try:
            result["build_s"] = round(build(args.dist, args.work), 1)
        except subprocess.CalledProcessError as exc:
            print(f"error: PyInstaller failed (exit {exc.returncode}); see its output above", file=sys.stderr)
            return 1
        log(f"build: done in {result['build_s']} s")
    bundle = args.dist / NAME
    exe = bundle / EXE_NAME
    if not exe.exists():
        print(f"error: no bundle at {bundle}; build it first (without --no-build)", file=sys.stderr)
        return 1

    size = bundle_size(bundle)
    result["bundle"] = str(bundle)
    result["size_mb"] = round(size / 1e6, 1)
    log(f"size: {size / 1e6:.1f} MB in {bundle}")
    problems = check_contents(bundle)
    result["content_problems"] = problems
    for problem in problems:
        log(f"contents: {problem}")
    failures += [f"contents: {p}" for p in problems]

    from explorer import __version__, about

    version = subprocess.run([str(exe), "--version"], env=offscreen_env(), capture_output=True, text=True)
    result["version_output"] = version.stdout.strip()
    if version.returncode != 0 or version.stdout.strip() != f"{NAME} {__version__}":
        failures.append(f"--version: exit {version.returncode}, printed {version.stdout.strip()!r} "
                        f"{version.stderr.strip()[-500:]!r}")
    log(f"--version: {version.stdout.strip() or version.stderr.strip()[-200:]}")

    started = time.perf_counter()
    selftest = subprocess.run([str(exe), "--self-test", "--json"], env=offscreen_env(), capture_output=True,
                              text=True, timeout=SELF_TEST_TIMEOUT_S)
    result["self_test_s"] = round(time.perf_counter() - started, 2)
    try:
        report = json.loads(selftest.stdout)
    except json.JSONDecodeError:
        report = {"ok": False, "summary": (selftest.stdout + selftest.stderr).strip()[-2000:], "steps": []}
    result["self_test"] = report
    log(f"--self-test: {report.get('summary')}")
    if selftest.returncode != 0 or not report.get("ok"):
        failures.append(f"--self-test: exit {selftest.returncode}: {report.get('summary')}")
        if selftest.stderr.strip():
            log(selftest.stderr.strip()[-3000:])
    frozen_dirs = report.get("facts", {}).get("paths", {}).get("platform_defaults")
    pip_dirs = about.platform_default_dirs()
    result["platform_dirs"] = {"frozen": frozen_dirs, "pip": pip_dirs}
    if frozen_dirs != pip_dirs:
        failures.append(f"platform directories differ: frozen {frozen_dirs} vs pip-installed {pip_dirs}")
    else:
        log(f"paths: the frozen and pip-installed app use the same directories ({pip_dirs['data']}, ...)")

    if not failures and args.runs > 0:
        times = start_times(exe, args.runs)
        result["start"] = times
        log(f"start: first --version {times['first_s']:.3f} s; median of {args.runs}: frozen "
            f"{times['frozen_median_s']:.3f} s vs venv `python -m explorer` {times['venv_median_s']:.3f} s "
            f"(ratio {times['ratio_frozen_to_venv']})")

    if not failures and args.archive:
        archive = make_archive(bundle, __version__)
        result["archive"] = str(archive)
        result["archive_mb"] = round(archive.stat().st_size / 1e6, 1)
        log(f"archive: {archive} ({result['archive_mb']} MB)")

    result["ok"] = not failures
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    log("package: ok" if not failures else f"package: {len(failures)} check(s) failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `from explorer import ...` when run as a script from anywhere
    sys.exit(main())
