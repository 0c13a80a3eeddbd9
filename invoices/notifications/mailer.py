"""Sending the e-mail outbox, outside any transaction: each message handed over once.

Built on the standard library only (`email.message.EmailMessage` + `smtplib`): a message with a
couple of attachments needs nothing more.

Rows are queued by `emails` in the transaction of what they report. `send_pending` sends them,
outside any transaction, one row at a time:

1. `claim_next` (short transaction, `FOR UPDATE SKIP LOCKED`): lease the next due row
   (`attempts + 1`, `next_attempt_at` pushed `LEASE` ahead) and read everything the message needs.
   A document's e-mail waits (unleased, no attempt counted) until its documents exist.
2. Outside any transaction: connect, EHLO, log in, MAIL FROM, RCPT TO. Any failure up to here
   means the mail server has nothing: the row is rescheduled with backoff.
3. `mark_sending` (short transaction): the row becomes `sending` if it is still this sender's.
4. DATA: the message, with the row's fixed `Message-ID`.
5. `record_sent` (new transaction): `sent`.

The guarantee, exactly: a message is handed to the mail server at most once, except when the
process dies (or the connection drops) after step 3 and before step 5 commits — the server may
or may not have taken the message, and nobody can ask it. Such a row (`sending` with an expired
lease, or a dropped connection during DATA) is sent again with the same `Message-ID`, so the
duplicate is recognisable (mail clients and archives collapse equal Message-IDs). Every other
crash point (before the lease, during an outage, after the record) sends nothing twice.

Unset SMTP (`HOURGLASS_SMTP_URL` or `HOURGLASS_MAIL_FROM` missing): nothing is sent and rows
stay `pending`; they go out once SMTP is configured.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select

from invoices.notifications.emails import Composed, compose
from invoices.notifications.models import EmailOutbox
from ledger.base import unit_of_work, utcnow

log = logging.getLogger("hourglass.notifications")

LEASE = timedelta(minutes=5)  # far longer than one SMTP conversation (timeouts: 30 s a step)
WAIT_FOR_DOCUMENTS = timedelta(seconds=30)
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)
SMTP_TIMEOUT = 30.0
ERROR_LENGTH = 500
SMTP_POLICY = policy.SMTP  # CRLF line ends: smtplib passes bytes through as they are


class SmtpUrlInvalid(ValueError):
    pass


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    tls: bool = False  # smtps://: TLS from the first byte
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender_name: str | None = None
    timeout: float = SMTP_TIMEOUT
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)


def parse_smtp_url(url: str, *, mail_from: str, sender_name: str | None = None) -> SmtpConfig:
    """`smtp://user:pass@host:port` (port 25 by default), `smtps://…` (465, TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SmtpUrlInvalid("HOURGLASS_SMTP_URL must look like smtp://user:pass@host:port")
    tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if tls else 25)
    except ValueError as exc:
        raise SmtpUrlInvalid(f"HOURGLASS_SMTP_URL has a bad port: {exc}") from exc
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        mail_from=mail_from,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender_name=sender_name,
    )


def build_message(
    config: SmtpConfig, *, recipients: list[str], message_id: str, composed: Composed
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = (
        formataddr((config.sender_name, config.mail_from))
        if config.sender_name
        else config.mail_from
    )
    message["To"] = ", ".join(recipients)
    message["Subject"] = composed.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message.set_content(composed.body)
    for attachment in composed.attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message


# --- sending (outside any transaction) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimedEmail:
    outbox_id: int
    attempt: int
    recipients: list[str]
    message_id: str
    composed: Composed


@dataclass
class SendSummary:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(col(EmailOutbox.state) == "pending", col(EmailOutbox.next_attempt_at) <= now),
        # a sender died between handing DATA over and recording it: resend, same Message-ID
        sa.and_(col(EmailOutbox.state) == "sending", col(EmailOutbox.next_attempt_at) <= now),
    )


@dataclass(frozen=True, slots=True)
class Waiting:
    """A row whose documents are not rendered yet: looked at again after a short wait."""

    outbox_id: int


