"""`event-explorer --self-test`: prove an install works, end to end, without touching the user's files.

Made for the frozen desktop app (a missing hidden import, Qt plugin or SQLite feature shows up
here rather than in front of a user) and equally valid for a pip install. It makes a fresh demo
store of a few thousand events in a temporary directory, with every app directory
(EXPLORER_DATA/CACHE/LOG/CONFIG_DIR) pointed inside it, then runs each step below through the
real module API and reports one line: exit 0 when every step passed, 1 naming what failed.

Steps: store (make the demo store), sqlite (FTS5 built in), verify (the chain hash), state_at
(time travel), rebuild (every read model), preview (a command's optimistic preview), report
(an audit report to PDF, then verified against the store), window (the main window opens the
store and draws offscreen once), paths (the platform directories, and that nothing was written
outside the temporary one). A step whose module is not part of this build is reported as missing, which is a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from explorer import __version__, about

DEFAULT_EVENTS = 3000
DEFAULT_DEVICES = 40
WINDOW_TIMEOUT_S = 60.0
ENV_DIRS = {"EXPLORER_DATA_DIR": "data", "EXPLORER_CACHE_DIR": "cache", "EXPLORER_LOG_DIR": "logs",
            "EXPLORER_CONFIG_DIR": "config"}


class StepFailed(Exception):
    """A step's check did not hold; the message says what was expected and what was found."""


class ModuleMissing(Exception):
    """A step's module is not part of this build (or install)."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """The outcome of one step.

    Attributes:
        name: the step's name ("verify", "window", ...).
        status: "ok", "failed" or "missing".
        detail: one line: what was checked, or what went wrong.
        seconds: how long the step took.
        trace: the traceback of an unexpected error ("" otherwise).
    """

    name: str
    status: str
    detail: str
    seconds: float
    trace: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Run:
    """What the steps share: the temporary directory, the store and what earlier steps found.

    Attributes:
        workdir: the temporary directory (store, app directories, report).
        events / devices: the demo store's size.
        store: the open demo store (after the "store" step).
        facts: step name -> values later steps (and --json) use.
        qt_messages: Qt's warnings during the run (shown with --verbose, kept off the one line).
    """

    workdir: Path
    events: int
    devices: int
    store: Any = None
    facts: dict[str, Any] = field(default_factory=dict)
    qt_messages: list[str] = field(default_factory=list)


def _import(module: str) -> Any:
    """Import one of our modules; ModuleMissing when that module itself is absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            raise ModuleMissing(f"{module} is not part of this build") from exc
        raise


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


# -- the steps ---------------------------------------------------------------------------------


def step_store(run: Run) -> str:
    from explorer.demo import generate_demo
    from explorer.store.sqlite import SQLiteEventStore

    path = run.workdir / "data" / "selftest.evstore"
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteEventStore.create(path)
    try:
        summary = generate_demo(store, devices=run.devices, events=run.events)
    except BaseException:
        store.close()
        raise
    run.store = store  # only a complete store is handed to the later steps
    head = run.store.head().position
    _require(head == summary.events and head >= run.devices * 2,
             f"the demo store holds {head} events, expected {summary.events}")
    run.facts["store"] = {"path": str(path), "events": head, "digest": summary.digest,
                          "night_caller": summary.night_caller}
    return f"{head:,} events, {summary.devices} devices"


def step_sqlite(run: Run) -> str:
    import apsw

    _require(about.fts5_available(), f"SQLite {apsw.sqlite_lib_version()} has no FTS5")
    return f"SQLite {apsw.sqlite_lib_version()} with FTS5"


def step_verify(run: Run) -> str:
    result = run.store.verify()
    _require(result.ok, f"verify failed at position {result.first_bad_position}: {result.message}")
    _require(result.checked == run.facts["store"]["events"],
             f"verify checked {result.checked} events of {run.facts['store']['events']}")
    _require(result.digest == run.facts["store"]["digest"], "the verified digest differs from the demo's")
    return f"{result.checked:,} events, digest {result.digest[:12]}"


def step_state_at(run: Run) -> str:
    from explorer.timetravel import TimeTravel

    stream = run.facts["store"]["night_caller"]
    tt = TimeTravel(run.store, None)
    now = tt.state_at(stream)
    middle = run.store.head().position // 2
    then = tt.state_at(stream, position=middle)
    _require(now.version > 0 and 0 < then.version <= now.version,
             f"state_at gave version {then.version} at {middle} and {now.version} at the head")
    _require(then.state != tt.state_at(stream, version=0).state, "the state as of the middle is the initial state")
    return f"version {then.version} as of position {middle:,} (head: version {now.version})"


