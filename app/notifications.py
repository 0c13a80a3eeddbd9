"""Wiring for notifications: SMTP from settings, the CLI pass and the server's thread."""

from __future__ import annotations

import threading

from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from app import tables  # noqa: F401  (every table, so foreign keys resolve in the CLI)
from app.settings import Settings
from invoices.notifications import deliver, mailer


def smtp_from_settings(settings: Settings) -> mailer.SmtpConfig | None:
    """None unless both HOURGLASS_SMTP_URL and HOURGLASS_MAIL_FROM are set: then no e-mail is
    sent, and the e-mail outbox keeps its rows until SMTP is configured."""
    if not settings.smtp_url or not settings.mail_from:
        return None
    return mailer.parse_smtp_url(
        settings.smtp_url, mail_from=settings.mail_from, sender_name=settings.issuer.name
    )


def start_notifications_thread(
    settings: Settings, factory: sessionmaker[Session], *, poll_seconds: float = 5.0
) -> tuple[threading.Thread, threading.Event]:
    """The server's background deliverer (a daemon thread beside the API)."""
    return deliver.start_background(
        factory, smtp=smtp_from_settings(settings), poll_seconds=poll_seconds
    )


def run_pass(settings: Settings, factory: sessionmaker[Session], console: Console) -> None:
    smtp = smtp_from_settings(settings)
    summary = deliver.deliver_once(factory, smtp=smtp)
    console.print(f"hours alerts relayed: {summary.alerts_relayed}")
    if summary.emails is None:
        console.print("e-mails: SMTP not configured (HOURGLASS_SMTP_URL, HOURGLASS_MAIL_FROM)")
    else:
        mail = summary.emails
        console.print(
            f"e-mails: sent {mail.sent}, retrying {mail.retried}, failed {mail.failed}, "
            f"waiting for documents {mail.waiting}"
        )
    hooks = summary.webhooks
    console.print(
        f"webhooks: delivered {hooks.delivered}, retrying {hooks.retried}, failed {hooks.failed}"
    )
