"""`/v1/contracts`: sign, read, list, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from app.dependencies import AnyRole, Finance, SessionDep
from app.pagination import Page, PageParams, make_page
from invoices.corrections import credit_unused_advance_fees
from ledger.contracts import cancellation, service
from ledger.contracts.schemas import ContractCancel, ContractCreate, ContractRead

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])


@router.post("", status_code=201, response_model=ContractRead)
def create_contract(body: ContractCreate, session: SessionDep, _: Finance) -> ContractRead:
    return service.to_read(session, service.create_contract(session, body))


@router.get("", response_model=Page[ContractRead])
def list_contracts(
    session: SessionDep,
    who: AnyRole,
    page: PageParams = Depends(),
    customer_id: int | None = Query(None),
) -> Page[ContractRead]:
    rows = service.list_contracts(
        session,
        after_id=page.after_id,
        limit=page.limit + 1,
        visible_to=who.visible_customer,
        customer_id=customer_id,
    )
    return make_page(rows, page, lambda c: service.to_read(session, c), lambda c: c.id or 0)


@router.get("/{contract_id}", response_model=ContractRead)
def get_contract(contract_id: int, session: SessionDep, who: AnyRole) -> ContractRead:
    contract = service.get_contract(session, contract_id, visible_to=who.visible_customer)
    return service.to_read(session, contract)


@router.post("/{contract_id}/cancel", response_model=ContractRead)
def cancel_contract(
    contract_id: int, body: ContractCancel, session: SessionDep, _: Finance
) -> ContractRead:
    """Ends the contract on `end_date` (inclusive); hours granted beyond it are taken back, and
    a fee already billed in advance for days it no longer covers is credited on the next
    invoice."""
    old_end = service.get_contract(session, contract_id).end_date
    contract = cancellation.cancel(session, contract_id, body.end_date)
    credit_unused_advance_fees(session, contract, old_end=old_end)
    return service.to_read(session, contract)