def step_rebuild(run: Run) -> str:
    projections = _import("explorer.projections")
    from explorer.store.readdb import ReadDatabase

    readdb = ReadDatabase.for_store(run.store.store_id)
    try:
        _require(Path(readdb.path).resolve().is_relative_to(run.workdir.resolve()),
                 f"the read database {readdb.path} is outside the self-test directory")
        runner = projections.runner_for(run.store, readdb)
        runner.rebuild()
        head = run.store.head().position
        statuses = runner.status()
        _require(bool(statuses), "no read models are registered")
        behind = [f"{s.name} ({s.state}, checkpoint {s.checkpoint})" for s in statuses
                  if s.failure is not None or s.checkpoint != head]
        _require(not behind, "read models not at the head after a rebuild: " + ", ".join(behind))
    finally:
        readdb.close()
    run.facts["rebuild"] = {"read_models": [s.name for s in statuses]}
    return f"{len(statuses)} read models at position {head:,} ({', '.join(s.name for s in statuses)})"


def step_preview(run: Run) -> str:
    commands = _import("explorer.commands")
    from explorer.domain.iot import device

    stream = run.facts["store"]["night_caller"]
    loaded = commands.load(run.store, stream)
    _require(loaded.exists, f"stream {stream} does not exist")
    before = run.store.head().position
    result = commands.preview(loaded.state, device.RenameDevice(name="self-test rename"))
    _require(len(result.events) == 1, f"the preview made {len(result.events)} events, expected 1")
    _require(any(c.path == "name" for c in result.changes), "the preview does not change the name")
    _require(run.store.head().position == before, "a preview wrote to the store")
    return f"{result.events[0].type} changes {', '.join(c.path for c in result.changes)}"


def step_report(run: Run) -> str:
    """A PDF as the app's Report dialog writes it: in a child process (checks a frozen build starts it)."""
    model = _import("explorer.reports.model")
    in_process = _import("explorer.ui.report_process")

    target = run.workdir / "report.pdf"
    stream = run.facts["store"]["night_caller"]
    result = in_process.write_pdf_in_process(run.store.path, model.ReportScope(stream_ids=(stream,)), target,
                                             options={"title": "Event Explorer self-test"})
    data = target.read_bytes() if target.exists() else b""
    _require(data.startswith(b"%PDF-"), f"{target.name} is not a PDF ({len(data)} bytes)")
    _require(result.events > 0, "the report lists no events")
    # An audit report is only worth its verification: check it against the store, as an auditor would.
    checked = _import("explorer.reports.verify").verify_report(run.store, target)
    _require(checked.ok and checked.listed == result.events,
             f"the report does not verify: {[p.message for p in checked.problems][:3]} "
             f"({checked.listed} of {result.events} listed events found)")
    return f"{result.pages} pages, {result.events} events, {len(data) // 1024} KiB, verified"


def step_split_report(run: Run) -> str:
    """A CSV report written by two processes: checks that a (frozen) build can start them."""
    model = _import("explorer.reports.model")
    writer = _import("explorer.reports.writer")

    target = run.workdir / "report.csv"
    result = writer.write_report(run.store, model.ReportScope(), target, split=2)
    rows = target.read_bytes().count(b"\r\n") - 1 if target.exists() else 0
    _require(rows == result.events == run.store.head().position,
             f"the split report lists {rows} rows for {run.store.head().position} events")
    checked = _import("explorer.reports.verify").verify_report(run.store, target)
    _require(checked.ok, f"the split report does not verify: {[p.message for p in checked.problems][:3]}")
    return f"{result.events} events in 2 processes, verified"


