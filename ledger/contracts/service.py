"""Sign, cancel and read contracts."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.base import utcnow
from ledger.catalog.models import Plan
from ledger.catalog.service import get_latest_plan
from ledger.contracts.models import Contract
from ledger.contracts.schemas import ContractCreate, ContractRead
from ledger.customers.service import get_customer
from ledger.errors import InvalidInput, NotFound
from ledger.units import hours_to_minutes


def create_contract(session: Session, data: ContractCreate) -> Contract:
    try:
        customer = get_customer(session, data.customer_id)
    except NotFound as exc:
        raise InvalidInput(exc.detail, field="customer_id") from exc
    try:
        plan = get_latest_plan(session, data.plan_code)
    except NotFound as exc:
        raise InvalidInput(exc.detail, field="plan_code") from exc
    contract = Contract(
        customer_id=data.customer_id,
        plan_id=_id(plan.id),
        plan_code=plan.code,
        currency=plan.currency,
        timezone=data.timezone or customer.timezone,
        holiday_region=data.holiday_region or customer.holiday_region,
        start_date=data.start_date,
        end_date=data.end_date,
        committed_months=data.committed_months,
        overage_cap_minutes=(
            None if data.overage_cap_hours is None else hours_to_minutes(data.overage_cap_hours)
        ),
    )
    session.add(contract)
    session.flush()
    return contract


def get_contract(session: Session, contract_id: int, *, visible_to: int | None = None) -> Contract:
    """`visible_to` is the customer a customer token is bound to: anything else is not found."""
    contract = session.get(Contract, contract_id)
    if contract is None or (visible_to is not None and contract.customer_id != visible_to):
        raise NotFound(f"no contract {contract_id}")
    return contract


def lock_contract(session: Session, contract_id: int) -> Contract:
    """Take the contract's row lock: every write to its hours or invoices goes one at a time.

    PostgreSQL holds `FOR UPDATE` until commit; SQLite already runs one writer at a time.
    The locked read also refreshes a contract the session already held (`populate_existing`):
    what was read before the lock may be stale.
    """
    contract = session.scalar(
        select(Contract)
        .where(col(Contract.id) == contract_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if contract is None:
        raise NotFound(f"no contract {contract_id}")
    return contract


def lock_contract_and_plan(session: Session, contract_id: int) -> tuple[Contract, Plan]:
    """`lock_contract` and `plan_of` in one query; only the contract's row is locked (a plan
    version is shared by many contracts and never changes). The statement is built once: every
    single work-entry post starts with it, and building it cost more CPU than running it."""
    row = session.execute(_lock_contract_and_plan(), {"contract_id": contract_id}).first()
    if row is None:
        raise NotFound(f"no contract {contract_id}")
    return row[0], row[1]


@functools.cache
def _lock_contract_and_plan() -> Any:  # a sqlmodel Select of (Contract, Plan)
    contract_id = sa.bindparam("contract_id", type_=Contract.__table__.c.id.type)  # type: ignore[attr-defined]
    return (
        select(Contract, Plan)
        .join(Plan, col(Plan.id) == col(Contract.plan_id))
        .where(col(Contract.id) == contract_id)
        .with_for_update(of=Contract)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )


def lock_contracts_and_plans(
    session: Session, contract_ids: Iterable[int]
) -> dict[int, tuple[Contract, Plan]]:
    """`lock_contract_and_plan` for several contracts in one query, locked in id order (so two
    callers can never deadlock each other); the first missing id in that order is refused."""
    ids = sorted(set(contract_ids))
    rows = session.execute(
        select(Contract, Plan)
        .join(Plan, col(Plan.id) == col(Contract.plan_id))
        .where(col(Contract.id).in_(ids))
        .order_by(col(Contract.id))
        .with_for_update(of=Contract)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    ).all()
    found: dict[int, tuple[Contract, Plan]] = {}
    for contract, plan in rows:
        assert contract.id is not None
        found[contract.id] = (contract, plan)
    for contract_id in ids:
        if contract_id not in found:
            raise NotFound(f"no contract {contract_id}")
    return {contract_id: found[contract_id] for contract_id in ids}


def list_contracts(
    session: Session,
    *,
    after_id: int | None,
    limit: int,
    visible_to: int | None = None,
    customer_id: int | None = None,
) -> Sequence[Contract]:
    query = select(Contract).order_by(col(Contract.id))
    if after_id is not None:
        query = query.where(col(Contract.id) > after_id)
    if visible_to is not None:
        query = query.where(col(Contract.customer_id) == visible_to)
    if customer_id is not None:
        query = query.where(col(Contract.customer_id) == customer_id)
    return session.scalars(query.limit(limit)).all()


def cancel_contract(session: Session, contract: Contract, end_date_value: date) -> Contract:
    if end_date_value < contract.start_date:
        raise InvalidInput("end_date cannot be before the contract's start_date", field="end_date")
    if contract.end_date is not None and end_date_value > contract.end_date:
        raise InvalidInput(
            "end_date cannot be after the contract's current end_date", field="end_date"
        )
    contract.end_date = end_date_value
    contract.status = "cancelled"
    contract.cancelled_at = utcnow()
    session.flush()
    return contract


def plan_of(session: Session, contract: Contract) -> Plan:
    plan = session.get(Plan, contract.plan_id)
    assert plan is not None
    return plan


def to_read(session: Session, contract: Contract) -> ContractRead:
    assert contract.id is not None
    plan = plan_of(session, contract)
    return ContractRead(
        id=contract.id,
        customer_id=contract.customer_id,
        plan_code=contract.plan_code,
        plan_name=plan.name,
        plan_version=plan.version,
        plan_id=contract.plan_id,
        currency=contract.currency,
        period=plan.period,
        timezone=contract.timezone,
        holiday_region=contract.holiday_region,
        start_date=contract.start_date,
        end_date=contract.end_date,
        committed_months=contract.committed_months,
        overage_cap_minutes=contract.overage_cap_minutes,
        status=contract.status,
        created_at=contract.created_at,
    )


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value
