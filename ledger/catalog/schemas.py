"""Request and response shapes of `/v1/plans`. Money travels as decimal strings."""

from __future__ import annotations

import itertools
from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ledger import money
from ledger.catalog import defaults
from ledger.units import hours_to_minutes
from ledger.validation import Input, Money, check_currency, plain_decimal

Severity = Literal["S1", "S2", "S3", "S4"]
CalendarKind = Literal["24x7", "business"]
# Bounds keep every amount inside its 64-bit column whatever the currency's exponent.
MAX_AMOUNT = Decimal("1000000000000")
MAX_HOURS = Decimal("1000000")
Plain = AfterValidator(plain_decimal)
NonNegativeDecimal = Annotated[Money, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False), Plain]
Hours = Annotated[Decimal, Field(ge=0, le=MAX_HOURS, allow_inf_nan=False), Plain]
Percent = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False), Plain]
AlertThreshold = Annotated[
    Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False), Plain
]


class Component(Input):
    name: str = Field(min_length=1, max_length=100)
    share_percent: Percent


class CreditTier(Input):
    below_percent: Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False), Plain]
    credit_percent: Percent


class ResponseTarget(Input):
    minutes: int = Field(gt=0, le=60 * 24 * 90)
    calendar: CalendarKind


def _end_of_day(value: object) -> object:
    """ "24:00" is midnight at the end of the day, stored as time(0) (the calendar's reading)."""
    return time(0) if isinstance(value, str) and value.strip() in ("24:00", "24:00:00") else value


class BusinessHours(Input):
    """Local wall-clock hours; `end: "24:00"` runs to midnight (seed 003's 24/5)."""

    start: time = time(9, 0)
    end: Annotated[time, BeforeValidator(_end_of_day)] = time(18, 0)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5], min_length=1)

    @field_validator("weekdays")
    @classmethod
    def _weekdays_iso(cls, value: list[int]) -> list[int]:
        if any(day < 1 or day > 7 for day in value) or len(set(value)) != len(value):
            raise ValueError("weekdays are distinct ISO day numbers, 1 = Monday … 7 = Sunday")
        return sorted(value)

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("business hours are local wall-clock times, without an offset")
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> BusinessHours:
        if self.end != time(0) and self.end <= self.start:
            raise ValueError("business hours must end after they start")
        if self.start.second or self.end.second or self.start.microsecond or self.end.microsecond:
            raise ValueError("business hours are whole minutes")
        return self


def _default_components() -> list[Component]:
    return [Component.model_validate(c) for c in defaults.DEFAULT_COMPONENTS]


def _default_tiers() -> list[CreditTier]:
    return [
        CreditTier(below_percent=below, credit_percent=credit)
        for below, credit in defaults.DEFAULT_CREDIT_TIERS
    ]


def _default_targets() -> dict[Severity, ResponseTarget]:
    return {
        cast(Severity, severity): ResponseTarget(minutes=target.minutes, calendar=target.calendar)
        for severity, target in defaults.DEFAULT_RESPONSE_TARGETS.items()
    }


