"""`/v1/billing-runs`: the month-end job through the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import col, select

from app.billing import make_biller
from app.dependencies import Finance, SessionDep
from app.payments import app_gateway, collect_after_run
from invoices.queries import billing_run_to_read, preview_to_read
from invoices.runs import flows
from invoices.runs.models import BillingRun
from invoices.schemas import BillingRunCreate, BillingRunRead
from ledger.base import utcnow
from ledger.errors import NotFound
from ledger.money import format_amount
from ledger.periods import parse_month

router = APIRouter(prefix="/v1/billing-runs", tags=["billing"])


def _read(run: BillingRun, summary: dict[str, Any]) -> BillingRunRead:
    return billing_run_to_read(run, summary)


@router.post("", status_code=201, response_model=BillingRunRead)
def create_billing_run(body: BillingRunCreate, request: Request, _: Finance) -> BillingRunRead:
    """Runs the period to completion in this process (other workers may share it) and returns
    the summary. A dry run previews every invoice and writes nothing."""
    factory = request.app.state.session_factory
    month = parse_month(body.period)
    now = utcnow()
    biller = make_biller(request.app.state.settings, factory)
    if body.dry_run:
        result = flows.preview_run(biller, month, now=now)
        previews = result.previews
        totals: dict[str, int] = {}
        for p in previews:
            totals[p.currency] = totals.get(p.currency, 0) + p.total_minor
        return BillingRunRead(
            id=None,
            period=body.period,
            dry_run=True,
            status="preview",
            contracts=len({p.contract_id for p in previews}) + len(result.failures),
            invoices=len(previews),
            totals={c: format_amount(v, c) for c, v in sorted(totals.items())},
            failures=result.failures,
            previews=[preview_to_read(p) for p in previews],
        )
    run_id = flows.start_run(factory, month, now=now)
    flows.work_run(biller, run_id)
    collect_after_run(app_gateway(request), factory)
    session = factory()
    try:
        run = session.get(BillingRun, run_id)
        assert run is not None
        return _read(run, run.summary)
    finally:
        session.close()


@router.get("/{run_id}", response_model=BillingRunRead)
def get_billing_run(run_id: int, session: SessionDep, _: Finance) -> BillingRunRead:
    run = session.scalar(select(BillingRun).where(col(BillingRun.id) == run_id))
    if run is None:
        raise NotFound(f"no billing run {run_id}")
    summary = run.summary if run.status != "running" else flows.run_summary(session, run_id)
    return _read(run, summary)
