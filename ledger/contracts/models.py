"""The `contracts` table."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"
    __table_args__ = (
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
        sa.CheckConstraint("committed_months >= 0", name="commitment_not_negative"),
        sa.CheckConstraint(
            "overage_cap_minutes IS NULL OR overage_cap_minutes >= 0", name="cap_not_negative"
        ),
        sa.CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    plan_id: int = Field(foreign_key="plans.id", index=True)
    plan_code: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    timezone: str = Field(max_length=64)
    holiday_region: str = Field(max_length=16)
    start_date: date
    # The last day the contract covers (inclusive); None while open-ended.
    end_date: date | None = None
    committed_months: int = 0
    overage_cap_minutes: int | None = None
    status: str = Field(default="active", max_length=16)
    cancelled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
