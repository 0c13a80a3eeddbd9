"""`/v1/billing-runs`: the month-end job through the API.

A run answers 202 at once and is billed in the background (the server's own worker thread and
any `hourglass billing worker`); a dry run answers 200 with every preview, writing nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.billing import make_biller
from app.dependencies import Finance, SessionDep
from app.pagination import Page, PageParams, make_page
from invoices.queries import billing_run_to_read, preview_to_read
from invoices.runs import flows
from invoices.runs.models import BillingRun
from invoices.schemas import BillingRunCreate, BillingRunRead
from ledger.base import unit_of_work, utcnow
from ledger.errors import NotFound
from ledger.money import format_amount
from ledger.periods import parse_month

router = APIRouter(prefix="/v1/billing-runs", tags=["billing"])


def _read(run: BillingRun, summary: dict[str, Any]) -> BillingRunRead:
    return billing_run_to_read(run, summary)


@router.post(
    "",
    status_code=202,
    response_model=BillingRunRead,
    responses={200: {"model": BillingRunRead, "description": "a dry run's previews"}},
)
def create_billing_run(
    body: BillingRunCreate, request: Request, response: Response, _: Finance
) -> BillingRunRead:
    """Starts the run (or resumes the running one of the period) and answers at once; follow
    it with `GET /v1/billing-runs/{id}`. A dry run previews every invoice and writes nothing."""
    factory = request.app.state.session_factory
    month = parse_month(body.period)
    now = utcnow()
    if body.dry_run:
        response.status_code = 200
        result = flows.preview_run(make_biller(request.app.state.settings, factory), month, now=now)
        previews = result.previews
        totals: dict[str, int] = {}
        for p in previews:
            totals[p.currency] = totals.get(p.currency, 0) + p.total_minor
        contracts = len({p.contract_id for p in previews}) + len(result.failures)
        return BillingRunRead(
            id=None,
            period=body.period,
            dry_run=True,
            status="preview",
            contracts=contracts,
            done=contracts - len(result.failures),
            failed=len(result.failures),
            invoices=len(previews),
            totals={c: format_amount(v, c) for c, v in sorted(totals.items())},
            failures=result.failures,
            previews=[preview_to_read(p) for p in previews],
        )
    run_id = flows.start_run(factory, month, now=now)
    with unit_of_work(factory) as session:
        run = session.get(BillingRun, run_id)
        assert run is not None
        return _shown(session, run)


@router.get("", response_model=Page[BillingRunRead])
def list_billing_runs(
    session: SessionDep, _: Finance, page: PageParams = Depends()
) -> Page[BillingRunRead]:
    """Newest first."""
    query = select(BillingRun).order_by(col(BillingRun.id).desc()).limit(page.limit + 1)
    if page.after_id is not None:
        query = query.where(col(BillingRun.id) < page.after_id)
    runs = session.scalars(query).all()
    return make_page(runs, page, lambda run: _shown(session, run), lambda run: run.id or 0)


def _shown(session: Session, run: BillingRun) -> BillingRunRead:
    """A finished run shows its stored summary; a running one its progress so far."""
    assert run.id is not None
    running = run.status == "running"
    return _read(run, flows.run_summary(session, run.id) if running else run.summary)


@router.get("/{run_id}", response_model=BillingRunRead)
def get_billing_run(run_id: int, session: SessionDep, _: Finance) -> BillingRunRead:
    run = session.scalar(select(BillingRun).where(col(BillingRun.id) == run_id))
    if run is None:
        raise NotFound(f"no billing run {run_id}")
    return _shown(session, run)
