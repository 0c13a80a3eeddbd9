"""Authorized contacts: the people of a customer who may open tickets on a contract.

A plan may cap how many a contract has (seed 000: 1, 2 or 3; None = no cap). Adding and removing
take the contract's row lock first, so two requests racing for the last slot are served one
after the other and the second sees the first's contact. Contacts are plain reference data, not
money: a removed contact is deleted, which frees its slot.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.contracts.service import lock_contract, plan_of
from ledger.errors import Conflict, LimitExceeded, NotFound
from ledger.sla.models import AuthorizedContact
from ledger.sla.schemas import ContactCreate, ContactRead


def add_contact(session: Session, contract_id: int, data: ContactCreate) -> AuthorizedContact:
    contract = lock_contract(session, contract_id)
    plan = plan_of(session, contract)
    limit = plan.authorized_contacts
    count = session.scalar(
        select(func.count())
        .select_from(AuthorizedContact)
        .where(col(AuthorizedContact.contract_id) == contract_id)
    )
    if limit is not None and (count or 0) >= limit:
        raise LimitExceeded(
            f"plan {plan.code!r} allows {limit} authorized contact{'' if limit == 1 else 's'}; "
            f"contract {contract_id} has {count}: remove one before adding another"
        )
    duplicate = session.scalar(
        select(AuthorizedContact).where(
            col(AuthorizedContact.contract_id) == contract_id,
            col(AuthorizedContact.email) == data.email,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"{data.email} is already an authorized contact of contract {contract_id} "
            f"(contact {duplicate.id})",
            field="email",
        )
    contact = AuthorizedContact(
        contract_id=contract_id, name=data.name, email=data.email, phone=data.phone
    )
    session.add(contact)
    session.flush()
    return contact


def list_contacts(
    session: Session, contract_id: int, *, after_id: int | None, limit: int
) -> Sequence[AuthorizedContact]:
    query = (
        select(AuthorizedContact)
        .where(col(AuthorizedContact.contract_id) == contract_id)
        .order_by(col(AuthorizedContact.id))
    )
    if after_id is not None:
        query = query.where(col(AuthorizedContact.id) > after_id)
    return session.scalars(query.limit(limit)).all()


def remove_contact(session: Session, contract_id: int, contact_id: int) -> None:
    lock_contract(session, contract_id)
    contact = session.get(AuthorizedContact, contact_id)
    if contact is None or contact.contract_id != contract_id:
        raise NotFound(f"contract {contract_id} has no authorized contact {contact_id}")
    session.delete(contact)
    session.flush()


def to_read(contact: AuthorizedContact) -> ContactRead:
    assert contact.id is not None
    return ContactRead(
        id=contact.id,
        contract_id=contact.contract_id,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        created_at=contact.created_at,
    )
