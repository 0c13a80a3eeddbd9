"""The month-end billing run through the API: catch-up, periods not ended, dry runs, one
contract's failure, quarterly plans, the run's summary, who may run it and who sees what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import invoices.computation
import invoices.runs.chunks
from invoices.issuing import Draft
from invoices.models import CreditCarryover, Invoice, InvoiceLine, NumberSequence
from invoices.runs.models import BillingJob, BillingRun
from ledger.base import utcnow
from ledger.hours.models import Allotment, ClosedPeriod, LedgerEntry, PeriodOverage
from ledger.periods import add_months, month_label
from tests.invoices.billing.helpers import (
    Headers,
    add_adjustment,
    amounts,
    create_contract,
    create_customer,
    create_plan,
    invoice_number,
    invoices_by_period,
    lines_of_kind,
    list_invoices,
    only_invoice,
    post_work,
    run_billing,
)

WRITTEN_TABLES = (
    Invoice,
    InvoiceLine,
    NumberSequence,
    CreditCarryover,
    LedgerEntry,
    Allotment,
    ClosedPeriod,
    PeriodOverage,
    BillingRun,
    BillingJob,
)


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: int(  # type: ignore[attr-defined]
            session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
        )
        for model in WRITTEN_TABLES
    }


def _month_ahead(months: int) -> str:
    """The current month (0) or a later one: periods that have not ended."""
    return month_label(add_months(utcnow().date().replace(day=1), months))


def test_catch_up_bills_every_missed_period_in_order(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance, committed_months=12)
    post_work(client, finance, contract, "2026-02-10", 21 * 60)
    run = run_billing(client, finance, "2026-03")
    assert run["status"] == "completed"
    assert (run["contracts"], run["invoices"]) == (1, 3)
    invoices = invoices_by_period(client, finance, contract)
    assert list(invoices) == ["2026-01", "2026-02", "2026-03"]  # listed by id: issue order
    assert [invoices[p]["number"] for p in invoices] == [invoice_number(n) for n in (1, 2, 3)]
    assert [invoices[p]["total"] for p in invoices] == ["1800.00", "1910.00", "1800.00"]
    # The catch-up happened once: the next run bills April only.
    again = run_billing(client, finance, "2026-04")
    assert again["invoices"] == 1
    assert only_invoice(client, finance, contract, "2026-04")["number"] == invoice_number(4)


def test_catch_up_for_many_contracts_numbers_each_contract_in_order(
    client: TestClient, finance: Headers
) -> None:
    early = create_contract(client, finance)
    late = create_contract(client, finance, start_date="2026-02-15")
    run = run_billing(client, finance, "2026-03")
    assert (run["contracts"], run["invoices"]) == (2, 5)
    numbers = sorted(i["number"] for i in list_invoices(client, finance))
    assert numbers == [invoice_number(n) for n in range(1, 6)]
    for contract, periods in (
        (early, ["2026-01", "2026-02", "2026-03"]),
        (late, ["2026-02", "2026-03"]),
    ):
        invoices = invoices_by_period(client, finance, contract)
        assert list(invoices) == periods
        mine = [invoices[p]["number"] for p in periods]
        assert mine == sorted(mine)


@pytest.mark.parametrize("months_ahead", [0, 1])
def test_a_period_not_ended_can_only_be_previewed(
    client: TestClient, finance: Headers, session: Session, months_ahead: int
) -> None:
    month = _month_ahead(months_ahead)
    contract = create_contract(client, finance, start_date="2026-10-01")
    before = _counts(session)
    refused = client.post("/v1/billing-runs", json={"period": month}, headers=finance)
    assert refused.status_code == 409, refused.text
    assert "not ended" in refused.json()["detail"]
    assert _counts(session) == before

    preview = run_billing(client, finance, month, dry_run=True)
    assert preview["dry_run"] is True and preview["id"] is None
    assert preview["status"] == "preview"
    mine = [p for p in preview["previews"] if p["contract_id"] == contract]
    assert mine, preview
    assert any("not ended" in note for note in mine[-1]["notes"])
    assert _counts(session) == before


def test_bad_period_is_refused(client: TestClient, finance: Headers) -> None:
    for period in ("2026-13", "2026-1", "January", ""):
        response = client.post("/v1/billing-runs", json={"period": period}, headers=finance)
        assert response.status_code == 422, (period, response.text)


def test_dry_run_previews_and_writes_nothing(
    client: TestClient, finance: Headers, session: Session
) -> None:
    customer = create_customer(client, finance, tax_rate_percent="19")
    first = create_contract(client, finance, customer=customer, committed_months=12)
    second = create_contract(client, finance, start_date="2026-01-20")
    post_work(client, finance, first, "2026-01-05", 22 * 60)
    add_adjustment(client, finance, second, "-10.00", "Goodwill")
    before = _counts(session)

    preview = run_billing(client, finance, "2026-01", dry_run=True)
    assert (preview["contracts"], preview["invoices"]) == (2, 2)
    assert preview["totals"] == {"EUR": "3167.99"}  # 2,403.80 + 764.19
    by_contract = {p["contract_id"]: p for p in preview["previews"]}
    assert [(x["kind"], x["amount"]) for x in by_contract[first]["lines"]] == [
        ("fee", "2000.00"),
        ("discount", "-200.00"),
        ("overage", "220.00"),
    ]
    assert (by_contract[first]["tax"], by_contract[first]["total"]) == ("383.80", "2403.80")
    assert by_contract[second]["total"] == "764.19"
    assert _counts(session) == before
    assert list_invoices(client, finance) == []

    # What the dry run showed is what the run issues.
    run = run_billing(client, finance, "2026-01")
    assert run["totals"] == preview["totals"]
    for contract in (first, second):
        invoice = only_invoice(client, finance, contract, "2026-01")
        shown = by_contract[contract]
        assert invoice["lines"] == shown["lines"]
        assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (
            shown["subtotal"],
            shown["tax"],
            shown["total"],
        )


def test_dry_run_with_catch_up_shows_what_the_run_issues(
    client: TestClient, finance: Headers
) -> None:
    contract = create_contract(client, finance)
    run_billing(client, finance, "2026-01")
    post_work(client, finance, contract, "2026-01-20", 60, late=True)
    add_adjustment(client, finance, contract, "-3000.00", "Goodwill")
    preview = run_billing(client, finance, "2026-03", dry_run=True)
    shown = {p["period"]: p for p in preview["previews"] if p["contract_id"] == contract}
    run_billing(client, finance, "2026-03")
    issued = invoices_by_period(client, finance, contract)
    assert sorted(shown) == ["2026-02", "2026-03"]
    for period in ("2026-02", "2026-03"):
        assert (shown[period]["lines"], shown[period]["total"]) == (
            issued[period]["lines"],
            issued[period]["total"],
        ), period


def test_one_contracts_failure_is_recorded_and_the_others_are_invoiced(
    client: TestClient, finance: Headers, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = [create_contract(client, finance) for _ in range(3)]
    broken = contracts[1]
    real_draft_period = invoices.runs.chunks.draft_period

    def draft_period(session: Session, **kwargs: Any) -> Draft:
        drafted = real_draft_period(session, **kwargs)  # its writes are in the savepoint
        if kwargs["contract"].id == broken:
            raise RuntimeError("renderer exploded")
        return drafted

    monkeypatch.setattr(invoices.runs.chunks, "draft_period", draft_period)
    run = run_billing(client, finance, "2026-01")
    assert run["status"] == "completed_with_failures"
    assert (run["contracts"], run["invoices"]) == (3, 2)
    assert run["failures"] == [{"contract_id": broken, "error": "RuntimeError: renderer exploded"}]
    assert run["totals"] == {"EUR": "4000.00"}
    assert list_invoices(client, finance, contract_id=broken) == []
    numbers = sorted(i["number"] for i in list_invoices(client, finance))
    assert numbers == [invoice_number(1), invoice_number(2)]  # the failure took no number
    shown = client.get(f"/v1/billing-runs/{run['id']}", headers=finance).json()
    assert shown["failures"] == run["failures"]
    assert shown["status"] == "completed_with_failures"

    # Nothing of the failed contract stayed: its period is not closed, no hours expired.
    for table in (ClosedPeriod, LedgerEntry):
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.contract_id == broken, table.period_start == date(2026, 1, 1))  # type: ignore[attr-defined]
                .where(sa.true() if table is ClosedPeriod else LedgerEntry.kind == "expire")  # type: ignore[arg-type]
            )
            == 0
        )
    monkeypatch.setattr(invoices.runs.chunks, "draft_period", real_draft_period)
    rerun = run_billing(client, finance, "2026-01")
    assert rerun["id"] != run["id"]
    assert (rerun["status"], rerun["invoices"], rerun["failures"]) == ("completed", 1, [])
    assert only_invoice(client, finance, broken, "2026-01")["number"] == invoice_number(3)
    for contract in contracts:
        assert len(list_invoices(client, finance, contract_id=contract)) == 1


def test_a_domain_error_is_recorded_with_its_detail(
    client: TestClient, finance: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.errors import Conflict

    contract = create_contract(client, finance)

    def draft_period(session: Session, **kwargs: Any) -> Draft:
        raise Conflict("customer has no billing address")

    monkeypatch.setattr(invoices.runs.chunks, "draft_period", draft_period)
    run = run_billing(client, finance, "2026-01")
    assert run["failures"] == [
        {"contract_id": contract, "error": "customer has no billing address"}
    ]
    assert run["status"] == "completed_with_failures" and run["invoices"] == 0


def test_a_dry_run_reports_one_contracts_failure_and_previews_the_others(
    client: TestClient, finance: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = [create_contract(client, finance) for _ in range(3)]
    broken = contracts[1]
    real_compute = invoices.computation.compute_from_inputs

    def compute_from_inputs(session: Session, **kwargs: Any) -> Any:
        if kwargs["contract"].id == broken:
            raise RuntimeError("renderer exploded")
        return real_compute(session, **kwargs)

    monkeypatch.setattr(invoices.computation, "compute_from_inputs", compute_from_inputs)
    response = client.post(
        "/v1/billing-runs", json={"period": "2026-01", "dry_run": True}, headers=finance
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert sorted(p["contract_id"] for p in preview["previews"]) == [contracts[0], contracts[2]]
    assert [f["contract_id"] for f in preview["failures"]] == [broken]


def test_quarterly_plan_is_invoiced_by_the_last_month_of_the_quarter(
    client: TestClient, finance: Headers
) -> None:
    plan = create_plan(
        client,
        finance,
        period="quarter",
        fee="5400.00",
        included_hours="60",
        pooling_allowed=False,
    )
    quarterly = create_contract(client, finance, plan=plan, committed_months=12)
    monthly = create_contract(client, finance)
    post_work(client, finance, quarterly, "2026-02-10", 61 * 60)

    assert run_billing(client, finance, "2026-01")["invoices"] == 1  # the monthly one
    assert run_billing(client, finance, "2026-02")["invoices"] == 1
    assert list_invoices(client, finance, contract_id=quarterly) == []

    march = run_billing(client, finance, "2026-03")
    assert march["invoices"] == 2
    (q1,) = list_invoices(client, finance, contract_id=quarterly)
    assert q1["period"] == "2026-03"
    assert amounts(q1) == [("fee", "5400.00"), ("discount", "-540.00"), ("overage", "110.00")]
    assert "2026-01" in q1["lines"][0]["description"]
    assert "2026-03" in q1["lines"][0]["description"]
    assert len(list_invoices(client, finance, contract_id=monthly)) == 3

    assert run_billing(client, finance, "2026-04")["invoices"] == 1
    assert run_billing(client, finance, "2026-05")["invoices"] == 1
    run_billing(client, finance, "2026-06")
    assert sorted(invoices_by_period(client, finance, quarterly)) == ["2026-03", "2026-06"]


def test_run_summary_counts_contracts_invoices_and_totals_per_currency(
    client: TestClient, finance: Headers
) -> None:
    jpy = create_plan(client, finance, currency="JPY", fee="50000", overage_rate="12000")
    create_contract(client, finance, committed_months=12)
    create_contract(client, finance, start_date="2026-01-20")
    create_contract(client, finance, plan=jpy)
    create_contract(client, finance, start_date="2026-02-01")  # not in January's run
    run = run_billing(client, finance, "2026-01")
    assert run["status"] == "completed" and run["dry_run"] is False
    assert (run["contracts"], run["invoices"], run["failures"]) == (3, 3, [])
    assert run["totals"] == {"EUR": "2574.19", "JPY": "50000"}
    assert run["finished_at"] is not None
    shown = client.get(f"/v1/billing-runs/{run['id']}", headers=finance)
    assert shown.status_code == 200
    assert shown.json() == run
    assert client.get("/v1/billing-runs/999999", headers=finance).status_code == 404


def test_a_finished_period_run_again_issues_nothing(client: TestClient, finance: Headers) -> None:
    contract = create_contract(client, finance)
    run_billing(client, finance, "2026-01")
    before = only_invoice(client, finance, contract, "2026-01")
    again = run_billing(client, finance, "2026-01")
    assert (again["invoices"], again["totals"]) == (0, {})
    assert only_invoice(client, finance, contract, "2026-01") == before


def test_billing_runs_are_for_finance_only(
    client: TestClient,
    finance: Headers,
    support: Headers,
    customer_headers: Callable[[int], Headers],
) -> None:
    customer = create_customer(client, finance)
    create_contract(client, finance, customer=customer)
    run = run_billing(client, finance, "2026-01")
    for headers in (customer_headers(customer["id"]), support):
        for dry_run in (False, True):
            response = client.post(
                "/v1/billing-runs", json={"period": "2026-02", "dry_run": dry_run}, headers=headers
            )
            assert response.status_code == 403, response.text
        assert client.get(f"/v1/billing-runs/{run['id']}", headers=headers).status_code == 403
    assert client.post("/v1/billing-runs", json={"period": "2026-02"}).status_code == 401
    assert run_billing(client, finance, "2026-02")["invoices"] == 1  # nothing ran before


def test_invoice_filters_and_customer_isolation(
    client: TestClient, finance: Headers, customer_headers: Callable[[int], Headers]
) -> None:
    alice = create_customer(client, finance)
    bob = create_customer(client, finance)
    alice_contract = create_contract(client, finance, customer=alice)
    bob_contract = create_contract(client, finance, customer=bob)
    run_billing(client, finance, "2026-02")
    bob_january = only_invoice(client, finance, bob_contract, "2026-01")
    note = client.post(f"/v1/invoices/{bob_january['id']}/void", headers=finance).json()

    assert len(list_invoices(client, finance)) == 4
    assert {i["customer_id"] for i in list_invoices(client, finance, customer_id=alice["id"])} == {
        alice["id"]
    }
    january = list_invoices(client, finance, period="2026-01")
    assert sorted(i["contract_id"] for i in january) == [alice_contract, bob_contract]
    assert [i["id"] for i in list_invoices(client, finance, status="void")] == [bob_january["id"]]
    assert len(list_invoices(client, finance, status="issued")) == 3
    both = list_invoices(client, finance, customer_id=bob["id"], period="2026-02", status="issued")
    assert [(i["contract_id"], i["period"]) for i in both] == [(bob_contract, "2026-02")]
    for bad in ({"period": "2026-1"}, {"status": "draft"}):
        assert client.get("/v1/invoices", params=bad, headers=finance).status_code == 422

    as_alice = customer_headers(alice["id"])
    mine = list_invoices(client, as_alice)
    assert {i["customer_id"] for i in mine} == {alice["id"]} and len(mine) == 2
    assert list_invoices(client, as_alice, customer_id=bob["id"]) == []
    own = mine[0]["id"]
    assert client.get(f"/v1/invoices/{own}", headers=as_alice).status_code == 200
    assert client.get(f"/v1/invoices/{own}/pdf", headers=as_alice).status_code == 200
    for path in (
        f"/v1/invoices/{bob_january['id']}",
        f"/v1/invoices/{bob_january['id']}/pdf",
        f"/v1/credit-notes/{note['id']}",
        f"/v1/credit-notes/{note['id']}/pdf",
    ):
        response = client.get(path, headers=as_alice)
        assert response.status_code == 404, (path, response.text)
    as_bob = customer_headers(bob["id"])
    assert client.get(f"/v1/credit-notes/{note['id']}", headers=as_bob).status_code == 200


def test_late_work_after_the_last_invoice_of_an_ended_contract_is_billed(
    client: TestClient, finance: Headers
) -> None:
    contract = create_contract(client, finance, end_date="2026-01-31")
    run_billing(client, finance, "2026-01")
    late = post_work(client, finance, contract, "2026-01-20", 60, late=True)
    assert late["id"]  # accepted: 1 h at 110.00 is owed
    run_billing(client, finance, "2026-02")
    run_billing(client, finance, "2026-03")
    billed = [
        line
        for invoice in list_invoices(client, finance, contract_id=contract)
        for line in lines_of_kind(invoice, "late_work")
    ]
    assert [line["amount"] for line in billed] == ["110.00"]


def test_a_run_reads_its_jobs_a_bounded_number_of_times(
    client: TestClient, finance: Headers
) -> None:
    contracts = 12
    for _ in range(contracts):
        create_contract(client, finance)
    loaded: list[int] = []

    def count(target: BillingJob, context: object) -> None:
        loaded.append(1)

    sa.event.listen(BillingJob, "load", count)
    try:
        run = run_billing(client, finance, "2026-01")
    finally:
        sa.event.remove(BillingJob, "load", count)
    assert run["invoices"] == contracts
    # Claiming, finishing and a final summary: a few reads per job, not one per job per job.
    assert len(loaded) <= 4 * contracts, len(loaded)


def test_billing_reads_the_overage_totals_without_writing_them(
    client: TestClient, finance: Headers, session: Session
) -> None:
    """A period without overage has no totals row, and billing it writes none (a read, and one
    insert fewer per contract)."""
    contract = create_contract(client, finance)
    post_work(client, finance, contract, "2026-01-12", 60)
    run = run_billing(client, finance, "2026-01")
    assert (run["status"], run["invoices"]) == ("completed", 1)
    rows = session.scalar(
        sa.select(sa.func.count())
        .select_from(PeriodOverage)
        .where(PeriodOverage.contract_id == contract)  # type: ignore[arg-type]
    )
    assert rows == 0