class PlanTerms(Input):
    """Everything a plan version fixes. Shared by create (all required parts) and revise."""

    name: str = Field(min_length=1, max_length=200)
    currency: str
    fee: NonNegativeDecimal
    period: Literal["month", "quarter"] = "month"
    included_hours: Hours
    overage_rate: NonNegativeDecimal
    on_demand_rate: NonNegativeDecimal | None = None
    billing_increment_minutes: int = Field(
        default=defaults.DEFAULT_BILLING_INCREMENT_MINUTES, ge=1, le=1440
    )
    pooling_allowed: bool = False
    annual_discount_percent: Percent = defaults.DEFAULT_ANNUAL_DISCOUNT_PERCENT
    components: list[Component] = Field(default_factory=_default_components, min_length=1)
    availability_target_percent: Annotated[
        Decimal, Field(gt=0, le=100, allow_inf_nan=False), Plain
    ] = defaults.DEFAULT_AVAILABILITY_TARGET_PERCENT
    credit_tiers: list[CreditTier] = Field(default_factory=_default_tiers)
    response_targets: dict[Severity, ResponseTarget] = Field(default_factory=_default_targets)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    authorized_contacts: int | None = Field(default=None, ge=1, le=1000)
    after_hours_multiplier: Annotated[Decimal, Field(ge=1, le=10, allow_inf_nan=False), Plain] = (
        Decimal("1")
    )
    after_hours_levels: list[int] = Field(default_factory=lambda: [1, 2, 3, 4])
    billing_timing: Literal["arrears", "advance"] = "arrears"
    credit_per_breach: NonNegativeDecimal | None = None
    alert_thresholds_percent: list[AlertThreshold] = Field(
        default_factory=lambda: [Decimal(80), Decimal(100)], max_length=10
    )

    @field_validator("alert_thresholds_percent")
    @classmethod
    def _thresholds(cls, value: list[Decimal]) -> list[Decimal]:
        normalised = sorted({plain_decimal(v.normalize()) for v in value})
        if len(normalised) != len(value):
            raise ValueError("alert thresholds must be distinct")
        return normalised

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @field_validator("included_hours")
    @classmethod
    def _whole_minutes(cls, value: Decimal) -> Decimal:
        hours_to_minutes(value)
        return value

    @field_validator("after_hours_levels")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if any(level not in (1, 2, 3, 4) for level in value):
            raise ValueError("support levels are 1 to 4")
        return sorted(set(value))

    @field_validator("components")
    @classmethod
    def _shares_add_up(cls, value: list[Component]) -> list[Component]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError("component names must be distinct")
        total = sum((c.share_percent for c in value), Decimal(0))
        if total != 100:
            raise ValueError(f"component shares must add up to 100 %, not {total} %")
        return value

    @field_validator("credit_tiers")
    @classmethod
    def _tiers_ordered(cls, value: list[CreditTier]) -> list[CreditTier]:
        for higher, lower in itertools.pairwise(value):
            if lower.below_percent >= higher.below_percent:
                raise ValueError(
                    "credit tiers must be ordered by below_percent, strictly decreasing"
                )
            if lower.credit_percent < higher.credit_percent:
                raise ValueError("a worse availability tier cannot earn a smaller credit")
        return value

    @field_validator("fee", "overage_rate", "on_demand_rate", "credit_per_breach")
    @classmethod
    def _minor_units(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        currency = info.data.get("currency")
        if value is not None and currency is not None:
            money.to_minor(value, currency)  # TooManyDecimals is a ValueError
        return value

    @field_validator("pooling_allowed")
    @classmethod
    def _pooling_monthly(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("period", "month") != "month":
            raise ValueError("only monthly plans can pool two months")
        return value

    @field_validator("credit_tiers")
    @classmethod
    def _tiers_below_target(cls, value: list[CreditTier], info: ValidationInfo) -> list[CreditTier]:
        target = info.data.get("availability_target_percent")
        if target is not None and any(tier.below_percent > target for tier in value):
            raise ValueError("a tier cannot start above the availability target")
        return value


class PlanCreate(PlanTerms):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PlanRevision(Input):
    """A partial change; the service merges it onto the latest version and validates the whole."""

    name: str | None = None
    fee: Money | None = None
    included_hours: Decimal | None = None
    overage_rate: Money | None = None
    on_demand_rate: Money | None = None
    billing_increment_minutes: int | None = None
    pooling_allowed: bool | None = None
    annual_discount_percent: Decimal | None = None
    components: list[Component] | None = None
    availability_target_percent: Decimal | None = None
    credit_tiers: list[CreditTier] | None = None
    response_targets: dict[Severity, ResponseTarget] | None = None
    business_hours: BusinessHours | None = None
    authorized_contacts: int | None = None
    after_hours_multiplier: Decimal | None = None
    after_hours_levels: list[int] | None = None
    billing_timing: Literal["arrears", "advance"] | None = None
    credit_per_breach: Money | None = None
    alert_thresholds_percent: list[Decimal] | None = None


class PlanRead(BaseModel):
    id: int
    code: str
    version: int
    name: str
    currency: str
    fee: str
    period: str
    included_hours: str
    included_minutes: int
    overage_rate: str
    on_demand_rate: str
    billing_increment_minutes: int
    pooling_allowed: bool
    annual_discount_percent: str
    components: list[dict[str, str]]
    availability_target_percent: str
    credit_tiers: list[dict[str, str]]
    response_targets: dict[str, dict[str, int | str]]
    business_hours: dict[str, object]
    authorized_contacts: int | None
    after_hours_multiplier: str
    after_hours_levels: list[int]
    billing_timing: str
    credit_per_breach: str | None
    alert_thresholds_percent: list[str]
    created_at: datetime
