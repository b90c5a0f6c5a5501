"""Workers deliver every result on the GUI thread, even when the caller keeps no reference."""

from __future__ import annotations

import gc

from pytestqt.qtbot import QtBot

from explorer.ui import workers


def test_results_arrive_when_the_caller_drops_its_workers(qtbot: QtBot) -> None:
    results: list[int] = []
    for i in range(200):
        workers.start(lambda cancelled, progress, i=i: i * 2, on_result=results.append)
    gc.collect()
    qtbot.waitUntil(lambda: len(results) == 200, timeout=20_000)
    assert sorted(results) == [i * 2 for i in range(200)]
    qtbot.waitUntil(lambda: not workers._LIVE, timeout=30_000)


def test_an_error_is_reported_and_a_cancelled_job_returns_nothing(qtbot: QtBot) -> None:
    errors: list[BaseException] = []
    workers.start(lambda c, p: 1 / 0, on_error=errors.append)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5_000)
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)

    returned: list[object] = []
    gate = workers.threading.Event()
    worker = workers.start(lambda cancelled, p: (gate.wait(5), cancelled())[1], on_result=returned.append)
    worker.cancel()
    with qtbot.waitSignal(worker.signals.finished, timeout=5_000):
        gate.set()
    assert returned == []


def test_a_job_that_stops_on_cancel_is_not_logged_as_a_failure(qtbot: QtBot, caplog) -> None:
    gate = workers.threading.Event()

    def job(cancelled, progress):
        gate.wait(5)
        if cancelled():
            raise InterruptedError("stopped as asked")
        return 1

    worker = workers.start(job, name="cancel-me")
    worker.cancel()
    with caplog.at_level("INFO", logger=workers.log.name), qtbot.waitSignal(worker.signals.finished, timeout=5_000):
        gate.set()
    assert [r.levelname for r in caplog.records if "cancel-me" in r.getMessage()] == ["INFO"]
    assert not any(r.exc_info for r in caplog.records)


def test_a_job_whose_signals_are_deleted_ends_quietly(qtbot: QtBot, caplog) -> None:
    """At app shutdown a worker's signals object can be deleted while its job runs: the job's next
    progress emit fails, and nothing may leave QRunnable.run (Qt would print it and call the
    exception hook on the pool thread)."""
    from shiboken6 import delete

    seen: list[str] = []

    def job(cancelled, progress):
        seen.append("ran")
        progress(1, 2)  # raises: the signals are gone
        seen.append("went on")

    worker = workers.Worker(job, name="orphan")
    signals = worker.signals
    workers._LIVE.pop(id(signals), None)
    with caplog.at_level("INFO", logger=workers.log.name):
        delete(signals)
        worker.run()  # on this thread: an exception leaving run() fails the test
    assert seen == []  # even `started` could not be emitted: the job never ran
    assert [r.levelname for r in caplog.records if "orphan" in r.getMessage()] == ["INFO"]

    worker = workers.Worker(job, name="orphan-2")
    workers._LIVE.pop(id(worker.signals), None)
    real = worker._job
    worker._job = lambda cancelled, progress: (delete(worker.signals), real(cancelled, progress))
    worker.run()
    assert seen == ["ran"]


def test_progress_reaches_the_gui_thread_at_most_every_interval_and_always_at_the_end(qtbot: QtBot) -> None:
    """A job may report progress as often as it likes: the GUI thread gets the first report, then
    one per PROGRESS_INTERVAL_S, and the last (every delivery waits for the GIL on the GUI thread)."""
    seen: list[tuple[int, int]] = []
    took: list[float] = []

    def job(cancelled, progress):
        start = workers.time.monotonic()
        for done in range(1, 20_001):
            progress(done, 20_000)
        took.append(workers.time.monotonic() - start)

    worker = workers.Worker(job, name="chatty")
    worker.signals.progressed.connect(lambda done, total: seen.append((done, total)))
    with qtbot.waitSignal(worker.signals.finished, timeout=10_000):
        workers.QThreadPool.globalInstance().start(worker)
    assert seen[0] == (1, 20_000) and seen[-1] == (20_000, 20_000)
    assert len(seen) <= 2 + took[0] / workers.PROGRESS_INTERVAL_S


def test_an_expected_error_is_one_warning_line_and_any_other_keeps_its_traceback(qtbot: QtBot, caplog) -> None:
    errors: list[BaseException] = []

    def fail(exc: BaseException):
        def job(cancelled, progress):
            raise exc
        return job

    with caplog.at_level("INFO", logger=workers.log.name):
        for n, exc in enumerate((LookupError("no such store"), ZeroDivisionError("a bug")), 1):
            workers.start(fail(exc), name="reading", on_error=errors.append, expected=(LookupError,))
            qtbot.waitUntil(lambda n=n: len(errors) == n, timeout=5_000)
    assert [type(e) for e in errors] == [LookupError, ZeroDivisionError]  # both are the caller's to show
    logged = [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records if r.name == workers.log.name]
    assert logged == [("WARNING", "reading failed: no such store", False), ("ERROR", "worker reading failed", True)]
