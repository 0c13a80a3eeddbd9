"""The server's billing thread outlives a tick whose renderer processes died."""

from __future__ import annotations

import logging
import threading
from concurrent.futures.process import BrokenProcessPool

import pytest

from app import background
from app.background import BackgroundWorker
from app.settings import Settings


def _worker_whose_ticks(monkeypatch: pytest.MonkeyPatch, failures: list[BaseException]) -> tuple:
    worker = BackgroundWorker(Settings(), factory=lambda: None)  # type: ignore[arg-type,return-value]
    calls = threading.Event()
    count = {"n": 0}

    def drain() -> int:
        count["n"] += 1
        if failures:
            raise failures.pop(0)
        calls.set()
        return 0

    monkeypatch.setattr(worker, "drain", drain)
    monkeypatch.setattr(background, "IDLE_SECONDS", 0.01)
    return worker, calls, count


def test_dead_renderers_are_a_warning_without_traceback_and_the_next_tick_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker, calls, count = _worker_whose_ticks(monkeypatch, [BrokenProcessPool("gone")])
    with caplog.at_level(logging.WARNING, logger="hourglass.billing"):
        worker.start()
        assert calls.wait(10), "the loop stopped after the broken pool"
        worker.stop()
    assert count["n"] >= 2
    records = [r for r in caplog.records if r.name == "hourglass.billing"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].exc_info is None and not records[0].exc_text


def test_any_other_failure_keeps_its_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker, calls, _ = _worker_whose_ticks(monkeypatch, [RuntimeError("bad tick")])
    with caplog.at_level(logging.WARNING, logger="hourglass.billing"):
        worker.start()
        assert calls.wait(10)
        worker.stop()
    records = [r for r in caplog.records if r.name == "hourglass.billing"]
    # our log filter (app.observability.logs) may have moved the traceback to exc_text
    assert records and records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None or "RuntimeError: bad tick" in records[0].exc_text
