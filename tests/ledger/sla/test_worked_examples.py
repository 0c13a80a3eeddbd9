"""SPEC.md worked examples 3 (availability credit) and 5 (S3 ticket over Christmas), as stated."""

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from ledger.sla.availability import (
    Incident,
    availability_percent,
    availability_ratio,
    credit_percent_for,
    downtime_seconds,
    minutes_in_month,
    monthly_availability_report,
    service_credit_minor,
)
from ledger.sla.calendar import BusinessCalendar
from ledger.sla.response import response_due_at, ticket_status

BERLIN = ZoneInfo("Europe/Berlin")


def test_example_3_april_incident_earns_ten_percent_of_the_fee_charged() -> None:
    incident = Incident(
        started_at=datetime(2026, 4, 14, 9, 0, tzinfo=BERLIN),
        ended_at=datetime(2026, 4, 14, 14, 0, tzinfo=BERLIN),
        scheduled=False,
    )
    now = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
    assert minutes_in_month(2026, 4, "Europe/Berlin") == 43_200
    seconds = downtime_seconds([incident], month="2026-04", timezone="Europe/Berlin", now=now)
    assert seconds == 300 * 60
    availability = availability_ratio(downtime_seconds=seconds, month_minutes=43_200)
    assert availability == Fraction(143, 144)
    assert availability_percent(availability) == Decimal("99.3056")
    assert credit_percent_for(availability) == Decimal("10")
    fee_charged_minor = 200_000 - 20_000  # 2,000.00 less the 10 % annual discount
    assert service_credit_minor(fee_charged_minor, Decimal("100"), Decimal("10")) == 18_000

    [platform] = monthly_availability_report(
        components=[("platform", Decimal("100"))],
        incidents={"platform": [incident]},
        month="2026-04",
        timezone="Europe/Berlin",
        fee_charged_minor=fee_charged_minor,
        now=now,
    )
    assert platform.name == "platform"
    assert platform.downtime_minutes == 300
    assert str(platform.availability_percent) == "99.3056"
    assert platform.credit_percent == Decimal("10")
    assert platform.credit_minor == 18_000
    assert 200_000 - 20_000 - platform.credit_minor == 162_000  # invoice total 1,620.00


def test_example_5_s3_ticket_over_christmas() -> None:
    opened_at = datetime(2026, 12, 24, 17, 0, tzinfo=BERLIN)  # Thursday
    due = response_due_at(
        severity="S3",
        opened_at=opened_at,
        timezone="Europe/Berlin",
        holiday_region="DE-BE",
    )
    assert due == datetime(2026, 12, 28, 14, 0, tzinfo=BERLIN)  # Monday
    assert due == datetime(2026, 12, 28, 13, 0, tzinfo=UTC)
    assert due is not None and due.astimezone(BERLIN).isoweekday() == 1

    # The story behind it: 1 h on the 24th, the 25th and 26th are holidays, the 27th is Sunday.
    calendar = BusinessCalendar("Europe/Berlin", "DE-BE")
    assert calendar.minutes_between(opened_at, datetime(2026, 12, 28, 0, tzinfo=BERLIN)) == 60
    assert calendar.minutes_between(opened_at, due) == 360
    assert not calendar.is_business_day(datetime(2026, 12, 25).date())
    assert not calendar.is_business_day(datetime(2026, 12, 26).date())
    assert not calendar.is_business_day(datetime(2026, 12, 27).date())

    responded = datetime(2026, 12, 28, 14, 0, 1, tzinfo=BERLIN)
    assert ticket_status(due_at=due, responded_at=due, now=responded) == "met"
    assert ticket_status(due_at=due, responded_at=responded, now=responded) == "breached"
