"""The server's own billing worker: a thread in each `hourglass serve` process.

It runs the same `tick` as `hourglass billing worker`, so runs started through the API (or
anywhere) are worked on by every server and worker process at once; when a tick finds nothing
to bill it collects the payments the finished chunks queued. Off unless
`HOURGLASS_BACKGROUND_WORKER` is on (`hourglass serve` turns it on). Idle, it waits
`IDLE_SECONDS` or, on PostgreSQL, until work is announced (`invoices.runs.wakeup`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from app.auto_billing import make_tick
from app.billing import make_biller
from app.payments import collect_after_run, gateway_from_settings
from app.settings import Settings
from invoices.runs.wakeup import Wakeup, engine_of
from invoices.runs.worker import tick

log = logging.getLogger("hourglass.billing")

IDLE_SECONDS = 1.0


class BackgroundWorker:
    def __init__(self, settings: Settings, factory: Callable[[], sessionmaker[Session]]) -> None:
        self._settings = settings
        self._factory = factory  # read at each use: tests swap the app's session factory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # HOURGLASS_AUTO_BILLING: each drain first starts the month that has ended everywhere.
        self._auto_tick = make_tick() if settings.auto_billing else None

    def drain(self) -> int:
        """Work until nothing is left to bill, then collect payments; returns the busy ticks.
        What the thread does in a loop, in the caller's thread (tests use it)."""
        biller = make_biller(self._settings, self._factory())
        if self._auto_tick is not None:
            self._auto_tick(biller)
        busy = 0
        while tick(biller):
            busy += 1
        if busy:
            collect_after_run(gateway_from_settings(self._settings), self._factory())
        return busy

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="hourglass-billing", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        source: sa.Engine | None = None
        wakeup = Wakeup(None)
        try:
            while not self._stop.is_set():
                engine = self._engine()
                if engine is not source:  # the first loop, or the app's database swapped (tests)
                    wakeup.close()
                    source, wakeup = engine, Wakeup(engine)
                wakeup.listen()  # before the drain's look: a run committed after it wakes us
                self._drain_once()
                wakeup.wait(IDLE_SECONDS, self._stop)
        finally:
            wakeup.close()

    def _engine(self) -> sa.Engine | None:
        try:
            return engine_of(self._factory())
        except Exception:  # no database yet: the drain logs it; the wait is a sleep
            return None

    def _drain_once(self) -> None:
        try:
            self.drain()
        except BrokenProcessPool:
            # The renderer processes died under the tick: at shutdown the process group's
            # SIGTERM reaches them before the server stops this thread. Their document jobs
            # stay leased and are taken over; the next drain starts a fresh pool.
            log.warning("document renderers ended during a tick; the next tick starts new ones")
        except Exception:  # the thread must outlive a bad tick; the next one retries
            log.exception("billing worker tick failed")
