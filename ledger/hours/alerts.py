"""Hours alerts: a contract's consumption of an allotment (or pool) reaching a plan threshold.

The ledger only records that a threshold was reached, in the transaction of the work that
reached it, under the contract's lock; the notifications side (`invoices.notifications`) turns
each row into an e-mail and a `hours.threshold_reached` webhook event, once (`relayed_at`).

One row per contract, allotment or pool, and threshold, ever (a unique constraint): a reversal
that drops consumption below a threshold does not re-arm it, and two entries crossing it
together raise it once.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel, col, select

from ledger.base import DecimalText, utc_column, utcnow
from ledger.catalog.models import Plan
from ledger.hours.allotments import valid_allotments
from ledger.hours.models import Allotment
from ledger.periods import month_label


class HoursAlert(SQLModel, table=True):
    """A threshold reached. `scope_start` is the allotment's period start, or for a pool
    (`pooled`) its first month."""

    __tablename__ = "hours_alerts"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "scope_start", "pooled", "threshold_percent"),
        sa.Index("ix_hours_alerts_unrelayed", "relayed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    scope_start: date
    pooled: bool = False
    months: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    threshold_percent: Decimal = Field(sa_type=DecimalText)
    granted_minutes: int
    used_minutes: int
    raised_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    relayed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


def normalise_percent(value: Decimal) -> str:
    """`80`, `80.0` and `8E+1` are one threshold: its canonical text is the unique key."""
    text = format(Decimal(value).normalize(), "f")
    return text


def plan_thresholds(plan: Plan) -> list[Decimal]:
    return sorted({Decimal(normalise_percent(Decimal(v))) for v in plan.alert_thresholds_percent})


def _groups(allotments: Sequence[Allotment]) -> list[list[Allotment]]:
    groups: dict[object, list[Allotment]] = {}
    for allotment in allotments:
        key = ("pool", allotment.pool_first_month) if allotment.pool_first_month else allotment.id
        groups.setdefault(key, []).append(allotment)
    return list(groups.values())


def _months(allotments: Sequence[Allotment]) -> list[str]:
    labels: set[str] = set()
    for allotment in allotments:
        day = allotment.period_start
        while day < allotment.period_end:
            labels.add(month_label(day))
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return sorted(labels)


def check_thresholds(
    session: Session,
    *,
    contract_id: int,
    plan: Plan,
    worked_on: date,
    candidates: Sequence[Allotment] | None = None,
) -> list[HoursAlert]:
    """Raise the alerts the allotments usable on `worked_on` have reached and not raised yet.

    Call under the contract's lock after consuming; returns the alerts raised now.
    `candidates`: the contract's allotments in consumption order, as a batch loaded them (the
    same rows `valid_allotments` reads, filtered here by date instead of by a query)."""
    thresholds = plan_thresholds(plan)
    if not thresholds:
        return []
    valid = (
        valid_allotments(session, contract_id, worked_on)
        if candidates is None
        else [a for a in candidates if a.valid_from <= worked_on < a.valid_until]
    )
    raised = []
    for group in _groups(valid):
        granted = sum(a.granted_minutes for a in group)
        used = sum(a.used_minutes for a in group)
        if granted <= 0 or used <= 0:
            continue
        reached = [t for t in thresholds if Decimal(used) * 100 >= t * granted]
        if not reached:
            continue
        pool = group[0].pool_first_month
        scope_start = pool if pool is not None else group[0].period_start
        existing = _raised(session, contract_id, scope_start, pool is not None)
        for threshold in reached:
            if normalise_percent(threshold) in existing:
                continue
            alert = _insert_once(
                session,
                contract_id=contract_id,
                scope_start=scope_start,
                pooled=pool is not None,
                months=_months(group),
                threshold=threshold,
                granted=granted,
                used=used,
            )
            existing.add(normalise_percent(threshold))  # raised now, or by a racing writer
            if alert is not None:
                raised.append(alert)
    return raised


_KNOWN = "hours.alerts.known"
Scope = tuple[int, date, bool]


@contextmanager
def known_alerts(session: Session, contract_ids: Collection[int]) -> Iterator[None]:
    """Within it, `check_thresholds` knows the alerts these contracts have raised from one query
    made here (and those it raises itself) instead of one query per check, and the alerts it
    raises for them are inserted together on a normal exit (it returns none of them): for a
    batch, under the contracts' locks, so no other writer can raise one of theirs meanwhile.
    Nothing reads alert rows in between."""
    known: dict[Scope, set[str]] = {}
    for contract_id, scope_start, pooled, threshold in session.execute(
        select(
            col(HoursAlert.contract_id),
            col(HoursAlert.scope_start),
            col(HoursAlert.pooled),
            col(HoursAlert.threshold_percent),
        ).where(col(HoursAlert.contract_id).in_(list(contract_ids)))
    ):
        known.setdefault((contract_id, scope_start, pooled), set()).add(
            normalise_percent(threshold)
        )
    pending: list[dict[str, object]] = []
    session.info[_KNOWN] = (frozenset(contract_ids), known, pending)
    try:
        yield
        if pending:  # in the order raised, each as `_insert_once` would have inserted it
            session.execute(_insert(session).on_conflict_do_nothing(), pending)
    finally:
        del session.info[_KNOWN]


def _insert(session: Session) -> Any:
    table = HoursAlert.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _raised(session: Session, contract_id: int, scope_start: date, pooled: bool) -> set[str]:
    """The thresholds already raised for a scope, canonical text; the set is the cache's own
    within `known_alerts` (the caller adds what it raises)."""
    cached = session.info.get(_KNOWN)
    if cached is not None and contract_id in cached[0]:
        return cached[1].setdefault((contract_id, scope_start, pooled), set())
    return {
        normalise_percent(value)
        for value in session.scalars(
            _raised_statement(),
            {"contract_id": contract_id, "scope_start": scope_start, "pooled": pooled},
        )
    }


@functools.cache
def _raised_statement() -> sa.Select[Any]:
    """`_raised`'s query, built once (every post that reaches a threshold reads it)."""
    table = HoursAlert.__table__  # type: ignore[attr-defined]
    return select(col(HoursAlert.threshold_percent)).where(
        col(HoursAlert.contract_id) == sa.bindparam("contract_id", type_=table.c.contract_id.type),
        col(HoursAlert.scope_start) == sa.bindparam("scope_start", type_=table.c.scope_start.type),
        col(HoursAlert.pooled) == sa.bindparam("pooled", type_=table.c.pooled.type),
    )


def _insert_once(
    session: Session,
    *,
    contract_id: int,
    scope_start: date,
    pooled: bool,
    months: list[str],
    threshold: Decimal,
    granted: int,
    used: int,
) -> HoursAlert | None:
    """INSERT … ON CONFLICT DO NOTHING: a racing writer that got there first wins, quietly."""
    values = {
        "contract_id": contract_id,
        "scope_start": scope_start,
        "pooled": pooled,
        "months": months,
        "threshold_percent": Decimal(normalise_percent(threshold)),
        "granted_minutes": granted,
        "used_minutes": used,
        "raised_at": utcnow(),
    }
    cached = session.info.get(_KNOWN)
    if cached is not None and contract_id in cached[0]:
        cached[2].append(values)  # inserted at the end of `known_alerts`, with the others
        return None
    table = HoursAlert.__table__  # type: ignore[attr-defined]
    new_id = session.execute(
        _insert(session).values(**values).on_conflict_do_nothing().returning(table.c.id)
    ).scalar()
    if new_id is None:
        return None
    return session.get(HoursAlert, new_id)
