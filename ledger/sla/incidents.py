"""Record incidents and turn them into a contract's monthly availability and service credits.

Choices where the SPEC is silent:
- Component names are service-wide, but an incident must name components some plan (any
  version) has: a misspelt name would otherwise affect no contract and silently cost nobody a
  credit. Adding the component to a plan first is the way to record downtime of a new one.
- A contract's availability counts only downtime inside the time it covers (from local
  midnight of its start date to local midnight after its end date), measured against all the
  minutes of the calendar month as the SPEC's formula states; a month the contract does not
  touch at all is refused rather than reported as a perfect 100 %.
- The `month` filter of the incident list is a UTC calendar month: incidents are service-wide
  and have no time zone of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session
from sqlmodel import col, or_, select

from ledger.base import utcnow
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.money import format_amount
from ledger.periods import add_months, month_label
from ledger.sla import terms
from ledger.sla.availability import ComponentAvailability, month_bounds, monthly_availability_report
from ledger.sla.coverage import check_month_covered, covered_instants
from ledger.sla.models import Incident, IncidentComponent
from ledger.sla.schemas import (
    AvailabilityRead,
    ComponentAvailabilityRead,
    IncidentClose,
    IncidentCreate,
    IncidentRead,
)


def known_components(session: Session) -> set[str]:
    """Every component name any plan version has: the service's components."""
    return {
        str(component["name"])
        for components in session.scalars(select(col(Plan.components)))
        for component in components
    }


# SPEC "Units and money", bounds: a clock a little ahead is forgiven, a date in the future is not.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _check_not_ahead(instant: datetime, field: str) -> None:
    latest = utcnow() + FUTURE_TOLERANCE
    if instant > latest:
        raise InvalidInput(
            f"{instant.isoformat()} is in the future: an incident is recorded once it has "
            "started (and its end once it has ended)",
            field=field,
        )


def create_incident(session: Session, data: IncidentCreate) -> Incident:
    _check_not_ahead(data.started_at, "started_at")
    if data.ended_at is not None:
        _check_not_ahead(data.ended_at, "ended_at")
    unknown = sorted(set(data.components) - known_components(session))
    if unknown:
        known = ", ".join(sorted(known_components(session))) or "none"
        raise InvalidInput(
            f"no plan has a component named {', '.join(map(repr, unknown))} (known: {known})",
            field="components",
        )
    incident = Incident(
        started_at=data.started_at,
        ended_at=data.ended_at,
        scheduled=data.scheduled,
        description=data.description,
    )
    session.add(incident)
    session.flush()
    assert incident.id is not None
    for name in data.components:
        session.add(IncidentComponent(incident_id=incident.id, component=name))
    session.flush()
    return incident


def get_incident(session: Session, incident_id: int, *, for_update: bool = False) -> Incident:
    query = select(Incident).where(col(Incident.id) == incident_id)
    if for_update:
        query = query.with_for_update()
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    if for_update:
        session.refresh(incident)
    return incident


def close_incident(session: Session, incident_id: int, data: IncidentClose) -> Incident:
    """Record the end of an incident that is still open; an ended incident is not rewritten."""
    _check_not_ahead(data.ended_at, "ended_at")
    incident = get_incident(session, incident_id, for_update=True)
    if incident.ended_at is not None:
        raise Conflict(
            f"incident {incident_id} already ended at {incident.ended_at.isoformat()}",
            field="ended_at",
        )
    if data.ended_at <= incident.started_at:
        raise InvalidInput(
            f"must be after started_at ({incident.started_at.isoformat()})", field="ended_at"
        )
    incident.ended_at = data.ended_at
    session.flush()
    return incident


