"""`/v1/contracts/{id}/contacts`: a contract's authorized contacts (`ledger.sla.contacts`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from app.dependencies import AnyRole, Finance, SessionDep
from app.pagination import Page, PageParams, make_page
from ledger.contracts.service import get_contract
from ledger.sla import contacts
from ledger.sla.schemas import ContactCreate, ContactRead

router = APIRouter(prefix="/v1/contracts/{contract_id}/contacts", tags=["contacts"])


@router.post("", status_code=201, response_model=ContactRead)
def add_contact(
    contract_id: int, body: ContactCreate, session: SessionDep, _: Finance
) -> ContactRead:
    return contacts.to_read(contacts.add_contact(session, contract_id, body))


@router.get("", response_model=Page[ContactRead])
def list_contacts(
    contract_id: int, session: SessionDep, who: AnyRole, page: PageParams = Depends()
) -> Page[ContactRead]:
    get_contract(session, contract_id, visible_to=who.visible_customer)
    rows = contacts.list_contacts(
        session, contract_id, after_id=page.after_id, limit=page.limit + 1
    )
    return make_page(rows, page, contacts.to_read, lambda row: row.id or 0)


@router.delete("/{contact_id}", status_code=204, response_class=Response)
def remove_contact(contract_id: int, contact_id: int, session: SessionDep, _: Finance) -> None:
    contacts.remove_contact(session, contract_id, contact_id)
