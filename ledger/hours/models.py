"""Tables of the hours ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import DecimalText, utc_column, utcnow

# A 64-bit key on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Allotment(SQLModel, table=True):
    """The hours granted to a contract for one period, with running totals.

    `valid_from`/`valid_until` bound the work dates that may draw on it (a pool widens them to
    both months); `expires_at` is local midnight of `valid_until` in the contract's zone.
    """

    __tablename__ = "allotments"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "period_start"),
        sa.CheckConstraint("granted_minutes >= 0", name="granted_not_negative"),
        sa.CheckConstraint("used_minutes >= 0", name="used_not_negative"),
        sa.CheckConstraint("expired_minutes >= 0", name="expired_not_negative"),
        sa.CheckConstraint("remaining_minutes >= 0", name="remaining_not_negative"),
        sa.CheckConstraint(
            "granted_minutes = used_minutes + expired_minutes + remaining_minutes",
            name="totals_balance",
        ),
        sa.Index("ix_allotments_contract_validity", "contract_id", "valid_from", "valid_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    period_start: date
    period_end: date
    valid_from: date
    valid_until: date
    expires_at: datetime = Field(sa_column=utc_column())
    pool_first_month: date | None = None
    granted_minutes: int = 0
    used_minutes: int = 0
    expired_minutes: int = 0
    remaining_minutes: int = 0
    closed: bool = False
    last_entry_id: int | None = Field(default=None, sa_type=BigId)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class WorkEntry(SQLModel, table=True):
    """Support work as reported, and its billable minutes. Reversals are entries too."""

    __tablename__ = "work_entries"
    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 4", name="level_known"),
        sa.CheckConstraint("kind IN ('work', 'reversal')", name="kind_known"),
        sa.CheckConstraint(
            "(kind = 'work' AND minutes > 0 AND billable_minutes > 0 AND reverses_id IS NULL)"
            " OR (kind = 'reversal' AND billable_minutes < 0 AND reverses_id IS NOT NULL)",
            name="sign_matches_kind",
        ),
        sa.UniqueConstraint("reverses_id"),
        sa.Index("ix_work_entries_contract_worked_on", "contract_id", "worked_on"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    contract_id: int = Field(foreign_key="contracts.id")
    kind: str = Field(default="work", max_length=10)
    worked_on: date
    period_start: date
    started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    minutes: int
    level: int
    ticket_ref: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)
    multiplier: Decimal = Field(default=Decimal(1), sa_type=DecimalText)
    billable_minutes: int
    late: bool = False
    approved_overage: bool = False
    reverses_id: int | None = Field(
        default=None, sa_type=BigId, foreign_key="work_entries.id", nullable=True
    )
    invoice_id: int | None = Field(default=None, sa_type=BigId)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class LedgerEntry(SQLModel, table=True):
    """One movement of minutes. Never updated, never deleted.

    kind: `grant` (+ to an allotment, − when a cancellation shortens it), `use` (+ consumed,
    − returned by a reversal or a re-consumption), `expire` (+, at period close or at once
    when minutes return to an expired allotment), `overage` (± on a period, with its `rate`:
    `overage`, `on_demand` beyond an approved cap or without a package, `late` for work in an
    invoiced period).
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('grant', 'use', 'expire', 'overage')", name="kind_known"),
        sa.CheckConstraint("minutes <> 0", name="minutes_not_zero"),
        sa.CheckConstraint("kind <> 'expire' OR minutes > 0", name="expiry_positive"),
        sa.CheckConstraint(
            "(kind = 'overage') = (allotment_id IS NULL)", name="overage_has_no_allotment"
        ),
        sa.CheckConstraint("(kind = 'overage') = (rate IS NOT NULL)", name="rate_only_on_overage"),
        sa.CheckConstraint(
            "rate IS NULL OR rate IN ('overage', 'on_demand', 'late')", name="rate_known"
        ),
        sa.Index("ix_ledger_entries_contract_period", "contract_id", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    contract_id: int = Field(foreign_key="contracts.id")
    kind: str = Field(max_length=10)
    minutes: int
    period_start: date
    allotment_id: int | None = Field(default=None, foreign_key="allotments.id", index=True)
    work_entry_id: int | None = Field(
        default=None, sa_type=BigId, foreign_key="work_entries.id", index=True
    )
    rate: str | None = Field(default=None, max_length=10)
    reason: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class PeriodOverage(SQLModel, table=True):
    """Running overage totals of one contract period, by rate."""

    __tablename__ = "period_overages"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "period_start"),
        sa.CheckConstraint("overage_minutes >= 0", name="overage_not_negative"),
        sa.CheckConstraint("on_demand_minutes >= 0", name="on_demand_not_negative"),
        sa.CheckConstraint("late_minutes >= 0", name="late_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    period_start: date
    overage_minutes: int = 0
    on_demand_minutes: int = 0
    late_minutes: int = 0


class ClosedPeriod(SQLModel, table=True):
    """A period whose hours have been expired by a billing run: its work is invoiced."""

    __tablename__ = "closed_periods"
    __table_args__ = (sa.UniqueConstraint("contract_id", "period_start"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    period_start: date
    period_end: date
    closed_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class Pool(SQLModel, table=True):
    """An agreement joining months M and M+1 of a contract; `undone_at` once undone."""

    __tablename__ = "pools"
    __table_args__ = (sa.Index("ix_pools_contract_month", "contract_id", "first_month"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    first_month: date
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    undone_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
