"""Tickets: due times on the plan's calendar, first responses, pauses and the monthly report.

Choices where the SPEC is silent (see also `ledger.sla.response`):
- A ticket needs a response target: a severity the contract's plan sets no target for is
  refused, as is an opening time outside the contract or a reference already used on it.
- Pauses cannot start before the ticket was opened, nor at or after its first response (the
  clock has stopped by then). At most one pause may be open at a time; it is closed with
  `PATCH /v1/tickets/{id}/pauses/{pause_id}`.
- `due_at` is stored and recomputed from all the pauses whenever one is added or closed; the
  status (open, met, breached) is computed when read, against `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger.bulk import one_of
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.contracts.service import get_contract, plan_of
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.money import format_amount
from ledger.periods import month_label
from ledger.sla import terms
from ledger.sla.availability import month_bounds
from ledger.sla.coverage import check_instant_covered, check_month_covered
from ledger.sla.models import Ticket, TicketPause
from ledger.sla.response import (
    ResponseTarget,
    Severity,
    SeverityReport,
    monthly_sla_report,
    response_due_at,
    ticket_status,
)
from ledger.sla.schemas import (
    PauseClose,
    PauseCreate,
    PauseRead,
    SeverityReportRead,
    SlaReportRead,
    TicketCreate,
    TicketRead,
    TicketRespond,
)


def _target(plan: Plan, severity: str) -> ResponseTarget:
    target = terms.response_targets(plan).get(severity)
    if target is None:
        raise InvalidInput(
            f"plan {plan.code!r} (version {plan.version}) sets no response target for {severity}",
            field="severity",
        )
    return target


def _due_at(
    contract: Contract, plan: Plan, ticket: Ticket, pauses: Sequence[TicketPause]
) -> datetime | None:
    return response_due_at(
        severity=ticket.severity,
        opened_at=ticket.opened_at,
        targets={ticket.severity: _target(plan, ticket.severity)},
        timezone=contract.timezone,
        holiday_region=contract.holiday_region or None,
        business_hours=terms.business_hours(plan),
        pauses=[(pause.started_at, pause.ended_at) for pause in pauses],
    )


def create_ticket(session: Session, data: TicketCreate) -> Ticket:
    try:
        contract = get_contract(session, data.contract_id)
    except NotFound as exc:
        raise InvalidInput(exc.detail, field="contract_id") from exc
    plan = plan_of(session, contract)
    _target(plan, data.severity)
    check_instant_covered(contract, data.opened_at, field="opened_at")
    assert contract.id is not None
    if _ticket_by_reference(session, contract.id, data.reference) is not None:
        raise _duplicate_reference(contract.id, data.reference)
    ticket = Ticket(
        contract_id=contract.id,
        severity=data.severity,
        reference=data.reference,
        opened_at=data.opened_at,
    )
    ticket.due_at = _due_at(contract, plan, ticket, [])
    try:
        with session.begin_nested():
            session.add(ticket)
    except IntegrityError as exc:  # the same reference posted twice at once
        raise _duplicate_reference(contract.id, data.reference) from exc
    return ticket


def _ticket_by_reference(session: Session, contract_id: int, reference: str) -> Ticket | None:
    return session.scalar(
        select(Ticket).where(
            col(Ticket.contract_id) == contract_id, col(Ticket.reference) == reference
        )
    )


def _duplicate_reference(contract_id: int, reference: str) -> Conflict:
    return Conflict(
        f"contract {contract_id} already has a ticket with reference {reference!r}",
        field="reference",
    )


def get_ticket(
    session: Session, ticket_id: int, *, visible_to: int | None = None, for_update: bool = False
) -> Ticket:
    """`visible_to` is the customer a customer token is bound to: anything else is not found."""
    query = select(Ticket).where(col(Ticket.id) == ticket_id)
    if for_update:
        query = query.with_for_update()
    ticket = session.scalar(query)
    if ticket is not None and visible_to is not None:
        contract = session.get(Contract, ticket.contract_id)
        if contract is None or contract.customer_id != visible_to:
            ticket = None
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    if for_update:
        session.refresh(ticket)
    return ticket


def pauses_of(session: Session, ticket_id: int) -> list[TicketPause]:
    return list(
        session.scalars(
            select(TicketPause)
            .where(col(TicketPause.ticket_id) == ticket_id)
            .order_by(col(TicketPause.started_at), col(TicketPause.id))
        )
    )


def record_response(session: Session, ticket_id: int, data: TicketRespond) -> Ticket:
    """The first response; a ticket has only one, so a second is refused."""
    ticket = get_ticket(session, ticket_id, for_update=True)
    if ticket.responded_at is not None:
        raise Conflict(
            f"ticket {ticket_id} already has its first response, "
            f"at {ticket.responded_at.isoformat()}",
            field="responded_at",
        )
    if data.responded_at < ticket.opened_at:
        raise InvalidInput(
            f"must not be before opened_at ({ticket.opened_at.isoformat()})",
            field="responded_at",
        )
    ticket.responded_at = data.responded_at
    session.flush()
    return ticket


def add_pause(session: Session, ticket_id: int, data: PauseCreate) -> TicketPause:
    ticket = get_ticket(session, ticket_id, for_update=True)
    if data.started_at < ticket.opened_at:
        raise InvalidInput(
            f"a pause must not start before the ticket was opened ({ticket.opened_at.isoformat()})",
            field="started_at",
        )
    if ticket.responded_at is not None and data.started_at >= ticket.responded_at:
        raise InvalidInput(
            f"a pause must start before the first response ({ticket.responded_at.isoformat()})",
            field="started_at",
        )
    pauses = pauses_of(session, ticket_id)
    still_open = next((pause for pause in pauses if pause.ended_at is None), None)
    if data.ended_at is None and still_open is not None:
        raise Conflict(
            f"ticket {ticket_id} already waits on the customer since "
            f"{still_open.started_at.isoformat()} (pause {still_open.id}); close that pause first",
            field="ended_at",
        )
    pause = TicketPause(ticket_id=ticket_id, started_at=data.started_at, ended_at=data.ended_at)
    session.add(pause)
    _recompute_due(session, ticket, [*pauses, pause])
    return pause


def close_pause(session: Session, ticket_id: int, pause_id: int, data: PauseClose) -> TicketPause:
    ticket = get_ticket(session, ticket_id, for_update=True)
    pauses = pauses_of(session, ticket_id)
    pause = next((p for p in pauses if p.id == pause_id), None)
    if pause is None:
        raise NotFound(f"ticket {ticket_id} has no pause {pause_id}")
    if pause.ended_at is not None:
        raise Conflict(
            f"pause {pause_id} already ended at {pause.ended_at.isoformat()}", field="ended_at"
        )
    if data.ended_at <= pause.started_at:
        raise InvalidInput(
            f"must be after the pause's started_at ({pause.started_at.isoformat()})",
            field="ended_at",
        )
    pause.ended_at = data.ended_at
    _recompute_due(session, ticket, pauses)
    return pause


def _recompute_due(session: Session, ticket: Ticket, pauses: Sequence[TicketPause]) -> None:
    contract = get_contract(session, ticket.contract_id)
    ticket.due_at = _due_at(contract, plan_of(session, contract), ticket, pauses)
    session.flush()


def list_tickets(
    session: Session,
    *,
    after_id: int | None,
    limit: int,
    visible_to: int | None = None,
    contract_id: int | None = None,
) -> Sequence[Ticket]:
    query = select(Ticket).order_by(col(Ticket.id))
    if after_id is not None:
        query = query.where(col(Ticket.id) > after_id)
    if contract_id is not None:
        query = query.where(col(Ticket.contract_id) == contract_id)
    if visible_to is not None:
        query = query.where(
            col(Ticket.contract_id).in_(
                select(col(Contract.id)).where(col(Contract.customer_id) == visible_to)
            )
        )
    return session.scalars(query.limit(limit)).all()


def to_reads(session: Session, tickets: Sequence[Ticket], *, now: datetime) -> list[TicketRead]:
    ids = [ticket.id for ticket in tickets]
    pauses: dict[int, list[TicketPause]] = {}
    for pause in session.scalars(
        select(TicketPause)
        .where(col(TicketPause.ticket_id).in_(ids))
        .order_by(col(TicketPause.started_at), col(TicketPause.id))
    ):
        pauses.setdefault(pause.ticket_id, []).append(pause)
    reads = []
    for ticket in tickets:
        assert ticket.id is not None
        contract = get_contract(session, ticket.contract_id)
        target = _target(plan_of(session, contract), ticket.severity)
        reads.append(
            TicketRead(
                id=ticket.id,
                contract_id=ticket.contract_id,
                severity=ticket.severity,  # type: ignore[arg-type]
                reference=ticket.reference,
                opened_at=ticket.opened_at,
                target_minutes=target.minutes,
                calendar=target.calendar,
                due_at=ticket.due_at,
                responded_at=ticket.responded_at,
                status=ticket_status(
                    due_at=ticket.due_at, responded_at=ticket.responded_at, now=now
                ),
                pauses=[
                    PauseRead(id=p.id or 0, started_at=p.started_at, ended_at=p.ended_at)
                    for p in pauses.get(ticket.id, [])
                ],
                created_at=ticket.created_at,
            )
        )
    return reads


def to_read(session: Session, ticket: Ticket, *, now: datetime) -> TicketRead:
    return to_reads(session, [ticket], now=now)[0]


@dataclass(frozen=True)
class SlaReport:
    """A contract's first-response figures for one month, as the invoice and the API show them."""

    severities: dict[Severity, SeverityReport]
    breached: int
    # Breached tickets × the plan's credit per breach; None when the plan attaches none.
    breach_credit_minor: int | None


