"""Request and response shapes of incidents, availability, tickets, SLA reports and contacts.

Instants must carry an offset (`AwareDatetime`): a naive time would be guessed into some zone,
and an SLA clock cannot afford a guess.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
)

from ledger.errors import InvalidInput
from ledger.periods import parse_month
from ledger.sla.calendar import CalendarKind
from ledger.sla.response import Severity, TicketStatus
from ledger.validation import Input

# Stored and shown in UTC whatever offset the caller used.
Instant = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]
ComponentName = Annotated[str, Field(min_length=1, max_length=100)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 ()./-]{2,49}$")]


def _after(value: datetime | None, info: ValidationInfo, earlier: str) -> datetime | None:
    """An end that is not after its start is refused, naming the end field."""
    start = info.data.get(earlier)
    if value is not None and start is not None and value <= start:
        raise ValueError(f"must be after {earlier} ({start.isoformat()})")
    return value


class IncidentCreate(Input):
    components: list[ComponentName] = Field(min_length=1, max_length=50)
    started_at: Instant
    ended_at: Instant | None = None
    scheduled: bool = False
    description: str = Field(default="", max_length=2000)

    @field_validator("components")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("component names must be distinct")
        return value

    @field_validator("ended_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after(value, info, "started_at")


class IncidentClose(Input):
    ended_at: Instant


class IncidentRead(BaseModel):
    id: int
    components: list[str]
    started_at: datetime
    ended_at: datetime | None
    scheduled: bool
    description: str
    created_at: datetime


class ComponentAvailabilityRead(BaseModel):
    name: str
    share_percent: str
    downtime_minutes: int
    availability_percent: str
    credit_percent: str
    credit_amount: str


class AvailabilityRead(BaseModel):
    contract_id: int
    month: str
    currency: str
    fee_charged: str
    components: list[ComponentAvailabilityRead]
    total_credit_amount: str


class TicketCreate(Input):
    contract_id: int
    severity: Severity
    opened_at: Instant
    reference: str = Field(min_length=1, max_length=100)


class TicketRespond(Input):
    responded_at: Instant


class PauseCreate(Input):
    started_at: Instant
    ended_at: Instant | None = None

    @field_validator("ended_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after(value, info, "started_at")


class PauseClose(Input):
    ended_at: Instant


class PauseRead(BaseModel):
    id: int
    started_at: datetime
    ended_at: datetime | None


class TicketRead(BaseModel):
    id: int
    contract_id: int
    severity: Severity
    reference: str
    opened_at: datetime
    target_minutes: int
    calendar: CalendarKind
    due_at: datetime | None
    responded_at: datetime | None
    status: TicketStatus
    pauses: list[PauseRead]
    created_at: datetime


class SeverityReportRead(BaseModel):
    tickets: int
    met: int
    breached: int
    percent_met: str | None


class SlaReportRead(BaseModel):
    contract_id: int
    month: str
    currency: str
    severities: dict[Severity, SeverityReportRead]
    breached: int
    # Only when the plan attaches a credit to each breach; None otherwise.
    credit_per_breach: str | None
    breach_credit_amount: str | None


class ContactCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    email: Email
    phone: Phone | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return value.lower()


class ContactRead(BaseModel):
    id: int
    contract_id: int
    name: str
    email: str
    phone: str | None
    created_at: datetime


def month_query(value: str) -> date:
    """The `?month=YYYY-MM` of the reports, refused as a 422 naming `month`."""
    try:
        return parse_month(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="month") from exc
