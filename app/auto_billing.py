"""Wiring of unattended billing (`HOURGLASS_AUTO_BILLING=true`) into the worker loops.

`make_tick` gives the hook every billing worker loop calls (`flows.work_any(tick=…)`): it asks
`invoices.runs.auto` whether a month is due (every `TICK_SECONDS` until the month is started)
and whether a failed run is to be retried (every `RETRY_CHECK_SECONDS`).
`install_background_billing` runs that loop in a thread of each API process for the app's
lifespan. (The seam is small on purpose: a server background worker of the billing engine
takes the same hook.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

from invoices.runs import auto, flows

log = logging.getLogger("hourglass.billing")

TICK_SECONDS = 5.0  # how often an unsettled month is looked at
RETRY_CHECK_SECONDS = 30.0  # the shortest back-off is 5 minutes


def make_tick(
    every: float = TICK_SECONDS, retry_every: float = RETRY_CHECK_SECONDS
) -> Callable[[flows.Biller], None]:
    """The hook for a worker loop. Once this process has seen the due month started (by
    anyone) it stops asking until the next month is due, so an idle worker costs the database
    one small query every `retry_every` seconds."""
    last_start = last_retry = float("-inf")
    settled: date | None = None

    def tick(biller: flows.Biller) -> None:
        nonlocal last_start, last_retry, settled
        now, clock = biller.clock(), time.monotonic()
        try:
            month = auto.due_month(now)
            if month != settled and clock - last_start >= every:
                last_start = clock
                started = auto.start_due_runs(biller.factory, now, worker=biller.worker)
                for run_id in started:
                    log.info("auto billing: %s started run %s", biller.worker, run_id)
                if started or auto.is_settled(biller.factory, month):
                    settled = month
            if clock - last_retry >= retry_every:
                last_retry = clock
                for run_id in auto.retry_failed(biller.factory, now):
                    log.info(
                        "auto billing: %s retries the failures of run %s", biller.worker, run_id
                    )
        except Exception:  # the database went away: the next tick tries again
            log.exception("auto billing: tick failed")

    return tick