def claim_next(
    factory: sessionmaker[Session], *, now: datetime, skip: set[int]
) -> ClaimedEmail | Waiting | None:
    with unit_of_work(factory) as session:
        query = (
            select(EmailOutbox)
            .where(_due(now))
            .order_by(col(EmailOutbox.next_attempt_at), col(EmailOutbox.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skip:
            query = query.where(col(EmailOutbox.id).not_in(skip))
        row = session.scalar(query)
        if row is None:
            return None
        assert row.id is not None
        composed = compose(session, row)
        if composed is None:  # documents not rendered yet: look again soon, no attempt spent
            row.next_attempt_at = now + WAIT_FOR_DOCUMENTS
            row.updated_at = now
            return Waiting(row.id)
        if row.state == "sending":
            row.last_error = _clip(
                "the previous sender stopped after handing the message over: sent again with "
                "the same Message-ID"
            )
        row.state = "pending"
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        row.updated_at = now
        return ClaimedEmail(row.id, row.attempts, list(row.recipients), row.message_id, composed)


def _clip(message: str) -> str:
    return message if len(message) <= ERROR_LENGTH else message[: ERROR_LENGTH - 1] + "…"


def _backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), LAST_RETRY)


def mark_sending(factory: sessionmaker[Session], claimed: ClaimedEmail, *, now: datetime) -> bool:
    with unit_of_work(factory) as session:
        row = session.scalar(
            select(EmailOutbox).where(col(EmailOutbox.id) == claimed.outbox_id).with_for_update()
        )
        if row is None or row.state != "pending" or row.attempts != claimed.attempt:
            return False
        row.state = "sending"
        row.sending_at = now
        row.updated_at = now
        return True


def record_sent(factory: sessionmaker[Session], claimed: ClaimedEmail, *, now: datetime) -> None:
    with unit_of_work(factory) as session:
        row = session.scalar(
            select(EmailOutbox).where(col(EmailOutbox.id) == claimed.outbox_id).with_for_update()
        )
        assert row is not None
        row.state = "sent"
        row.sent_at = now
        row.last_error = None
        row.updated_at = now


def record_failure(
    factory: sessionmaker[Session],
    claimed: ClaimedEmail,
    *,
    now: datetime,
    error: str,
    permanent: bool,
) -> None:
    with unit_of_work(factory) as session:
        row = session.scalar(
            select(EmailOutbox).where(col(EmailOutbox.id) == claimed.outbox_id).with_for_update()
        )
        assert row is not None
        if row.attempts != claimed.attempt or row.state not in ("pending", "sending"):
            return
        row.last_error = _clip(error)
        row.updated_at = now
        if permanent:
            row.state = "failed"
        else:
            row.state = "pending"
            row.next_attempt_at = now + _backoff(row.attempts)


def _permanent(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.tls:
        context = config.ssl_context or ssl.create_default_context()
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def send_one(
    factory: sessionmaker[Session],
    config: SmtpConfig,
    claimed: ClaimedEmail,
    *,
    clock: Callable[[], datetime],
) -> str:
    """Steps 2–5 for one claimed row; returns `sent`, `retry` or `failed`."""
    message = build_message(
        config,
        recipients=claimed.recipients,
        message_id=claimed.message_id,
        composed=claimed.composed,
    )
    try:
        smtp = _connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        record_failure(
            factory, claimed, now=clock(), error=f"mail server unreachable: {exc}", permanent=False
        )
        return "retry"
    try:
        try:
            smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
            code, reply = smtp.mail(config.mail_from)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, config.mail_from)
            refused = {}
            for recipient in claimed.recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    refused[recipient] = (code, reply)
            if len(refused) == len(claimed.recipients):
                raise smtplib.SMTPRecipientsRefused(refused)
        except (OSError, smtplib.SMTPException) as exc:
            permanent = isinstance(exc, smtplib.SMTPException) and _permanent(exc)
            record_failure(
                factory,
                claimed,
                now=clock(),
                error=f"{type(exc).__name__}: {exc}",
                permanent=permanent,
            )
            return "failed" if permanent else "retry"
        if not mark_sending(factory, claimed, now=clock()):
            return "retry"  # the lease ran out and another sender has the row
        try:
            code, reply = smtp.data(message.as_bytes(policy=SMTP_POLICY))
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except smtplib.SMTPDataError as exc:  # the server answered: it did not take it
            record_failure(
                factory,
                claimed,
                now=clock(),
                error=f"{type(exc).__name__}: {exc}",
                permanent=_permanent(exc),
            )
            return "failed" if _permanent(exc) else "retry"
        except (OSError, smtplib.SMTPException) as exc:
            record_failure(
                factory,
                claimed,
                now=clock(),
                error=f"connection lost while sending ({exc}): it may have arrived; "
                "sent again with the same Message-ID",
                permanent=False,
            )
            return "retry"
        record_sent(factory, claimed, now=clock())
        return "sent"
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def send_pending(
    factory: sessionmaker[Session],
    config: SmtpConfig,
    *,
    clock: Callable[[], datetime] = utcnow,
    limit: int = 1000,
) -> SendSummary:
    """Send every due e-mail (at most `limit`), one at a time; several senders may run."""
    summary = SendSummary()
    skip: set[int] = set()
    handled = 0
    while handled < limit:
        claimed = claim_next(factory, now=clock(), skip=skip)
        if claimed is None:
            break
        handled += 1
        skip.add(claimed.outbox_id)
        if isinstance(claimed, Waiting):
            summary.waiting += 1
            continue
        try:
            outcome = send_one(factory, config, claimed, clock=clock)
        except Exception as exc:  # a bug or a surprise: the lease brings the row back
            log.exception("sending e-mail %s failed unexpectedly", claimed.outbox_id)
            summary.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        if outcome == "sent":
            summary.sent += 1
        elif outcome == "failed":
            summary.failed += 1
        else:
            summary.retried += 1
    return summary
