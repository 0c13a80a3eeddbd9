"""Create, revise and read plans. Services flush; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from ledger import money
from ledger.catalog.models import Plan
from ledger.catalog.schemas import PlanCreate, PlanRead, PlanRevision, PlanTerms
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.units import hours_to_minutes, minutes_to_hours


def _terms_to_columns(terms: PlanTerms) -> dict[str, Any]:
    currency = terms.currency
    on_demand = terms.on_demand_rate if terms.on_demand_rate is not None else terms.overage_rate
    return {
        "name": terms.name,
        "currency": currency,
        "fee_minor": money.to_minor(terms.fee, currency),
        "period": terms.period,
        "included_minutes": hours_to_minutes(terms.included_hours),
        "overage_rate_minor": money.to_minor(terms.overage_rate, currency),
        "on_demand_rate_minor": money.to_minor(on_demand, currency),
        "billing_increment_minutes": terms.billing_increment_minutes,
        "pooling_allowed": terms.pooling_allowed,
        "annual_discount_percent": terms.annual_discount_percent,
        "availability_target_percent": terms.availability_target_percent,
        "components": [
            {"name": c.name, "share_percent": str(c.share_percent)} for c in terms.components
        ],
        "credit_tiers": [
            {"below_percent": str(t.below_percent), "credit_percent": str(t.credit_percent)}
            for t in terms.credit_tiers
        ],
        "response_targets": {
            severity: {"minutes": target.minutes, "calendar": target.calendar}
            for severity, target in sorted(terms.response_targets.items())
        },
        "business_hours": {
            "start": terms.business_hours.start.strftime("%H:%M"),
            # midnight at the end of the day reads "24:00" (SPEC: seed 003's 24/5)
            "end": (
                "24:00"
                if terms.business_hours.end == time(0)
                else terms.business_hours.end.strftime("%H:%M")
            ),
            "weekdays": terms.business_hours.weekdays,
        },
        "authorized_contacts": terms.authorized_contacts,
        "after_hours_multiplier": terms.after_hours_multiplier,
        "after_hours_levels": terms.after_hours_levels,
        "billing_timing": terms.billing_timing,
        "credit_per_breach_minor": (
            None
            if terms.credit_per_breach is None
            else money.to_minor(terms.credit_per_breach, currency)
        ),
        "alert_thresholds_percent": [
            format(t.normalize(), "f") for t in terms.alert_thresholds_percent
        ],
    }


def create_plan(session: Session, data: PlanCreate) -> Plan:
    if session.scalar(select(col(Plan.id)).where(col(Plan.code) == data.code).limit(1)) is not None:
        raise Conflict(
            f"a plan with code {data.code!r} exists; revise it with PATCH /v1/plans/{data.code}",
            field="code",
        )
    plan = Plan(code=data.code, version=1, **_terms_to_columns(data))
    session.add(plan)
    session.flush()
    return plan


def _columns_to_terms(plan: Plan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "currency": plan.currency,
        "fee": money.from_minor(plan.fee_minor, plan.currency),
        "period": plan.period,
        "included_hours": Decimal(plan.included_minutes) / 60,
        "overage_rate": money.from_minor(plan.overage_rate_minor, plan.currency),
        "on_demand_rate": money.from_minor(plan.on_demand_rate_minor, plan.currency),
        "billing_increment_minutes": plan.billing_increment_minutes,
        "pooling_allowed": plan.pooling_allowed,
        "annual_discount_percent": plan.annual_discount_percent,
        "components": plan.components,
        "availability_target_percent": plan.availability_target_percent,
        "credit_tiers": plan.credit_tiers,
        "response_targets": plan.response_targets,
        "business_hours": plan.business_hours,
        "authorized_contacts": plan.authorized_contacts,
        "after_hours_multiplier": plan.after_hours_multiplier,
        "after_hours_levels": plan.after_hours_levels,
        "billing_timing": plan.billing_timing,
        "credit_per_breach": (
            None
            if plan.credit_per_breach_minor is None
            else money.from_minor(plan.credit_per_breach_minor, plan.currency)
        ),
        "alert_thresholds_percent": [Decimal(t) for t in plan.alert_thresholds_percent],
    }


def revise_plan(session: Session, code: str, change: PlanRevision) -> Plan:
    """A new version with the change applied; contracts on older versions keep theirs."""
    current = get_latest_plan(session, code)
    merged = _columns_to_terms(current) | change.model_dump(exclude_unset=True)
    try:
        terms = PlanTerms.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from exc
    plan = Plan(code=code, version=current.version + 1, **_terms_to_columns(terms))
    session.add(plan)
    session.flush()
    return plan


def get_latest_plan(session: Session, code: str) -> Plan:
    latest = session.scalar(
        select(Plan).where(col(Plan.code) == code).order_by(col(Plan.version).desc()).limit(1)
    )
    if latest is None:
        raise NotFound(f"no plan with code {code!r}")
    return latest


def get_plan(session: Session, code: str, *, version: int | None = None) -> Plan:
    """The latest version of a plan, or the named older one."""
    if version is None:
        return get_latest_plan(session, code)
    plan = session.scalar(select(Plan).where(col(Plan.code) == code, col(Plan.version) == version))
    if plan is None:
        raise NotFound(f"plan {code!r} has no version {version}")
    return plan


def list_latest_plans(session: Session, *, after_id: int | None, limit: int) -> Sequence[Plan]:
    latest_ids = select(func.max(col(Plan.id))).group_by(col(Plan.code))
    query = select(Plan).where(col(Plan.id).in_(latest_ids))
    if after_id is not None:
        query = query.where(col(Plan.id) > after_id)
    return session.scalars(query.order_by(col(Plan.id)).limit(limit)).all()


def to_read(plan: Plan) -> PlanRead:
    assert plan.id is not None
    fmt = money.format_amount
    return PlanRead(
        id=plan.id,
        code=plan.code,
        version=plan.version,
        name=plan.name,
        currency=plan.currency,
        fee=fmt(plan.fee_minor, plan.currency),
        period=plan.period,
        included_hours=str(minutes_to_hours(plan.included_minutes)),
        included_minutes=plan.included_minutes,
        overage_rate=fmt(plan.overage_rate_minor, plan.currency),
        on_demand_rate=fmt(plan.on_demand_rate_minor, plan.currency),
        billing_increment_minutes=plan.billing_increment_minutes,
        pooling_allowed=plan.pooling_allowed,
        annual_discount_percent=str(plan.annual_discount_percent),
        components=plan.components,
        availability_target_percent=str(plan.availability_target_percent),
        credit_tiers=plan.credit_tiers,
        response_targets=plan.response_targets,
        business_hours=plan.business_hours,
        authorized_contacts=plan.authorized_contacts,
        after_hours_multiplier=str(plan.after_hours_multiplier),
        after_hours_levels=plan.after_hours_levels,
        billing_timing=plan.billing_timing,
        credit_per_breach=(
            None
            if plan.credit_per_breach_minor is None
            else fmt(plan.credit_per_breach_minor, plan.currency)
        ),
        alert_thresholds_percent=list(plan.alert_thresholds_percent),
        created_at=plan.created_at,
    )
