"""A chunk's invoices are written in bulk (issue #12): its write statements do not grow with
its contracts, and what the bulk writes is what issuing one invoice at a time wrote: the
`invoice.issued` event is the invoice as its GET shows it, one webhook delivery per subscribed
endpoint, one e-mail to its customer."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.issuer import IssuerDetails
from invoices.models import Adjustment, CreditCarryover, Invoice
from invoices.notifications.models import EmailOutbox, NotificationEvent, WebhookDelivery
from invoices.runs.chunks import ChunkResult, work_chunk
from invoices.runs.models import BillingJob
from ledger import bulk
from ledger.hours.models import WorkEntry
from tests.invoices.billing.helpers import (
    Headers,
    add_adjustment,
    create_contract,
    create_customer,
    invoice_number,
    post_work,
)
from tests.invoices.notifications.helpers import register_endpoint
from tests.support.twice import twice

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ISSUER = IssuerDetails(name="Hourglass Test Issuer")
WRITES = ("INSERT", "UPDATE", "DELETE", "COPY")


@contextmanager
def writes(connection: sa.Connection) -> Iterator[list[str]]:
    """Every write statement sent, a PostgreSQL `COPY` too: an `executemany` counts once
    (psycopg pipelines its parameter sets in one round trip, the statement parsed once; SQLite
    runs it in-process), a multi-row INSERT ("insertmanyvalues") once. On SQLite,
    SQLAlchemy sends an ORM `INSERT … RETURNING` one row at a time (in-process, it cannot
    keep several rows' ids in order): those are left out there, counted on PostgreSQL."""
    seen: list[str] = []
    sqlite = connection.dialect.name == "sqlite"

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if sqlite and statement.startswith("INSERT") and " RETURNING " in statement:
            return
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def _contracts(client: TestClient, finance: Headers, count: int) -> list[int]:
    """A mix that repeats every five contracts: plain, overage, an adjustment, a credit
    adjustment carried forward, reverse charge with a longer payment term."""
    made = []
    for i in range(count):
        kind = i % 5
        customer = (
            create_customer(
                client,
                finance,
                reverse_charge=True,
                vat_id="FR40303265045",
                payment_terms_days=30,
            )
            if kind == 4
            else create_customer(client, finance)
        )
        contract = create_contract(client, finance, customer=customer)
        post_work(client, finance, contract, "2026-01-05", (21 if kind == 1 else 2) * 60)
        if kind == 2:
            add_adjustment(client, finance, contract, "25.00", "Onboarding workshop")
        if kind == 3:
            add_adjustment(client, finance, contract, "-9000.00", "Goodwill credit")
        made.append(contract)
    return made


def _start_run(client: TestClient, finance: Headers, period: str) -> int:
    response = client.post("/v1/billing-runs", json={"period": period}, headers=finance)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _chunk(session: Session, run_id: int, size: int) -> ChunkResult:
    result = work_chunk(session, issuer=ISSUER, now=NOW, worker="test", run_id=run_id, size=size)
    assert result is not None and result.failed == 0
    return result


def test_a_chunks_writes_do_not_grow_with_its_contracts(
    client: TestClient, finance: Headers, session: Session, connection: sa.Connection
) -> None:
    register_endpoint(client, finance, "http://127.0.0.1:9/hook", ["invoice.issued"])
    _contracts(client, finance, 50)
    run_id = _start_run(client, finance, "2026-01")
    with writes(connection) as small:
        assert _chunk(session, run_id, 10).invoices == 10
    with writes(connection) as large:
        assert _chunk(session, run_id, 40).invoices == 40
    assert len(small) <= 30, "\n".join(small)
    assert len(large) <= len(small) + 2, "\n".join(large)
    if connection.dialect.name == "postgresql":  # the rows streamed, the updates one statement
        assert sum(s.startswith("COPY ") for s in large) >= 5, "\n".join(large)
    # Everything was written: lines, settled adjustments, carried credit, outboxes.
    assert (
        session.scalar(
            select(sa.func.count())
            .select_from(Adjustment)
            .where(col(Adjustment.invoice_id).is_(None))
        )
        == 0
    )
    assert session.scalar(select(sa.func.count()).select_from(CreditCarryover)) == 10
    assert session.scalar(select(sa.func.count()).select_from(WebhookDelivery)) == 50
    assert session.scalar(select(sa.func.count()).select_from(EmailOutbox)) == 50


def test_bulk_issued_events_are_the_invoices_as_their_get_shows_them(
    client: TestClient, finance: Headers, session: Session
) -> None:
    hook = register_endpoint(client, finance, "http://127.0.0.1:9/a", ["invoice.issued"])
    register_endpoint(client, finance, "http://127.0.0.1:9/b", ["invoice.paid"])
    gone = register_endpoint(client, finance, "http://127.0.0.1:9/c", ["invoice.issued"])
    assert client.delete(f"/v1/webhook-endpoints/{gone['id']}", headers=finance).status_code == 204
    contracts = _contracts(client, finance, 10)
    late = contracts[0]
    run_id = _start_run(client, finance, "2026-01")
    _chunk(session, run_id, 10)
    # February: late work of January on the first contract; another chunk of all ten.
    post_work(client, finance, late, "2026-01-20", 90, late=True)
    run_id = _start_run(client, finance, "2026-02")
    first_event = session.scalar(select(sa.func.max(NotificationEvent.id)))
    _chunk(session, run_id, 10)

    issued = session.scalars(
        select(NotificationEvent)
        .where(
            col(NotificationEvent.type) == "invoice.issued", col(NotificationEvent.id) > first_event
        )
        .order_by(col(NotificationEvent.id))
    ).all()
    invoices = session.scalars(
        select(Invoice).where(col(Invoice.billing_run_id) == run_id).order_by(col(Invoice.id))
    ).all()
    assert [e.data["id"] for e in issued] == [i.id for i in invoices]
    assert [e.data["number"] for e in issued] == [invoice_number(n) for n in range(11, 21)]
    for e in issued:
        shown = client.get(f"/v1/invoices/{e.data['id']}", headers=finance)
        assert e.data == shown.json()
    billed_late = session.scalar(
        select(col(WorkEntry.invoice_id)).where(
            col(WorkEntry.contract_id) == late, col(WorkEntry.late).is_(True)
        )
    )
    assert billed_late == issued[0].data["id"]
    assert [line["kind"] for line in issued[0].data["lines"]].count("late_work") == 1
    reverse = [e.data for e in issued if e.data["reverse_charge"]]
    assert len(reverse) == 2 and all(d["tax"] == "0.00" and d["note"] for d in reverse)

    deliveries = session.scalars(
        select(WebhookDelivery).where(col(WebhookDelivery.event_id).in_([e.id for e in issued]))
    ).all()
    assert sorted((d.event_id, d.endpoint_id, d.state) for d in deliveries) == [
        (e.id, hook["id"], "pending") for e in issued
    ]
    emails = session.scalars(
        select(EmailOutbox)
        .where(col(EmailOutbox.invoice_id).in_([i.id for i in invoices]))
        .order_by(col(EmailOutbox.id))
    ).all()
    assert [m.invoice_id for m in emails] == [i.id for i in invoices]
    for mail, invoice in zip(emails, invoices, strict=True):
        customer = client.get(f"/v1/customers/{invoice.customer_id}", headers=finance).json()
        assert (mail.kind, mail.state, mail.recipients) == (
            "invoice",
            "pending",
            [customer["email"]],
        )
    assert len({m.message_id for m in emails}) == len(emails)
    jobs = session.scalars(select(BillingJob).where(col(BillingJob.run_id) == run_id)).all()
    assert {(j.status, j.invoices_issued) for j in jobs} == {("done", 1)}


@pytest.mark.postgres_only
def test_a_chunk_copied_stores_what_executemany_stored(
    client: TestClient,
    finance: Headers,
    session: Session,
    connection: sa.Connection,
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[datetime], None],
) -> None:
    """Billing a chunk with `ledger.bulk` streaming its rows (COPY) and updating by arrays
    leaves every table of the database byte for byte as the executemany writes left it."""
    register_endpoint(client, finance, "http://127.0.0.1:9/hook", ["invoice.issued"])
    _contracts(client, finance, 20)
    run_id = _start_run(client, finance, "2026-01")
    clock(datetime.now(UTC))  # both chunks see one instant (created_at, grants' bound)

    def bill(billing: Session) -> None:
        tokens = iter(range(10**6))
        monkeypatch.setattr(secrets, "token_hex", lambda n: f"{next(tokens):0{2 * n}x}")
        assert _chunk(billing, run_id, 20).invoices == 20

    copied = twice(connection, bill)
    with monkeypatch.context() as m:
        m.setattr(bulk, "_copy", lambda *_args, **_kw: False)
        m.setattr(bulk, "_update_from_arrays", lambda *_args, **_kw: False)
        written = twice(connection, bill)
    assert len(written["invoices"]) == 20 and written["ledger_entries"] and written["allotments"]
    assert copied == written
