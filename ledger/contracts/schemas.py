"""Request and response shapes of `/v1/contracts`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from ledger.units import hours_to_minutes
from ledger.validation import Input, check_holiday_region, check_timezone


class ContractCreate(Input):
    customer_id: int
    plan_code: str = Field(min_length=1, max_length=64)
    start_date: date
    end_date: date | None = None
    committed_months: int = Field(default=0, ge=0, le=120)
    overage_cap_hours: Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = (
        None
    )
    timezone: str | None = None
    holiday_region: str | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("holiday_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return None if value is None else check_holiday_region(value)

    @field_validator("overage_cap_hours")
    @classmethod
    def _cap(cls, value: Decimal | None) -> Decimal | None:
        if value is not None:
            hours_to_minutes(value)
        return value

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if value is not None and start is not None and value <= start:
            raise ValueError("end_date must be after start_date")
        return value


class ContractCancel(Input):
    end_date: date


class ContractRead(BaseModel):
    id: int
    customer_id: int
    plan_code: str
    plan_name: str  # the plan's name as the customer knows it (of the version signed)
    plan_version: int
    plan_id: int
    currency: str
    period: str
    timezone: str
    holiday_region: str
    start_date: date
    end_date: date | None
    committed_months: int
    overage_cap_minutes: int | None
    status: str
    created_at: datetime