def _wait_for(signal: Any, timeout_s: float, *also: Any) -> tuple[bool, tuple[Any, ...]]:
    """Run the Qt event loop until `signal` (or one of `also`) fires or time runs out."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: dict[str, Any] = {}

    def fired(which: str) -> Callable[..., None]:
        def slot(*args: Any) -> None:
            got.setdefault("which", which)
            got.setdefault("args", args)
            loop.quit()
        return slot

    connections = [(signal, fired("main"))] + [(s, fired(f"also{i}")) for i, s in enumerate(also)]
    for sig, slot in connections:
        sig.connect(slot)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    for sig, slot in connections:
        sig.disconnect(slot)
    return got.get("which") == "main", got.get("args", ())


def step_window(run: Run) -> str:
    app_module = _import("explorer.ui.app")
    main_window = _import("explorer.ui.main_window")
    from PySide6.QtCore import QThreadPool
    from PySide6.QtGui import QGuiApplication

    from explorer.ui import resources

    # Making a widget in a process whose Qt application is not a QApplication aborts the process.
    widgetless = _widgetless_application()
    _require(widgetless is None, f"this process already runs a {widgetless}, which cannot show a window")
    app = app_module.make_application()
    resources.apply_app_icon(app)
    _require(not resources.app_icon().isNull(), "the app icon is missing")
    window = main_window.MainWindow(restore=False)
    try:
        window.open_store(run.store.path)  # in a worker, as the app does
        opened, args = _wait_for(window.store_opened, WINDOW_TIMEOUT_S, window.store_open_failed)
        _require(opened, f"the window did not open the store: {args[0] if args else 'timed out'}")
        window.show()
        QGuiApplication.processEvents()
        image = window.grab().toImage()
        _require(not image.isNull() and image.width() > 100, "the window drew nothing")
        # A drawn window has many colours; a blank (failed) paint has one or two.
        colours = {image.pixel(x, y) for x in range(0, image.width(), 17) for y in range(0, image.height(), 13)}
        _require(len(colours) > 8, f"the window image has only {len(colours)} colours")
        _require(not window.failed_views, "views failed to build: " + ", ".join(window.failed_views))
        shot = run.workdir / "window.png"
        image.save(str(shot))
        size = f"{image.width()}x{image.height()}"
        platform_name = QGuiApplication.platformName()
        views = len(window.views)
        settings_file = str(window.settings.path)
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(int(WINDOW_TIMEOUT_S * 1000))
        store = window.context.store
        window.deleteLater()
        QGuiApplication.processEvents()
        if store is not None and store is not run.store:
            with contextlib.suppress(Exception):
                store.close()
    run.facts["window"] = {"platform": platform_name, "size": size, "views": views, "screenshot": str(shot),
                           "settings": settings_file}
    return f"{views} views drawn at {size} on the {platform_name} platform"


def step_paths(run: Run) -> str:
    info = about.about_info()
    inside = run.workdir.resolve()
    moved = {key: value for key, value in info["paths"].items() if not Path(value).resolve().is_relative_to(inside)}
    _require(not moved, f"app directories outside the self-test directory: {moved}")
    settings = run.facts.get("window", {}).get("settings")
    if settings is not None:  # the window's settings went to the config directory in effect
        _require(Path(settings).resolve().is_relative_to(Path(info["paths"]["settings"]).resolve()),
                 f"the settings file {settings} is not in {info['paths']['settings']}")
    defaults = about.platform_default_dirs()
    bundle = about.bundle_dir()
    if bundle is not None:  # the frozen app must not keep user files inside its own (read-only) bundle
        inside_bundle = [v for v in defaults.values() if Path(v).resolve().is_relative_to(bundle.resolve())]
        _require(not inside_bundle, f"platform directories inside the bundle: {inside_bundle}")
    _require(all(Path(v).is_absolute() for v in defaults.values()), f"relative platform directories: {defaults}")
    run.facts["paths"] = {"in_effect": info["paths"], "platform_defaults": defaults}
    return "data " + defaults["data"] + ", cache " + defaults["cache"]


def _make_application() -> None:
    """Make the desktop app's QApplication first, as the app does: the report step would
    otherwise make a bare QGuiApplication, on which no widget (the window step) can be made."""
    try:
        app_module = _import("explorer.ui.app")
    except (ModuleMissing, ImportError):
        return  # the window step reports it
    if _widgetless_application() is None:
        app_module.make_application()


def _widgetless_application() -> str | None:
    """The class name of a running Qt application that cannot show widgets, or None."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    existing = QCoreApplication.instance()
    if existing is not None and not isinstance(existing, QApplication):
        return type(existing).__name__
    return None


STEPS: tuple[tuple[str, Callable[[Run], str]], ...] = (
    ("store", step_store),
    ("sqlite", step_sqlite),
    ("verify", step_verify),
    ("state_at", step_state_at),
    ("rebuild", step_rebuild),
    ("preview", step_preview),
    ("report", step_report),
    ("split_report", step_split_report),
    ("window", step_window),
    ("paths", step_paths),
)
NEEDS_STORE = {"verify", "state_at", "rebuild", "preview", "report", "split_report", "window"}


# -- running -----------------------------------------------------------------------------------


# Qt's offscreen platform says this for every top-level window; it means nothing here.
QT_NOISE = ("This plugin does not support propagateSizeHints()",)


@contextlib.contextmanager
def qt_messages_collected(into: list[str]) -> Iterator[None]:
    """Collect Qt's log messages into `into` instead of stderr (the one-line summary stays one line)."""
    try:
        from PySide6.QtCore import qInstallMessageHandler
    except ImportError:  # no Qt: the window step reports it
        yield
        return

    def handler(mode: Any, context: Any, message: str) -> None:
        if message not in QT_NOISE:
            into.append(f"{getattr(mode, 'name', mode)}: {message}")

    previous = qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)


