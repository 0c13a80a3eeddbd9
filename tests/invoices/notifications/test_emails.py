"""Invoice and credit-note e-mails through the outbox, against a real SMTP server on loopback
(aiosmtpd): one message per document with its PDF, nothing for a dry run, retried through an
outage, nothing twice after a restart; a crash inside the one unavoidable window resends with the
same Message-ID."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlmodel import select

from app.notifications import smtp_from_settings
from app.settings import Settings
from invoices import documents
from invoices.notifications import deliver, mailer
from invoices.notifications.metrics import email_outbox_depth
from invoices.notifications.models import EmailOutbox
from tests.invoices.billing.helpers import HOURGLASS, Headers, open_database
from tests.invoices.notifications.helpers import Clock, issue_invoice
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _config(server: SmtpServer) -> mailer.SmtpConfig:
    return mailer.parse_smtp_url(
        server.url, mail_from="billing@hourglass.example", sender_name="Hourglass Services GmbH"
    )


def _send(app: Any, server: SmtpServer, clock: Clock) -> mailer.SendSummary:
    return mailer.send_pending(app.state.session_factory, _config(server), clock=clock)


def _due_now(session: Session, clock: Clock) -> None:
    session.execute(sa.update(EmailOutbox).values(next_attempt_at=clock.now))
    session.flush()


def test_invoice_email_once_with_pdf(
    app: Any, client: TestClient, finance: Headers, session: Session, smtp: SmtpServer
) -> None:
    clock = Clock()
    _, invoice = issue_invoice(client, finance, email="ap@acme.example")
    _due_now(session, clock)
    assert email_outbox_depth(session) == 1
    assert _send(app, smtp, clock).sent == 1
    clock.advance(timedelta(days=2))
    assert _send(app, smtp, clock).sent == 0
    [received] = smtp.received
    assert received.recipients == ["ap@acme.example"]
    assert received.mail_from == "billing@hourglass.example"
    message = received.message
    assert invoice["number"] in message["Subject"]
    assert message["To"] == "ap@acme.example"
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert list(files) == [f"{invoice['number']}.pdf"]
    stored = documents.get_document(session, invoice_id=invoice["id"], format="pdf")
    assert stored is not None
    assert files[f"{invoice['number']}.pdf"].get_content() == stored.content
    assert files[f"{invoice['number']}.pdf"].get_content_type() == "application/pdf"
    assert email_outbox_depth(session) == 0
    row = session.scalar(select(EmailOutbox))
    assert row is not None
    session.refresh(row)
    assert row.state == "sent" and message["Message-ID"] == row.message_id


def test_credit_note_email(
    app: Any, client: TestClient, finance: Headers, session: Session, smtp: SmtpServer
) -> None:
    clock = Clock()
    _, invoice = issue_invoice(client, finance)
    note = client.post(f"/v1/invoices/{invoice['id']}/void", json={}, headers=finance).json()
    _due_now(session, clock)
    assert _send(app, smtp, clock).sent == 2
    by_subject = {r.message["Subject"]: r.message for r in smtp.received}
    [subject] = [s for s in by_subject if note["number"] in s]
    assert invoice["number"] in subject
    files = {p.get_filename(): p for p in by_subject[subject].iter_attachments()}
    stored = documents.get_document(session, credit_note_id=note["id"], format="pdf")
    assert stored is not None
    assert files[f"{note['number']}.pdf"].get_content() == stored.content


def test_nothing_for_a_dry_run(client: TestClient, finance: Headers, session: Session) -> None:
    issue_invoice(client, finance)
    before = session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox))
    response = client.post(
        "/v1/billing-runs", json={"period": "2026-02", "dry_run": True}, headers=finance
    )
    assert response.status_code in (200, 201) and response.json()["invoices"] == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox)) == before == 1


def test_delivered_after_an_outage(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    clock = Clock()
    server = SmtpServer()  # not started: the mail server is down
    issue_invoice(client, finance)
    _due_now(session, clock)
    first = _send(app, server, clock)
    assert (first.sent, first.retried) == (0, 1)
    row = session.scalar(select(EmailOutbox))
    assert row is not None
    session.refresh(row)
    assert row.state == "pending" and "unreachable" in (row.last_error or "")
    assert timedelta(0) < row.next_attempt_at - clock.now <= timedelta(minutes=1)
    clock.advance(timedelta(minutes=1))
    assert _send(app, server, clock).retried == 1  # still down
    server.start()
    try:
        assert _send(app, server, clock).sent == 0  # backoff: not due yet
        clock.advance(timedelta(minutes=5))
        assert _send(app, server, clock).sent == 1
        clock.advance(timedelta(hours=5))
        assert _send(app, server, clock).sent == 0
        assert len(server.received) == 1
    finally:
        server.stop()


def test_server_refusing_data_is_retried(
    app: Any, client: TestClient, finance: Headers, session: Session, smtp: SmtpServer
) -> None:
    clock = Clock()
    issue_invoice(client, finance)
    _due_now(session, clock)
    smtp.handler.refuse_data = True
    assert _send(app, smtp, clock).retried == 1
    smtp.handler.refuse_data = False
    clock.advance(timedelta(minutes=2))
    assert _send(app, smtp, clock).sent == 1
    assert len(smtp.received) == 1


class _Crash(BaseException):
    """A kill, as far as the sender is concerned: nothing after it runs."""


def test_crash_before_handing_over_sends_once(
    app: Any,
    client: TestClient,
    finance: Headers,
    session: Session,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    issue_invoice(client, finance)
    _due_now(session, clock)

    def die(*args: object, **kwargs: object) -> bool:
        raise _Crash

    with monkeypatch.context() as patch:
        patch.setattr(mailer, "mark_sending", die)
        with pytest.raises(_Crash):
            _send(app, smtp, clock)
    assert smtp.received == []
    assert _send(app, smtp, clock).sent == 0  # leased by the dead sender
    clock.advance(mailer.LEASE + timedelta(seconds=1))
    assert _send(app, smtp, clock).sent == 1
    clock.advance(timedelta(days=1))
    assert _send(app, smtp, clock).sent == 0
    assert len(smtp.received) == 1


def test_crash_after_handing_over_resends_with_the_same_message_id(
    app: Any,
    client: TestClient,
    finance: Headers,
    session: Session,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one window SMTP leaves open (the server has the message, the record is not written):
    at-least-once, and the copy carries the same Message-ID."""
    clock = Clock()
    issue_invoice(client, finance)
    _due_now(session, clock)

    def die(*args: object, **kwargs: object) -> None:
        raise _Crash

    with monkeypatch.context() as patch:
        patch.setattr(mailer, "record_sent", die)
        with pytest.raises(_Crash):
            _send(app, smtp, clock)
    row = session.scalar(select(EmailOutbox))
    assert row is not None
    session.refresh(row)
    assert row.state == "sending"
    clock.advance(mailer.LEASE + timedelta(seconds=1))
    assert _send(app, smtp, clock).sent == 1
    assert _send(app, smtp, clock).sent == 0
    ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(ids) == 2 and ids[0] == ids[1] == row.message_id


