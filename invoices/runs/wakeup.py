"""Waking idle billing workers the moment work becomes claimable (PostgreSQL LISTEN/NOTIFY).

What makes billing or document jobs claimable (`flows.start_run`, auto billing's retry of a
run's failures, issuing invoices and so their document jobs) calls `announce` inside its
transaction: on PostgreSQL a `NOTIFY` on `CHANNEL`, which the server delivers to every listener
when, and only if, that transaction commits (several in one transaction are delivered once).
An idle worker waits with `Wakeup.wait`: until a notification arrives or its poll interval has
passed, whichever is first, so a standing worker starts a run as soon as it is committed
instead of at its next poll. Polling stays the fallback: a notification that never arrives (the
listening connection dropped, the server restarted) costs at most one poll interval, never
work. On SQLite `wait` is a plain sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("hourglass.billing")

CHANNEL = "hourglass_billing"
# A wait with a `stop` event looks at it this often (the server's thread must end promptly).
STOP_CHECK_SECONDS = 0.1


def announce(session: Session) -> None:
    """Tell idle workers, once this transaction commits, that there is work to claim."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"NOTIFY {CHANNEL}"))


def engine_of(factory: sessionmaker[Session] | None) -> sa.Engine | None:
    bind = None if factory is None else factory.kw.get("bind")
    if isinstance(bind, sa.Engine):
        return bind
    if isinstance(bind, sa.Connection):
        return bind.engine
    return None


class Wakeup:
    """An idle worker's wait: a notification on `CHANNEL` or the timeout, whichever is first.

    On PostgreSQL it holds one connection of its own (out of the engine's pool, autocommit,
    `LISTEN`ing), opened by `listen` — call it before the worker first looks for work, so a
    run committed between that look and the wait still wakes it. Not thread-safe: one per
    worker loop; `close` it at the end."""

    def __init__(self, engine: sa.Engine | None) -> None:
        postgres = engine is not None and engine.dialect.name == "postgresql"
        self.engine = engine if postgres else None
        self._raw: Any = None  # the pool's DBAPI wrapper, detached from the pool
        self._conn: Any = None  # the psycopg connection under it

    @classmethod
    def of(cls, factory: sessionmaker[Session] | None) -> Wakeup:
        return cls(engine_of(factory))

    @property
    def listening(self) -> bool:
        return self._conn is not None

    def listen(self) -> None:
        """Open the listening connection if there is none (PostgreSQL; no-op otherwise). A
        failure (the database away) is logged and leaves the wait a sleep until the next try."""
        if self.engine is None or self._conn is not None:
            return
        try:
            raw = self._raw = self.engine.raw_connection()
            conn: Any = raw.driver_connection
            raw.detach()  # ours for good: never handed back to the pool's other users
            conn.rollback()  # a checkout's ping may have begun a transaction
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
            self._conn = conn
        except Exception:
            log.warning("billing worker: cannot listen for new work; polling", exc_info=True)
            self.close()

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Until a notification (True), `seconds` passed or `stop` set (False). Notifications
        already queued (sent while the worker was busy) end the wait at once, all consumed."""
        deadline = time.monotonic() + seconds
        self.listen()
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            step = min(left, STOP_CHECK_SECONDS) if stop is not None else left
            if self._conn is None:
                if stop is not None:
                    stop.wait(step)
                else:
                    time.sleep(step)
                continue
            try:
                if self._woken(step):
                    return True
            except Exception:
                log.warning("billing worker: lost the listening connection; polling", exc_info=True)
                self.close()

    def _woken(self, timeout: float) -> bool:
        woken = False
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            woken = True
        if woken:  # the rest of what is queued: one wake-up is enough for all of it
            for _ in self._conn.notifies(timeout=0):
                pass
        return woken

    def close(self) -> None:
        raw, self._raw, self._conn = self._raw, None, None
        if raw is not None:
            try:
                raw.close()
            except Exception:
                log.debug("billing worker: closing the listening connection failed", exc_info=True)