@contextlib.contextmanager
def isolated_environment(workdir: Path) -> Iterator[None]:
    """Point every app directory into `workdir` (and Qt at the offscreen platform); undo on exit."""
    saved = {name: os.environ.get(name) for name in [*ENV_DIRS, "QT_QPA_PLATFORM"]}
    try:
        for name, sub in ENV_DIRS.items():
            os.environ[name] = str(workdir / sub)
        # Draw offscreen: a self-test never flashes a window, and needs no display.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_steps(workdir: Path, *, events: int = DEFAULT_EVENTS, devices: int = DEFAULT_DEVICES,
              only: Sequence[str] | None = None,
              on_step: Callable[[StepResult], None] | None = None) -> tuple[list[StepResult], Run]:
    """Run the steps (all, or `only` these) in `workdir`; every step runs even when one fails."""
    run = Run(workdir=workdir, events=events, devices=devices)
    results: list[StepResult] = []
    try:
        with isolated_environment(workdir), qt_messages_collected(run.qt_messages):
            _make_application()
            for name, step in STEPS:
                if only and name not in only and name != "store":
                    continue
                started = time.perf_counter()
                trace = ""
                if name in NEEDS_STORE and run.store is None:
                    status, detail = "failed", "skipped: no demo store (the store step failed)"
                else:
                    try:
                        status, detail = "ok", step(run)
                    except ModuleMissing as exc:
                        status, detail = "missing", str(exc)
                    except StepFailed as exc:
                        status, detail = "failed", str(exc)
                    except Exception as exc:  # noqa: BLE001 - a self-test reports every failure
                        status, detail = "failed", f"{type(exc).__name__}: {exc}"
                        trace = traceback.format_exc()
                result = StepResult(name, status, " ".join(detail.split()), time.perf_counter() - started, trace)
                results.append(result)
                if on_step is not None:
                    on_step(result)
    finally:
        if run.store is not None:
            run.store.close()
    return results, run


def summary_line(results: Sequence[StepResult], seconds: float) -> str:
    """The one line: passed with the step count and time, or FAILED naming each failed step."""
    bad = [r for r in results if not r.ok]
    head = f"event-explorer {__version__} self-test"
    if not bad:
        return f"{head}: ok, {len(results)} steps passed in {seconds:.1f} s ({', '.join(r.name for r in results)})"
    return (f"{head}: FAILED {len(bad)} of {len(results)} steps: "
            + "; ".join(f"{r.name} {'missing' if r.status == 'missing' else 'failed'} ({r.detail})" for r in bad))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="event-explorer --self-test",
                                     description="Check this install end to end in a temporary directory.")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="demo store size (default %(default)s)")
    parser.add_argument("--step", action="append", choices=[name for name, _ in STEPS],
                        help="run only this step (repeatable; the store step always runs)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every step (and tracebacks)")
    parser.add_argument("--json", action="store_true", help="print the results and the About facts as JSON")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (store, report, screenshot)")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the self-test; print one line; return 0 (all passed), 1 (a step failed) or 2 (usage)."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.events < DEFAULT_DEVICES * 2:
        print(f"error: --events must be at least {DEFAULT_DEVICES * 2}", file=sys.stderr)
        return 2

    def show(result: StepResult) -> None:
        if args.verbose and not args.json:
            print(f"  {result.status:>7}  {result.name:<9} {result.seconds:6.2f} s  {result.detail}", flush=True)
            if result.trace:
                print(result.trace, file=sys.stderr)

    started = time.perf_counter()
    if args.keep:
        workdir = Path(args.keep).expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        results, run = run_steps(workdir, events=args.events, only=args.step, on_step=show)
    else:
        with tempfile.TemporaryDirectory(prefix="event-explorer-selftest-") as tmp:
            results, run = run_steps(Path(tmp), events=args.events, only=args.step, on_step=show)
    seconds = time.perf_counter() - started
    if args.verbose and not args.json:
        for message in run.qt_messages:
            print(f"  qt: {message}", file=sys.stderr)
    line = summary_line(results, seconds)
    passed = all(r.ok for r in results)
    if args.json:
        out = {"ok": passed, "summary": line, "seconds": round(seconds, 3),
               "steps": [asdict(r) | {"seconds": round(r.seconds, 3)} for r in results],
               "facts": run.facts, "qt_messages": run.qt_messages, "about": about.about_info()}
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        print(line, file=sys.stdout if passed else sys.stderr)
    return 0 if passed else 1
