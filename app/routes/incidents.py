"""`/v1/incidents` and a contract's monthly availability (`ledger.sla.incidents`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.dependencies import AnyRole, FinanceOrSupport, SessionDep
from app.pagination import Page, PageParams, make_page
from invoices.fees import month_fee_charged_minor
from ledger.base import utcnow
from ledger.contracts.service import get_contract, plan_of
from ledger.sla import incidents
from ledger.sla.schemas import (
    AvailabilityRead,
    IncidentClose,
    IncidentCreate,
    IncidentRead,
    month_query,
)

router = APIRouter(tags=["incidents"])

Month = Annotated[str, Query(description="calendar month, YYYY-MM", examples=["2026-04"])]


@router.post("/v1/incidents", status_code=201, response_model=IncidentRead)
def create_incident(body: IncidentCreate, session: SessionDep, _: FinanceOrSupport) -> IncidentRead:
    incident = incidents.create_incident(session, body)
    return incidents.to_reads(session, [incident])[0]


@router.get("/v1/incidents", response_model=Page[IncidentRead])
def list_incidents(
    session: SessionDep,
    _: FinanceOrSupport,
    page: PageParams = Depends(),
    component: str | None = Query(None, description="only incidents of this component"),
    month: str | None = Query(None, description="only incidents touching this UTC month, YYYY-MM"),
) -> Page[IncidentRead]:
    rows = incidents.list_incidents(
        session,
        after_id=page.after_id,
        limit=page.limit + 1,
        component=component,
        month_first_day=None if month is None else month_query(month),
    )
    reads = {read.id: read for read in incidents.to_reads(session, rows)}
    return make_page(rows, page, lambda row: reads[row.id or 0], lambda row: row.id or 0)


@router.get("/v1/incidents/{incident_id}", response_model=IncidentRead)
def get_incident(incident_id: int, session: SessionDep, _: FinanceOrSupport) -> IncidentRead:
    return incidents.to_reads(session, [incidents.get_incident(session, incident_id)])[0]


@router.patch("/v1/incidents/{incident_id}", response_model=IncidentRead)
def close_incident(
    incident_id: int, body: IncidentClose, session: SessionDep, _: FinanceOrSupport
) -> IncidentRead:
    incident = incidents.close_incident(session, incident_id, body)
    return incidents.to_reads(session, [incident])[0]


@router.get("/v1/contracts/{contract_id}/availability", response_model=AvailabilityRead)
def get_availability(
    contract_id: int, month: Month, session: SessionDep, who: AnyRole
) -> AvailabilityRead:
    contract = get_contract(session, contract_id, visible_to=who.visible_customer)
    month_first_day = month_query(month)
    plan = plan_of(session, contract)
    fee_charged_minor = month_fee_charged_minor(contract, plan, month_first_day)
    report = incidents.availability_report(
        session, contract, plan, month_first_day, fee_charged_minor=fee_charged_minor, now=utcnow()
    )
    return incidents.availability_to_read(
        contract, month_first_day, report, fee_charged_minor=fee_charged_minor
    )
