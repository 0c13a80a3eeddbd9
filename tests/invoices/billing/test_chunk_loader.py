"""A run's chunk reads what it bills set-based (`invoices.period_inputs`) and bills exactly what
contract-by-contract billing bills; its reads do not grow with the number of contracts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import invoices.issuing
import invoices.runs.chunks
import invoices.runs.dry_run
from invoices.models import Adjustment, CreditCarryover, Invoice, InvoiceLine
from ledger.hours.models import WorkEntry
from tests.invoices.billing.helpers import (
    Headers,
    add_adjustment,
    create_contract,
    create_customer,
    create_plan,
    lines_of_kind,
    only_invoice,
    post_work,
    run_billing,
)

Json = dict[str, Any]


def _incident(
    client: TestClient, finance: Headers, components: list[str], start: str, end: str
) -> None:
    response = client.post(
        "/v1/incidents",
        json={
            "components": components,
            "started_at": start,
            "ended_at": end,
            "scheduled": False,
            "description": "outage",
        },
        headers=finance,
    )
    assert response.status_code == 201, response.text


def _ticket(client: TestClient, finance: Headers, contract: int, opened_at: str, n: int) -> None:
    response = client.post(
        "/v1/tickets",
        json={
            "contract_id": contract,
            "severity": "S1",
            "reference": f"INC-{contract}-{n}",
            "opened_at": opened_at,
        },
        headers=finance,
    )
    assert response.status_code == 201, response.text


def _scenario(client: TestClient, finance: Headers) -> list[int]:
    """Contracts whose March 2026 invoices exercise every input the rules read; January and
    February are billed before, except for the contracts that catch up."""
    contracts: list[int] = []
    add = contracts.append
    plain = create_contract(client, finance, committed_months=12)
    add(plain)
    carried = create_contract(client, finance)
    add(carried)
    add_adjustment(client, finance, carried, "-5000.00", "Goodwill")  # carried into Feb, Mar
    ended_early = create_contract(client, finance, end_date="2026-02-10")
    add(ended_early)
    run_billing(client, finance, "2026-01")
    run_billing(client, finance, "2026-02")

    post_work(client, finance, plain, "2026-03-03", 23 * 60)  # overage
    post_work(client, finance, plain, "2026-02-20", 95, late=True)  # late work
    add_adjustment(client, finance, plain, "33.33", "Extra report")
    post_work(client, finance, ended_early, "2026-02-05", 30, late=True)  # one more invoice
    add_adjustment(client, finance, ended_early, "12.00", "Courier")

    quarterly_plan = create_plan(
        client, finance, period="quarter", fee="5400.00", included_hours="60", pooling_allowed=False
    )
    quarterly = create_contract(client, finance, plan=quarterly_plan, committed_months=12)
    add(quarterly)
    post_work(client, finance, quarterly, "2026-02-10", 61 * 60)

    pooled = create_contract(client, finance, committed_months=12)  # a catch-up of 3 months
    add(pooled)
    post_work(client, finance, pooled, "2026-01-12", 10 * 60)
    post_work(client, finance, pooled, "2026-02-12", 29 * 60)

    jpy_plan = create_plan(
        client, finance, currency="JPY", fee="50000", overage_rate="12000", included_hours="10"
    )
    tokyo = create_customer(
        client,
        finance,
        country="JP",
        timezone="Asia/Tokyo",
        holiday_region="JP",
        tax_rate_percent="10",
    )
    jpy = create_contract(
        client, finance, plan=jpy_plan, customer=tokyo, start_date="2026-02-20", committed_months=12
    )
    add(jpy)
    post_work(client, finance, jpy, "2026-03-21", 700)

    reverse = create_customer(
        client, finance, country="FR", vat_id="FR40303265045", reverse_charge=True
    )
    add(create_contract(client, finance, customer=reverse))
    taxed = create_customer(client, finance, tax_rate_percent="19")
    mid_march = create_contract(client, finance, customer=taxed, end_date="2026-03-15")
    add(mid_march)

    breach_plan = create_plan(
        client,
        finance,
        credit_per_breach="50.00",
        components=[
            {"name": "api", "share_percent": "40"},
            {"name": "platform", "share_percent": "60"},
        ],
    )
    sla = create_contract(client, finance, plan=breach_plan)  # a catch-up of 3 months
    add(sla)
    _ticket(client, finance, sla, "2026-02-03T09:00:00+01:00", 1)
    _ticket(client, finance, sla, "2026-03-03T09:00:00+01:00", 2)
    _ticket(client, finance, sla, "2026-03-31T23:30:00+02:00", 3)
    _ticket(client, finance, sla, "2026-04-01T00:30:00+02:00", 4)  # April's
    # Across month boundaries: January → February, February → March (UTC vs Berlin/Tokyo).
    _incident(client, finance, ["platform"], "2026-01-31T20:00:00Z", "2026-02-01T10:00:00Z")
    _incident(client, finance, ["platform", "api"], "2026-02-28T18:00:00Z", "2026-03-01T09:00:00Z")
    _incident(client, finance, ["api"], "2026-03-14T08:00:00Z", "2026-03-16T20:00:00Z")
    return contracts


def _billed(connection: sa.Connection) -> Json:
    """Every invoice with its lines, and what each settled, by (contract, period)."""
    key: dict[int, tuple[int, str]] = {}
    invoices = {}
    for row in connection.execute(sa.select(Invoice.__table__)).mappings():  # type: ignore[attr-defined]
        key[row["id"]] = (row["contract_id"], row["period_start"].isoformat())
        invoices[key[row["id"]]] = {
            name: row[name]
            for name in (
                "number",
                "status",
                "period_label",
                "currency",
                "subtotal_minor",
                "tax_minor",
                "total_minor",
                "reverse_charge",
                "note",
            )
        }
    lines = sorted(
        (
            key[row["invoice_id"]],
            row["position"],
            row["kind"],
            row["description"],
            row["quantity"],
            row["unit_price_minor"],
            row["amount_minor"],
        )
        for row in connection.execute(sa.select(InvoiceLine.__table__)).mappings()  # type: ignore[attr-defined]
    )

    def of(invoice_id: int | None) -> tuple[int, str] | None:
        return None if invoice_id is None else key[invoice_id]

    settled = {
        "late": sorted(
            (r.id, of(r.invoice_id))
            for r in connection.execute(sa.select(WorkEntry.id, WorkEntry.invoice_id))
        ),
        "adjustments": sorted(
            (r.id, of(r.invoice_id))
            for r in connection.execute(sa.select(Adjustment.id, Adjustment.invoice_id))
        ),
        "carried": sorted(
            (r.contract_id, r.amount_minor, of(r.source_invoice_id), of(r.applied_invoice_id))
            for r in connection.execute(sa.select(CreditCarryover.__table__))  # type: ignore[attr-defined]
        ),
    }
    return {"invoices": invoices, "lines": lines, "settled": settled}


@contextmanager
def _undone(connection: sa.Connection) -> Iterator[None]:
    nested = connection.begin_nested()
    try:
        yield
    finally:
        nested.rollback()


def test_a_chunk_bills_exactly_what_contract_by_contract_billing_bills(
    client: TestClient,
    finance: Headers,
    connection: sa.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contracts = _scenario(client, finance)
    outcomes: list[str] = []
    real_bill, real_preview = (
        invoices.runs.chunks._bill_at_once,
        invoices.runs.dry_run._preview_at_once,
    )

    def recorded(real: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            outcomes.append(name if result is not None else "fell back")
            return result

        return wrapped

    with monkeypatch.context() as patch, _undone(connection):
        patch.setattr(invoices.runs.chunks, "_bill_at_once", recorded(real_bill, "billed"))
        patch.setattr(invoices.runs.dry_run, "_preview_at_once", recorded(real_preview, "shown"))
        preview_at_once = run_billing(client, finance, "2026-03", dry_run=True)
        run_billing(client, finance, "2026-03")
        at_once = _billed(connection)
    assert outcomes == ["shown", "billed"]  # each a single chunk, none fell back
    with monkeypatch.context() as patch:
        patch.setattr(invoices.runs.chunks, "_bill_at_once", lambda *a, **k: None)

        def one_by_one(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("preview contract by contract")

        patch.setattr(invoices.runs.dry_run, "_preview_at_once", one_by_one)
        with _undone(connection):
            preview_one_by_one = run_billing(client, finance, "2026-03", dry_run=True)
            run_billing(client, finance, "2026-03")
            by_contract = _billed(connection)

    assert at_once == by_contract
    assert preview_at_once == preview_one_by_one
    assert preview_at_once["failures"] == []
    march = {k: v for k, v in at_once["invoices"].items() if v["period_label"] == "2026-03"}
    assert {cid for cid, _ in march} == set(contracts)
    # The scenario bills what it means to: catch-up, SLA credits, late work, carried credit.
    kinds = Counter(line[2] for line in at_once["lines"] if line[0] in march)
    for kind in ("fee", "discount", "overage", "late_work", "service_credit", "adjustment"):
        assert kinds[kind] > 0, kind
    assert kinds["credit_balance"] > 0
    assert sum(1 for v in at_once["invoices"].values() if v["period_label"] == "2026-01") >= 5
    assert any(line[3].startswith("Response-time credit") for line in at_once["lines"])
    previewed = {(p["contract_id"], p["period"]) for p in preview_at_once["previews"]}
    issued_by_run = {
        (cid, v["period_label"]) for (cid, start), v in at_once["invoices"].items() if v["number"]
    }
    assert previewed <= issued_by_run


def test_one_chunk_gives_each_contract_its_own_clock_and_terms(
    client: TestClient, finance: Headers
) -> None:
    """The SLA figures are memoised per time zone, month and plan terms: in one chunk, the same
    hour of downtime is a share of Berlin's 743-hour March and of UTC's 744 hours, and a plan
    whose tier reads "10.0" prints its own tier beside one that reads "10"; a contract that
    starts after the incident has none of it."""
    plain = create_plan(client, finance)
    written_apart = create_plan(
        client,
        finance,
        credit_tiers=[
            {"below_percent": "99.99", "credit_percent": "10.0"},
            {"below_percent": "99.0", "credit_percent": "25"},
        ],
    )
    utc = create_customer(client, finance, timezone="UTC")
    contracts = {
        "berlin": create_contract(client, finance, plan=plain, start_date="2026-03-01"),
        "utc": create_contract(client, finance, plan=plain, customer=utc, start_date="2026-03-01"),
        "apart": create_contract(client, finance, plan=written_apart, start_date="2026-03-01"),
        "later": create_contract(client, finance, plan=plain, start_date="2026-03-11"),
    }
    _incident(client, finance, ["platform"], "2026-03-10T10:00:00Z", "2026-03-10T11:00:00Z")
    run_billing(client, finance, "2026-03")

    def credits(name: str) -> list[tuple[str, str]]:
        invoice = only_invoice(client, finance, contracts[name], "2026-03")
        return [
            (line["description"], line["amount"])
            for line in lines_of_kind(invoice, "service_credit")
        ]

    described = "Service credit platform 2026-03: availability {} % → {} % of 100 % of the fee"
    assert credits("berlin") == [(described.format("99.8654", "10"), "-200.00")]
    assert credits("utc") == [(described.format("99.8656", "10"), "-200.00")]
    assert credits("apart") == [(described.format("99.8654", "10.0"), "-200.00")]
    assert credits("later") == []  # its cover starts after the incident: 100 %, no credit


@contextmanager
def _counting(
    connection: sa.Connection,
) -> Iterator[Callable[[], Counter[str]]]:
    counts: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            counts["select"] += 1

    sa.event.listen(connection, "before_cursor_execute", count)
    try:
        yield lambda: counts
    finally:
        sa.event.remove(connection, "before_cursor_execute", count)


def _read_statements(
    client: TestClient, finance: Headers, connection: sa.Connection, n: int, monkeypatch: Any
) -> tuple[int, int]:
    """SELECTs of a chunk's loading phase (what `_bill_at_once` reads outside closing and
    drafting) and SELECTs inside `compute_period`, billing `n` contracts in one chunk."""
    plan = create_plan(client, finance, credit_per_breach="10.00")
    for i in range(n):
        contract = create_contract(client, finance, plan=plan)
        post_work(client, finance, contract, "2026-01-05", 30 + i)
        if i % 3 == 0:
            add_adjustment(client, finance, contract, "5.00", "Setup")
        if i % 4 == 0:
            _ticket(client, finance, contract, "2026-01-06T09:00:00+01:00", i)
    phase: Counter[str] = Counter()
    paused = [False]
    inside_compute = [0]

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            if inside_compute[0]:
                phase["compute"] += 1
            elif phase["on"] and not paused[0]:
                phase["load"] += 1

    real_bill_at_once = invoices.runs.chunks._bill_at_once
    real_draft, real_close = invoices.runs.chunks.draft_period, invoices.runs.chunks.close_periods
    real_compute = invoices.issuing.compute_period

    def bill_at_once(*args: Any, **kwargs: Any) -> Any:
        phase["on"] = 1
        try:
            return real_bill_at_once(*args, **kwargs)
        finally:
            phase["on"] = 0

    def pausing(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            paused[0] = True
            try:
                return real(*args, **kwargs)
            finally:
                paused[0] = False

        return wrapped

    def compute(*args: Any, **kwargs: Any) -> Any:
        inside_compute[0] += 1
        try:
            return real_compute(*args, **kwargs)
        finally:
            inside_compute[0] -= 1

    with monkeypatch.context() as patch:
        patch.setattr(invoices.runs.chunks, "_bill_at_once", bill_at_once)
        patch.setattr(invoices.runs.chunks, "draft_period", pausing(real_draft))
        patch.setattr(invoices.runs.chunks, "close_periods", pausing(real_close))
        patch.setattr(invoices.issuing, "compute_period", compute)
        sa.event.listen(connection, "before_cursor_execute", count)
        try:
            run = run_billing(client, finance, "2026-01")
        finally:
            sa.event.remove(connection, "before_cursor_execute", count)
    assert run["invoices"] == n, run
    return phase["load"], phase["compute"]


@pytest.mark.parametrize("n", [10, 40])
def test_a_chunks_reads_do_not_grow_with_its_contracts(
    client: TestClient,
    finance: Headers,
    connection: sa.Connection,
    monkeypatch: pytest.MonkeyPatch,
    n: int,
) -> None:
    load, compute = _read_statements(client, finance, connection, n, monkeypatch)
    # Due periods (2), after the drafts further due periods (2), and the inputs: overage
    # totals, late work, adjustments, carried credit, incidents, tickets (6).
    assert load <= 10, load
    assert compute == 0, compute
