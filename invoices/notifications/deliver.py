"""One pass of everything the notifications owe: relay hours alerts, send e-mails, deliver
webhooks. Run by `hourglass notifications deliver` and the server's background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from invoices.notifications import alerts, mailer, webhooks
from ledger.base import utcnow

log = logging.getLogger("hourglass.notifications")


@dataclass
class PassSummary:
    alerts_relayed: int
    emails: mailer.SendSummary | None  # None: SMTP is not configured
    webhooks: webhooks.DeliverySummary


def deliver_once(
    factory: sessionmaker[Session],
    *,
    smtp: mailer.SmtpConfig | None,
    clock: Callable[[], datetime] = utcnow,
    webhook_timeout: float = webhooks.TIMEOUT_SECONDS,
) -> PassSummary:
    relayed = alerts.relay_pending(factory, now=clock())
    sent = mailer.send_pending(factory, smtp, clock=clock) if smtp is not None else None
    delivered = webhooks.deliver_pending(factory, clock=clock, timeout=webhook_timeout)
    return PassSummary(relayed, sent, delivered)


def run_forever(
    factory: sessionmaker[Session],
    *,
    smtp: mailer.SmtpConfig | None,
    stop: threading.Event,
    poll_seconds: float = 5.0,
) -> None:
    """The background loop: a pass every `poll_seconds` until `stop` is set. A failing pass is
    logged and the loop goes on (the outboxes keep what was not done)."""
    while not stop.is_set():
        try:
            deliver_once(factory, smtp=smtp)
        except Exception:
            log.exception("notification pass failed; retrying in %s s", poll_seconds)
        stop.wait(poll_seconds)


def start_background(
    factory: sessionmaker[Session], *, smtp: mailer.SmtpConfig | None, poll_seconds: float = 5.0
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        kwargs={"factory": factory, "smtp": smtp, "stop": stop, "poll_seconds": poll_seconds},
        name="hourglass-notifications",
        daemon=True,
    )
    thread.start()
    return thread, stop
