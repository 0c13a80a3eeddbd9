"""Request and response shapes of work entries, pools, balances and statements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from ledger.periods import parse_month
from ledger.validation import Input

# A sanity bound, not a business rule: SPEC posts "February 30 h" as one piece of work.
MAX_MINUTES_PER_ENTRY = 1_000_000


class WorkEntryCreate(Input):
    worked_on: date
    minutes: int = Field(gt=0, le=MAX_MINUTES_PER_ENTRY)
    level: int = Field(ge=1, le=4)
    ticket_ref: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    started_at: AwareDatetime | None = None
    late: bool = False
    approved_overage: bool = False


class BatchWorkEntry(WorkEntryCreate):
    contract_id: int


class WorkEntryBatch(Input):
    entries: list[BatchWorkEntry] = Field(min_length=1, max_length=1000)


class Coverage(BaseModel):
    """What paid for (part of) a work entry: an allotment, or overage at a rate."""

    source: str  # "allotment" | "overage" | "on_demand" | "late"
    minutes: int
    allotment_id: int | None = None
    months: list[str] | None = None


class WorkEntryRead(BaseModel):
    id: int
    contract_id: int
    kind: str
    worked_on: date
    started_at: datetime | None
    minutes: int
    level: int
    ticket_ref: str
    description: str
    multiplier: str
    billable_minutes: int
    late: bool
    approved_overage: bool
    reverses_id: int | None
    reversed_by_id: int | None
    coverage: list[Coverage]
    created_at: datetime


class PoolCreate(Input):
    first_month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]

    @field_validator("first_month")
    @classmethod
    def _month(cls, value: str) -> str:
        parse_month(value)
        return value


class PoolRead(BaseModel):
    contract_id: int
    first_month: str
    months: list[str]
    granted_minutes: int
    expires_at: datetime
    created_at: datetime


class AllotmentRead(BaseModel):
    months: list[str]
    granted_minutes: int
    used_minutes: int
    expired_minutes: int
    remaining_minutes: int
    expires_at: datetime
    pooled: bool


class BalanceRead(BaseModel):
    contract_id: int
    at: datetime
    period: str
    remaining_minutes: int
    overage_minutes: int
    allotments: list[AllotmentRead]


class StatementRead(BaseModel):
    contract_id: int
    month: str
    period: str
    pooled: bool
    granted_minutes: int
    used_minutes: int
    expired_minutes: int
    overage_minutes: int
    remaining_minutes: int
    late_minutes: int
    entries: list[WorkEntryRead]
