"""First-response targets: when a ticket is due, whether it was met, and the monthly report.

SPEC "SLA: response times". Choices where the SPEC is silent:
- A pause that has not ended stops the clock from its start: if the target was not used up before
  then, the due time is unknown (None) and the ticket stays `open` until the pause ends (or `met`
  if a response is recorded meanwhile — the clock had not run out).
- A ticket belongs to the month of its opening time in the contract's timezone.
- `percent_met` is met / (met + breached): open tickets are counted but not judged yet. With no
  judged ticket it is None rather than a made-up 100.00 or 0.00.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal, NamedTuple, get_args
from zoneinfo import ZoneInfo

from ledger.sla.availability import month_bounds, parse_month, round_half_up
from ledger.sla.calendar import (
    CALENDAR_KINDS,
    DEFAULT_BUSINESS_HOURS,
    BusinessHours,
    CalendarKind,
    WorkCalendar,
    as_utc,
    make_calendar,
)

Severity = Literal["S1", "S2", "S3", "S4"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
TicketStatus = Literal["open", "met", "breached"]


@dataclass(frozen=True)
class ResponseTarget:
    """Minutes to first response, counted on the named calendar."""

    minutes: int
    calendar: CalendarKind

    def __post_init__(self) -> None:
        if isinstance(self.minutes, bool) or not isinstance(self.minutes, int):
            raise ValueError(
                f"response target minutes must be a whole number, got {self.minutes!r}"
            )
        if self.minutes <= 0:
            raise ValueError(f"response target must be at least 1 minute, got {self.minutes}")
        if self.calendar not in CALENDAR_KINDS:
            raise ValueError(
                f"response target calendar must be one of {', '.join(CALENDAR_KINDS)}, "
                f"got {self.calendar!r}"
            )


# Seed 003, commercetools premium: "6 hours / 24 hours during Support hours" are business hours.
PREMIUM_RESPONSE_TARGETS: Final[Mapping[str, ResponseTarget]] = {
    "S1": ResponseTarget(20, "24x7"),
    "S2": ResponseTarget(90, "24x7"),
    "S3": ResponseTarget(6 * 60, "business"),
    "S4": ResponseTarget(24 * 60, "business"),
}
DEFAULT_RESPONSE_TARGETS: Final = PREMIUM_RESPONSE_TARGETS

# Seed 000, VTEX: 15 minutes for critical platform issues, 8 business hours for regular tickets.
# The seed knows only "critical" and "regular"; S1 is critical, the rest regular.
VTEX_RESPONSE_TARGETS: Final[Mapping[str, ResponseTarget]] = {
    "S1": ResponseTarget(15, "24x7"),
    "S2": ResponseTarget(8 * 60, "business"),
    "S3": ResponseTarget(8 * 60, "business"),
    "S4": ResponseTarget(8 * 60, "business"),
}


def validate_response_targets(targets: Mapping[str, ResponseTarget]) -> None:
    """A plan may leave a severity without a target, but not name one that does not exist."""
    unknown = sorted(set(targets) - set(SEVERITIES))
    if unknown:
        raise ValueError(f"unknown severities {unknown}; expected some of {list(SEVERITIES)}")


def due_at(
    opened_at: datetime,
    target_minutes: int,
    calendar: WorkCalendar,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> datetime | None:
    """When the first response is due; None while an open pause holds the clock."""
    return calendar.add_minutes_with_pauses(opened_at, target_minutes, pauses)


def response_due_at(
    *,
    severity: str,
    opened_at: datetime,
    targets: Mapping[str, ResponseTarget] = DEFAULT_RESPONSE_TARGETS,
    timezone: str | ZoneInfo,
    holiday_region: str | None,
    business_hours: BusinessHours = DEFAULT_BUSINESS_HOURS,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> datetime | None:
    """Due time of a ticket of a contract, on the calendar its plan names for the severity."""
    try:
        target = targets[severity]
    except KeyError:
        raise ValueError(f"the plan has no response target for severity {severity!r}") from None
    calendar = make_calendar(
        target.calendar,
        timezone=timezone,
        holiday_region=holiday_region,
        business_hours=business_hours,
    )
    return due_at(opened_at, target.minutes, calendar, pauses)


def ticket_status(
    *, due_at: datetime | None, responded_at: datetime | None, now: datetime
) -> TicketStatus:
    """Met if answered by the due time, breached once it has passed unanswered, else open."""
    if responded_at is not None:
        if due_at is None or as_utc(responded_at) <= as_utc(due_at):
            return "met"
        return "breached"
    if due_at is not None and as_utc(now) > as_utc(due_at):
        return "breached"
    return "open"


class TicketOutcome(NamedTuple):
    severity: str
    opened_at: datetime
    status: TicketStatus


@dataclass(frozen=True)
class SeverityReport:
    tickets: int
    met: int
    breached: int
    percent_met: Decimal | None


_SEVERITY_SET: Final = frozenset(SEVERITIES)
_STATUSES: Final = get_args(TicketStatus)
_NO_TICKETS: Final = SeverityReport(tickets=0, met=0, breached=0, percent_met=None)


def monthly_sla_report(
    tickets: Iterable[tuple[str, datetime, str]],
    *,
    month: str | tuple[int, int],
    timezone: str | ZoneInfo,
) -> dict[Severity, SeverityReport]:
    """Tickets, met, breached and % met per severity for tickets opened in the month.

    Tickets opened outside the month are ignored, so callers may pass a superset. Every severity
    is present in the result, with zeros when it had no tickets (one shared, frozen report:
    most contracts have no ticket in most months).
    """
    year, number = parse_month(month)
    month_start, month_end = month_bounds(year, number, timezone)
    counts: dict[str, list[int]] = {}  # severity -> [tickets, met, breached]
    for severity, opened_at, status in tickets:
        if severity not in _SEVERITY_SET:
            raise ValueError(f"unknown severity {severity!r}")
        if status not in _STATUSES:
            raise ValueError(f"unknown ticket status {status!r}")
        if not month_start <= as_utc(opened_at) < month_end:
            continue
        bucket = counts.setdefault(severity, [0, 0, 0])
        bucket[0] += 1
        if status == "met":
            bucket[1] += 1
        elif status == "breached":
            bucket[2] += 1
    report: dict[Severity, SeverityReport] = {}
    for severity in SEVERITIES:
        found = counts.get(severity)
        if found is None:
            report[severity] = _NO_TICKETS
            continue
        total, met, breached = found
        judged = met + breached
        percent_met = round_half_up(Fraction(met * 100, judged), 2) if judged else None
        report[severity] = SeverityReport(
            tickets=total, met=met, breached=breached, percent_met=percent_met
        )
    return report