def list_incidents(
    session: Session,
    *,
    after_id: int | None,
    limit: int,
    component: str | None = None,
    month_first_day: date | None = None,
) -> Sequence[Incident]:
    query = select(Incident).order_by(col(Incident.id))
    if after_id is not None:
        query = query.where(col(Incident.id) > after_id)
    if component is not None:
        query = query.where(
            col(Incident.id).in_(
                select(col(IncidentComponent.incident_id)).where(
                    col(IncidentComponent.component) == component
                )
            )
        )
    if month_first_day is not None:
        start = datetime.combine(month_first_day, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(add_months(month_first_day, 1), datetime.min.time(), tzinfo=UTC)
        query = query.where(
            col(Incident.started_at) < end,
            or_(col(Incident.ended_at).is_(None), col(Incident.ended_at) > start),
        )
    return session.scalars(query.limit(limit)).all()


def to_reads(session: Session, incidents: Sequence[Incident]) -> list[IncidentRead]:
    ids = [incident.id for incident in incidents]
    names: dict[int, list[str]] = {}
    for row in session.scalars(
        select(IncidentComponent)
        .where(col(IncidentComponent.incident_id).in_(ids))
        .order_by(col(IncidentComponent.id))
    ):
        names.setdefault(row.incident_id, []).append(row.component)
    reads = []
    for incident in incidents:
        assert incident.id is not None
        reads.append(
            IncidentRead(
                id=incident.id,
                components=names.get(incident.id, []),
                started_at=incident.started_at,
                ended_at=incident.ended_at,
                scheduled=incident.scheduled,
                description=incident.description,
                created_at=incident.created_at,
            )
        )
    return reads


IncidentRow = tuple[str, datetime, datetime | None, bool]
"""One component an incident took down: (component, started_at, ended_at, scheduled)."""


def incident_rows(
    session: Session, names: Iterable[str], start: datetime, end: datetime
) -> list[IncidentRow]:
    """The named components' incidents touching [start, end), in one query: a month's, or
    all that a chunk of contracts' periods need at once."""
    rows = session.execute(
        select(
            col(IncidentComponent.component),
            col(Incident.started_at),
            col(Incident.ended_at),
            col(Incident.scheduled),
        )
        .join(Incident, col(Incident.id) == col(IncidentComponent.incident_id))
        .where(
            col(IncidentComponent.component).in_(sorted(set(names))),
            col(Incident.started_at) < end,
            or_(col(Incident.ended_at).is_(None), col(Incident.ended_at) > start),
        )
        .order_by(col(IncidentComponent.id))
    ).all()
    return [(component, started, ended, scheduled) for component, started, ended, scheduled in rows]


def _incidents_by_component(
    contract: Contract,
    names: Sequence[str],
    month_first_day: date,
    rows: Iterable[IncidentRow],
) -> dict[str, list[tuple[datetime, datetime | None, bool]]]:
    """The plan's components' incidents touching the month, clipped to the contract's cover.

    `rows` may hold more (other components, other months): they are left out here."""
    month_start, month_end = month_bounds(
        month_first_day.year, month_first_day.month, contract.timezone
    )
    cover_start, cover_end = covered_instants(contract)
    wanted = set(names)
    by_component: dict[str, list[tuple[datetime, datetime | None, bool]]] = {}
    for component, started_at, ended_at, scheduled in rows:
        if component not in wanted or not started_at < month_end:
            continue
        if ended_at is not None and not ended_at > month_start:
            continue
        start = max(started_at, cover_start)
        end = ended_at
        if cover_end is not None:
            end = cover_end if end is None else min(end, cover_end)
        if end is not None and end <= start:
            continue
        by_component.setdefault(component, []).append((start, end, scheduled))
    return by_component


def availability_report(
    session: Session,
    contract: Contract,
    plan: Plan,
    month_first_day: date,
    *,
    fee_charged_minor: int,
    now: datetime,
    incidents: Sequence[IncidentRow] | None = None,
) -> list[ComponentAvailability]:
    """Per component of the plan: downtime, availability and the credit it earns.

    `fee_charged_minor` is the fee actually charged for the month (after discount and
    proration), which the caller computes: the ledger does not know invoices. Each component's
    `credit_minor` is one invoice line. `incidents` are rows already read (`incident_rows`, a
    superset of the month's is fine); without them the month's are read here.
    """
    check_month_covered(contract, month_first_day)
    components = terms.components(plan)
    names = [name for name, _ in components]
    if incidents is None:
        month_start, month_end = month_bounds(
            month_first_day.year, month_first_day.month, contract.timezone
        )
        incidents = incident_rows(session, names, month_start, month_end)
    return monthly_availability_report(
        components=components,
        incidents=_incidents_by_component(contract, names, month_first_day, incidents),
        month=(month_first_day.year, month_first_day.month),
        timezone=contract.timezone,
        fee_charged_minor=fee_charged_minor,
        now=now,
        tiers=terms.credit_tiers(plan),
        target_percent=plan.availability_target_percent,
    )


def availability_to_read(
    contract: Contract,
    month_first_day: date,
    report: Sequence[ComponentAvailability],
    *,
    fee_charged_minor: int,
) -> AvailabilityRead:
    assert contract.id is not None
    currency = contract.currency
    return AvailabilityRead(
        contract_id=contract.id,
        month=month_label(month_first_day),
        currency=currency,
        fee_charged=format_amount(fee_charged_minor, currency),
        components=[
            ComponentAvailabilityRead(
                name=line.name,
                share_percent=str(line.share_percent),
                downtime_minutes=line.downtime_minutes,
                availability_percent=str(line.availability_percent),
                credit_percent=str(line.credit_percent),
                credit_amount=format_amount(line.credit_minor, currency),
            )
            for line in report
        ],
        total_credit_amount=format_amount(sum(line.credit_minor for line in report), currency),
    )