class TicketTimes(NamedTuple):
    """What the monthly report reads of a ticket."""

    contract_id: int
    severity: str
    opened_at: datetime
    due_at: datetime | None
    responded_at: datetime | None


def ticket_times(
    session: Session, contract_ids: Iterable[int], start: datetime, end: datetime
) -> list[TicketTimes]:
    """The contracts' tickets opened in [start, end), in one query: a month's for one
    contract, or all that a chunk of contracts' periods need at once."""
    rows = session.execute(
        sa.select(
            col(Ticket.contract_id),
            col(Ticket.severity),
            col(Ticket.opened_at),
            col(Ticket.due_at),
            col(Ticket.responded_at),
        )
        .where(
            one_of(session, col(Ticket.contract_id), sorted(set(contract_ids))),
            col(Ticket.opened_at) >= start,
            col(Ticket.opened_at) < end,
        )
        .order_by(col(Ticket.id))
    ).all()
    return [TicketTimes(*row) for row in rows]


def sla_report(
    session: Session,
    contract: Contract,
    plan: Plan,
    month_first_day: date,
    *,
    now: datetime,
    tickets: Sequence[TicketTimes] | None = None,
) -> SlaReport:
    """Tickets opened in the month (contract time zone), judged against `now`.

    `tickets` are the contract's tickets already read (`ticket_times`, a superset of the
    month's is fine); without them the month's are read here."""
    check_month_covered(contract, month_first_day)
    if tickets is None:
        assert contract.id is not None
        month_start, month_end = month_bounds(
            month_first_day.year, month_first_day.month, contract.timezone
        )
        tickets = ticket_times(session, [contract.id], month_start, month_end)
    severities = monthly_sla_report(
        [
            (
                ticket.severity,
                ticket.opened_at,
                ticket_status(due_at=ticket.due_at, responded_at=ticket.responded_at, now=now),
            )
            for ticket in tickets
            if ticket.contract_id == contract.id
        ],
        month=(month_first_day.year, month_first_day.month),
        timezone=contract.timezone,
    )
    breached = sum(report.breached for report in severities.values())
    credit = plan.credit_per_breach_minor
    return SlaReport(
        severities=severities,
        breached=breached,
        breach_credit_minor=None if credit is None else breached * credit,
    )


def sla_report_to_read(
    contract: Contract, plan: Plan, month_first_day: date, report: SlaReport
) -> SlaReportRead:
    assert contract.id is not None
    currency = contract.currency
    per_breach = plan.credit_per_breach_minor
    return SlaReportRead(
        contract_id=contract.id,
        month=month_label(month_first_day),
        currency=currency,
        severities={
            severity: SeverityReportRead(
                tickets=line.tickets,
                met=line.met,
                breached=line.breached,
                percent_met=None if line.percent_met is None else str(line.percent_met),
            )
            for severity, line in report.severities.items()
        },
        breached=report.breached,
        credit_per_breach=None if per_breach is None else format_amount(per_breach, currency),
        breach_credit_amount=(
            None
            if report.breach_credit_minor is None
            else format_amount(report.breach_credit_minor, currency)
        ),
    )
