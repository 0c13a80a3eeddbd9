"""The `plans` table. A plan row is never edited: a revision is a new row with version + 1,
so every contract keeps the exact terms it was signed with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import DecimalText, utc_column, utcnow


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    __table_args__ = (
        sa.UniqueConstraint("code", "version"),
        sa.CheckConstraint("fee_minor >= 0", name="fee_not_negative"),
        sa.CheckConstraint("included_minutes >= 0", name="included_not_negative"),
        sa.CheckConstraint("overage_rate_minor >= 0", name="overage_rate_not_negative"),
        sa.CheckConstraint("on_demand_rate_minor >= 0", name="on_demand_rate_not_negative"),
        sa.CheckConstraint("billing_increment_minutes > 0", name="increment_positive"),
        sa.CheckConstraint("period IN ('month', 'quarter')", name="period_known"),
        sa.CheckConstraint("billing_timing IN ('arrears', 'advance')", name="timing_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, index=True)
    version: int
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3)
    fee_minor: int = Field(sa_type=sa.BigInteger)
    period: str = Field(max_length=10)
    included_minutes: int
    overage_rate_minor: int = Field(sa_type=sa.BigInteger)
    on_demand_rate_minor: int = Field(sa_type=sa.BigInteger)
    billing_increment_minutes: int
    pooling_allowed: bool
    annual_discount_percent: Decimal = Field(sa_type=DecimalText)
    availability_target_percent: Decimal = Field(sa_type=DecimalText)
    # Nested terms that are read whole and never queried into: JSON, with decimals as strings.
    components: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    credit_tiers: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    response_targets: dict[str, Any] = Field(sa_type=sa.JSON)
    business_hours: dict[str, Any] = Field(sa_type=sa.JSON)
    authorized_contacts: int | None = None
    after_hours_multiplier: Decimal = Field(sa_type=DecimalText)
    after_hours_levels: list[int] = Field(sa_type=sa.JSON)
    billing_timing: str = Field(max_length=10)
    credit_per_breach_minor: int | None = Field(default=None, sa_type=sa.BigInteger)
    # Hours alerts (SPEC "Notifications"): canonical decimal strings, ascending.
    alert_thresholds_percent: list[str] = Field(
        default_factory=lambda: ["80", "100"],
        sa_column=sa.Column(sa.JSON, nullable=False),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
