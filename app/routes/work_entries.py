"""Work entries: post (one or a batch), list, read, reverse."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from app.auth.tokens import Principal, Role
from app.dependencies import AnyRole, FinanceOrSupport, SessionDep
from app.pagination import Page, PageParams, make_page
from ledger.contracts.service import get_contract
from ledger.errors import InvalidInput
from ledger.hours import work
from ledger.hours.schemas import WorkEntryBatch, WorkEntryCreate, WorkEntryRead
from ledger.periods import add_months, parse_month

router = APIRouter(tags=["work entries"])


def _may_approve(who: Principal, approved: bool) -> None:
    if approved and who.role is not Role.FINANCE:
        raise HTTPException(403, "only finance can approve overage beyond the cap")


@router.post(
    "/v1/contracts/{contract_id}/work-entries", status_code=201, response_model=WorkEntryRead
)
def post_work_entry(
    contract_id: int,
    body: WorkEntryCreate,
    who: FinanceOrSupport,
    session: SessionDep,
) -> object:
    _may_approve(who, body.approved_overage)
    return work.post_and_read(session, contract_id, body)[1]


@router.post("/v1/work-entries/batch", status_code=201, response_model=Page[WorkEntryRead])
def post_work_entries_batch(
    body: WorkEntryBatch,
    who: FinanceOrSupport,
    session: SessionDep,
) -> object:
    """All or nothing: one refused entry refuses the whole batch, naming its index."""
    for item in body.entries:
        _may_approve(who, item.approved_overage)
    # Each item is a WorkEntryCreate already (validated once, its contract_id read apart).
    items = [(item.contract_id, item) for item in body.entries]
    return {"items": work.post_batch_and_read(session, items), "next_cursor": None}


@router.get("/v1/contracts/{contract_id}/work-entries", response_model=Page[WorkEntryRead])
def list_work_entries(
    contract_id: int,
    session: SessionDep,
    who: AnyRole,
    page: PageParams = Depends(),
    month: str | None = Query(None, description="YYYY-MM: only work dated in this month"),
) -> Page[WorkEntryRead]:
    get_contract(session, contract_id, visible_to=who.visible_customer)
    start = end = None
    if month is not None:
        try:
            start = parse_month(month)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="month") from exc
        end = add_months(start, 1)
    rows = work.list_work_entries(
        session,
        contract_id,
        month_start=start,
        month_end=end,
        after_id=page.after_id,
        limit=page.limit + 1,
    )
    reads = work.to_reads(session, rows)
    return make_page(reads, page, lambda r: r, lambda r: r.id)


@router.get("/v1/work-entries/{work_entry_id}", response_model=WorkEntryRead)
def get_work_entry(work_entry_id: int, session: SessionDep, who: AnyRole) -> WorkEntryRead:
    entry = work.get_work_entry(session, work_entry_id, visible_to=who.visible_customer)
    return work.to_reads(session, [entry])[0]


@router.post(
    "/v1/work-entries/{work_entry_id}/reversal", status_code=201, response_model=WorkEntryRead
)
def reverse_work_entry(
    work_entry_id: int,
    _: FinanceOrSupport,
    session: SessionDep,
) -> object:
    reversal = work.reverse_work(session, work_entry_id)
    return work.to_reads(session, [reversal])[0]