def test_unset_smtp_sends_nothing_and_keeps_the_rows(
    app: Any, client: TestClient, finance: Headers, session: Session
) -> None:
    assert smtp_from_settings(Settings()) is None
    assert smtp_from_settings(Settings(smtp_url="smtp://127.0.0.1:25")) is None
    issue_invoice(client, finance)
    summary = deliver.deliver_once(app.state.session_factory, smtp=None)
    assert summary.emails is None
    assert email_outbox_depth(session) == 1


def test_smtp_url_parsing() -> None:
    plain = mailer.parse_smtp_url("smtp://u%40x:p%3Aw@mail.example:2525", mail_from="a@b.example")
    assert (plain.host, plain.port, plain.tls, plain.username, plain.password) == (
        "mail.example",
        2525,
        False,
        "u@x",
        "p:w",
    )
    secure = mailer.parse_smtp_url("smtps://mail.example", mail_from="a@b.example")
    assert (secure.port, secure.tls) == (465, True)
    for bad in ("http://mail.example", "smtp://", "smtp://mail.example:notaport"):
        with pytest.raises(mailer.SmtpUrlInvalid):
            mailer.parse_smtp_url(bad, mail_from="a@b.example")
    assert "p:w" not in repr(plain)


def test_restarted_deliverer_sends_nothing_twice(fresh_database: str, smtp: SmtpServer) -> None:
    """Through the CLI against a database of its own: a second `deliver --once` (a restart)
    sends nothing again."""
    from datetime import date

    from app.billing import make_biller  # noqa: F401  (wiring exists)
    from invoices.issuing import IssuerDetails, bill_period
    from ledger.base import unit_of_work, utcnow
    from ledger.contracts.service import lock_contract, plan_of
    from ledger.customers.models import Customer
    from ledger.hours.schemas import WorkEntryCreate
    from ledger.hours.work import post_work
    from ledger.periods import month_period
    from tests.factories import create_contract
    from tests.invoices.billing.helpers import render_pending_documents

    with open_database(fresh_database) as factory:
        with unit_of_work(factory) as session:
            contract = create_contract(session)
            contract_id = contract.id
            assert contract_id is not None
            post_work(
                session,
                contract_id,
                WorkEntryCreate(worked_on=date(2026, 1, 5), minutes=60, level=2, ticket_ref="T-1"),
            )
        with unit_of_work(factory) as session:
            locked = lock_contract(session, contract_id)
            customer = session.get(Customer, locked.customer_id)
            assert customer is not None
            bill_period(
                session,
                contract=locked,
                plan=plan_of(session, locked),
                customer=customer,
                period=month_period(date(2026, 1, 1)),
                issuer=IssuerDetails(name="Hourglass Services GmbH"),
                now=utcnow(),
            )
        render_pending_documents(factory)
    env = {
        **os.environ,
        "HOURGLASS_DATABASE_URL": fresh_database,
        "HOURGLASS_SMTP_URL": smtp.url,
        "HOURGLASS_MAIL_FROM": "billing@hourglass.example",
    }
    for _ in range(2):
        done = subprocess.run(
            [str(HOURGLASS), "notifications", "deliver", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "sent 0" in done.stdout
    assert len(smtp.received) == 1


def test_email_waits_for_the_documents(
    app: Any,
    client: TestClient,
    finance: Headers,
    session: Session,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Documents may be rendered after the issuing commit: the e-mail goes once they exist."""
    from invoices.runs import worker

    clock = Clock()
    with monkeypatch.context() as patch:  # the document jobs wait: no worker renders them yet
        patch.setattr(worker, "render_documents", lambda *a, **k: None)
        _, invoice = issue_invoice(client, finance)
    _due_now(session, clock)
    summary = _send(app, smtp, clock)
    assert (summary.sent, summary.waiting) == (0, 1)
    row = session.scalar(select(EmailOutbox))
    assert row is not None
    session.refresh(row)
    assert row.attempts == 0 and row.state == "pending"
    documents.render_invoice_documents(session, invoice["id"], issuer=issuing_issuer())
    session.flush()
    clock.advance(mailer.WAIT_FOR_DOCUMENTS)
    assert _send(app, smtp, clock).sent == 1
    [received] = smtp.received
    names = [p.get_filename() for p in received.message.iter_attachments()]
    assert names == [f"{invoice['number']}.pdf"]


def issuing_issuer() -> Any:
    from app.billing import issuer_details

    return issuer_details(Settings())


@pytest.mark.parametrize("e_invoice_format", ["xrechnung", "ubl", "cii"])
def test_xml_attached_for_xrechnung_and_ubl_customers(
    app: Any,
    client: TestClient,
    finance: Headers,
    session: Session,
    smtp: SmtpServer,
    e_invoice_format: str,
) -> None:
    clock = Clock()
    _, invoice = issue_invoice(
        client,
        finance,
        e_invoice_format=e_invoice_format,
        buyer_reference="04011000-12345-34",
        street="Unter den Linden 5",
        city="Berlin",
        postal_code="10117",
    )
    note = client.post(f"/v1/invoices/{invoice['id']}/void", json={}, headers=finance).json()
    _due_now(session, clock)
    assert _send(app, smtp, clock).sent == 2
    by_subject = {r.message["Subject"].split(" ")[0]: r.message for r in smtp.received}
    cases = (
        ("Invoice", invoice["number"], {"invoice_id": invoice["id"]}),
        ("Credit", note["number"], {"credit_note_id": note["id"]}),
    )
    for word, number, owner in cases:
        message = by_subject[word]
        files = {p.get_filename(): p.get_content() for p in message.iter_attachments()}
        pdf = documents.get_document(session, format="pdf", **owner)
        assert pdf is not None and files[f"{number}.pdf"] == pdf.content
        if e_invoice_format == "cii":  # Factur-X: the XML travels inside the PDF
            assert list(files) == [f"{number}.pdf"]
        else:
            xml = documents.get_document(session, format=e_invoice_format, **owner)
            assert xml is not None
            assert list(files) == [f"{number}.pdf", f"{number}.xml"]
            assert files[f"{number}.xml"] == xml.content
