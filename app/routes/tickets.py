"""`/v1/tickets` and a contract's monthly SLA report: thin routes over `ledger.sla.tickets`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.dependencies import AnyRole, FinanceOrSupport, SessionDep
from app.pagination import Page, PageParams, make_page
from ledger.base import utcnow
from ledger.contracts.service import get_contract, plan_of
from ledger.sla import tickets
from ledger.sla.schemas import (
    PauseClose,
    PauseCreate,
    SlaReportRead,
    TicketCreate,
    TicketRead,
    TicketRespond,
    month_query,
)

router = APIRouter(tags=["tickets"])

Month = Annotated[str, Query(description="calendar month, YYYY-MM", examples=["2026-12"])]


@router.post("/v1/tickets", status_code=201, response_model=TicketRead)
def create_ticket(body: TicketCreate, session: SessionDep, _: FinanceOrSupport) -> TicketRead:
    return tickets.to_read(session, tickets.create_ticket(session, body), now=utcnow())


@router.get("/v1/tickets", response_model=Page[TicketRead])
def list_tickets(
    session: SessionDep,
    who: AnyRole,
    page: PageParams = Depends(),
    contract_id: int | None = Query(None),
) -> Page[TicketRead]:
    rows = tickets.list_tickets(
        session,
        after_id=page.after_id,
        limit=page.limit + 1,
        visible_to=who.visible_customer,
        contract_id=contract_id,
    )
    reads = {read.id: read for read in tickets.to_reads(session, rows, now=utcnow())}
    return make_page(rows, page, lambda row: reads[row.id or 0], lambda row: row.id or 0)


@router.get("/v1/tickets/{ticket_id}", response_model=TicketRead)
def get_ticket(ticket_id: int, session: SessionDep, who: AnyRole) -> TicketRead:
    ticket = tickets.get_ticket(session, ticket_id, visible_to=who.visible_customer)
    return tickets.to_read(session, ticket, now=utcnow())


@router.post("/v1/tickets/{ticket_id}/response", response_model=TicketRead)
def record_response(
    ticket_id: int, body: TicketRespond, session: SessionDep, _: FinanceOrSupport
) -> TicketRead:
    ticket = tickets.record_response(session, ticket_id, body)
    return tickets.to_read(session, ticket, now=utcnow())


@router.post("/v1/tickets/{ticket_id}/pauses", status_code=201, response_model=TicketRead)
def add_pause(
    ticket_id: int, body: PauseCreate, session: SessionDep, _: FinanceOrSupport
) -> TicketRead:
    tickets.add_pause(session, ticket_id, body)
    return tickets.to_read(session, tickets.get_ticket(session, ticket_id), now=utcnow())


@router.patch("/v1/tickets/{ticket_id}/pauses/{pause_id}", response_model=TicketRead)
def close_pause(
    ticket_id: int, pause_id: int, body: PauseClose, session: SessionDep, _: FinanceOrSupport
) -> TicketRead:
    tickets.close_pause(session, ticket_id, pause_id, body)
    return tickets.to_read(session, tickets.get_ticket(session, ticket_id), now=utcnow())


@router.get("/v1/contracts/{contract_id}/sla-report", response_model=SlaReportRead)
def get_sla_report(
    contract_id: int, month: Month, session: SessionDep, who: AnyRole
) -> SlaReportRead:
    contract = get_contract(session, contract_id, visible_to=who.visible_customer)
    month_first_day = month_query(month)
    plan = plan_of(session, contract)
    report = tickets.sla_report(session, contract, plan, month_first_day, now=utcnow())
    return tickets.sla_report_to_read(contract, plan, month_first_day, report)
