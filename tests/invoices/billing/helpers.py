"""Shared steps of the billing tests.

Two flavours: HTTP helpers for tests that run inside the rolled-back test transaction
(`client`, `finance`), and service helpers for tests that need a database of their own with
real commits (`fresh_database`): loading a data set, reading invoices back, running the
`hourglass` console script as a subprocess.

Billing runs use the real clock, so every period billed here (2026-01 … 2026-10) has ended and
invoice numbers carry the current year.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, normalise_url, session_factory, unit_of_work
from ledger.base import utcnow
from ledger.hours.schemas import WorkEntryCreate
from ledger.hours.work import post_work as post_work_service
from tests.factories import billing_run, customer_payload, plan_payload
from tests.factories import create_contract as create_contract_service
from tests.factories import create_customer as create_customer_service
from tests.factories import create_plan as create_plan_service

Headers = dict[str, str]
Json = dict[str, Any]

HOURGLASS = Path(sys.executable).parent / "hourglass"


def invoice_number(value: int, *, prefix: str = "") -> str:
    """The number the n-th document issued this year gets (`2026-000001`, `CN-2026-000001`)."""
    return f"{prefix}{utcnow().year}-{value:06d}"


# --- through the HTTP API, inside the test transaction -----------------------------------------


def create_plan(client: TestClient, finance: Headers, **overrides: Any) -> Json:
    response = client.post("/v1/plans", json=plan_payload(**overrides), headers=finance)
    assert response.status_code == 201, response.text
    return response.json()


def create_customer(client: TestClient, finance: Headers, **overrides: Any) -> Json:
    response = client.post("/v1/customers", json=customer_payload(**overrides), headers=finance)
    assert response.status_code == 201, response.text
    return response.json()


def create_contract(
    client: TestClient,
    finance: Headers,
    *,
    plan: Json | None = None,
    customer: Json | None = None,
    **fields: Any,
) -> int:
    """A contract on SPEC's `business` plan for a Berlin customer from 2026-01-01, with no
    committed term (so no annual discount) unless told otherwise. Returns its id."""
    plan = plan or create_plan(client, finance)
    customer = customer or create_customer(client, finance)
    body = {
        "customer_id": customer["id"],
        "plan_code": plan["code"],
        "start_date": "2026-01-01",
        **fields,
    }
    response = client.post("/v1/contracts", json=body, headers=finance)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def post_work(
    client: TestClient,
    headers: Headers,
    contract_id: int,
    worked_on: str,
    minutes: int,
    *,
    expect: int = 201,
    **extra: Any,
) -> Json:
    body = {
        "worked_on": worked_on,
        "minutes": minutes,
        "level": 2,
        "ticket_ref": f"T-{worked_on}-{minutes}",
        **extra,
    }
    response = client.post(f"/v1/contracts/{contract_id}/work-entries", json=body, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


def add_adjustment(
    client: TestClient, finance: Headers, contract_id: int, amount: str, description: str
) -> Json:
    response = client.post(
        f"/v1/contracts/{contract_id}/adjustments",
        json={"amount": amount, "description": description},
        headers=finance,
    )
    assert response.status_code == 201, response.text
    return response.json()


def run_billing(
    client: TestClient,
    finance: Headers,
    period: str,
    *,
    dry_run: bool = False,
    expect: int | None = None,
) -> Json:
    """A run to its end (see `tests.factories.billing_run`); a dry run's or a refusal's answer."""
    if expect is None and not dry_run:
        return billing_run(client, finance, period)
    expect = expect or 200
    response = client.post(
        "/v1/billing-runs", json={"period": period, "dry_run": dry_run}, headers=finance
    )
    assert response.status_code == expect, response.text
    return response.json()


def list_invoices(client: TestClient, headers: Headers, **params: Any) -> list[Json]:
    """Every invoice the token may see, following the cursor."""
    items: list[Json] = []
    query: dict[str, Any] = {"limit": 100, **params}
    while True:
        response = client.get("/v1/invoices", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        query["cursor"] = page["next_cursor"]


def invoices_by_period(client: TestClient, headers: Headers, contract_id: int) -> dict[str, Json]:
    invoices = list_invoices(client, headers, contract_id=contract_id)
    by_period = {invoice["period"]: invoice for invoice in invoices}
    assert len(by_period) == len(invoices), "two invoices for one period"
    return by_period


def only_invoice(client: TestClient, headers: Headers, contract_id: int, period: str) -> Json:
    invoices = list_invoices(client, headers, contract_id=contract_id, period=period)
    assert len(invoices) == 1, invoices
    return invoices[0]


def amounts(invoice: Json) -> list[tuple[str, str]]:
    """(kind, amount) of every line, in order."""
    return [(line["kind"], line["amount"]) for line in invoice["lines"]]


def lines_of_kind(invoice: Json, kind: str) -> list[Json]:
    return [line for line in invoice["lines"] if line["kind"] == kind]


def minor(amount: str) -> int:
    """A two-decimal amount string as minor units, for sums in assertions."""
    return int(Decimal(amount) * 100)


# --- a database of its own: services, commits, subprocesses ------------------------------------


@contextmanager
def open_database(url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(url, poolclass=sa.NullPool)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def reader(url: str) -> sa.Engine:
    """An engine that only reads: no `BEGIN IMMEDIATE` on SQLite, so polling a database while
    a subprocess writes to it never takes the write lock away from that process."""
    return sa.create_engine(normalise_url(url), poolclass=sa.NullPool)


@dataclass(frozen=True)
class DataSet:
    contract_ids: list[int]
    currencies: dict[int, str]


def load_dataset(
    url: str, *, contracts: int, entries_per_contract: int = 3, batch: int = 50
) -> DataSet:
    """Deterministic contracts with a month of work each, committed through the services.

    A mix of what a run meets: EUR with and without an annual term, a taxed customer, a
    reverse-charge customer, a JPY plan and a contract that started mid-January."""
    ids: list[int] = []
    currencies: dict[int, str] = {}
    with open_database(url) as factory:
        with unit_of_work(factory) as session:
            eur = create_plan_service(session, code="business-eur")
            jpy = create_plan_service(
                session,
                code="business-jpy",
                currency="JPY",
                fee="50000",
                overage_rate="12000",
                included_hours="10",
            )
            customers = [
                create_customer_service(session, name="Plain GmbH"),
                create_customer_service(session, name="Taxed GmbH", tax_rate_percent="19"),
                create_customer_service(
                    session,
                    name="Reverse SARL",
                    tax_rate_percent="19",
                    reverse_charge=True,
                    vat_id="FR40303265045",
                ),
            ]
        for start in range(0, contracts, batch):
            with unit_of_work(factory) as session:
                for index in range(start, min(start + batch, contracts)):
                    plan = jpy if index % 5 == 4 else eur
                    contract = create_contract_service(
                        session,
                        customer=customers[index % 3],
                        plan=plan,
                        committed_months=12 if index % 2 else 0,
                        start_date=date(2026, 1, 11) if index % 7 == 3 else date(2026, 1, 1),
                    )
                    assert contract.id is not None
                    ids.append(contract.id)
                    currencies[contract.id] = contract.currency
                    for entry in range(entries_per_contract):
                        minutes = 60 * (3 + (index + entry) % 6) + 5 * (index % 4)
                        post_work_service(
                            session,
                            contract.id,
                            WorkEntryCreate(
                                worked_on=date(2026, 1, 12 + entry % 15),
                                minutes=minutes,
                                level=1 + (index + entry) % 4,
                                ticket_ref=f"T-{index}-{entry}",
                                description=f"work {entry} on contract {index}",
                            ),
                        )
    return DataSet(contract_ids=ids, currencies=currencies)


@dataclass(frozen=True)
class StoredInvoice:
    id: int
    number: str
    contract_id: int
    period: str
    currency: str
    status: str
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    pdf_sha256: str | None  # None until its documents are rendered
    pdf_digest: str | None  # the SHA-256 of the stored bytes, computed here
    lines: tuple[tuple[str, str, str, int | None, int], ...]


def stored_invoices(url: str) -> list[StoredInvoice]:
    """Every invoice in the database with its lines, read without the application."""
    engine = reader(url)
    try:
        with engine.connect() as conn:
            lines: dict[int, list[tuple[str, str, str, int | None, int]]] = {}
            for row in conn.execute(
                sa.text(
                    "SELECT invoice_id, kind, description, quantity, unit_price_minor, "
                    "amount_minor FROM invoice_lines ORDER BY invoice_id, position"
                )
            ):
                lines.setdefault(row[0], []).append(tuple(row[1:]))  # type: ignore[arg-type]
            return [
                StoredInvoice(
                    id=row.id,
                    number=row.number,
                    contract_id=row.contract_id,
                    period=row.period_label,
                    currency=row.currency,
                    status=row.status,
                    subtotal_minor=row.subtotal_minor,
                    tax_minor=row.tax_minor,
                    total_minor=row.total_minor,
                    pdf_sha256=row.pdf_sha256,
                    pdf_digest=None
                    if row.pdf is None
                    else hashlib.sha256(bytes(row.pdf)).hexdigest(),
                    lines=tuple(lines.get(row.id, ())),
                )
                for row in conn.execute(
                    sa.text(
                        "SELECT i.id, i.number, i.contract_id, i.period_label, i.currency, "
                        "i.status, i.subtotal_minor, i.tax_minor, i.total_minor, "
                        "d.sha256 AS pdf_sha256, d.content AS pdf FROM invoices i "
                        "LEFT JOIN invoice_documents d ON d.invoice_id = i.id AND d.format = 'pdf' "
                        "ORDER BY i.id"
                    )
                )
            ]
    finally:
        engine.dispose()


def count_rows(url: str, table: str) -> int:
    engine = reader(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def table_counts(url: str) -> dict[str, int]:
    tables = (
        "invoices",
        "invoice_lines",
        "ledger_entries",
        "allotments",
        "closed_periods",
        "number_sequences",
        "billing_runs",
        "billing_jobs",
        "credit_carryovers",
        "payment_outbox",
        "invoice_documents",
        "document_jobs",
    )
    return {table: count_rows(url, table) for table in tables}


def cli_env(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOURGLASS_")}
    environment["HOURGLASS_DATABASE_URL"] = url
    environment.update(extra or {})
    environment["COLUMNS"] = "200"  # rich wraps tables at the terminal width
    return environment


def hourglass(
    url: str,
    *args: str,
    timeout: float = 300,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    assert HOURGLASS.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.run(
        [str(HOURGLASS), *args],
        env=cli_env(url, env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_hourglass(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    assert HOURGLASS.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.Popen(
        [str(HOURGLASS), *args],
        env=cli_env(url, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a kill can take its renderers too
    )


def render_pending_documents(factory: Any, *, issuer: Any = None) -> int:
    """Render every waiting document job as a worker would (in this process); returns batches."""
    from invoices.issuer import IssuerDetails
    from invoices.runs.documents import render_documents
    from ledger.base import utcnow

    issuer = issuer or IssuerDetails(name="Hourglass Services GmbH")
    batches = 0
    while render_documents(factory, issuer=issuer, now=utcnow(), processes=1) is not None:
        batches += 1
    return batches
