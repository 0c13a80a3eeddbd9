from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger.sla.calendar import BusinessCalendar, BusinessHours, TwentyFourSevenCalendar
from ledger.sla.response import (
    DEFAULT_RESPONSE_TARGETS,
    PREMIUM_RESPONSE_TARGETS,
    SEVERITIES,
    VTEX_RESPONSE_TARGETS,
    ResponseTarget,
    SeverityReport,
    TicketOutcome,
    due_at,
    monthly_sla_report,
    response_due_at,
    ticket_status,
    validate_response_targets,
)

BERLIN = ZoneInfo("Europe/Berlin")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# --- seed tables ----------------------------------------------------------------------------------


def test_seed_003_premium_targets() -> None:
    assert dict(PREMIUM_RESPONSE_TARGETS) == {
        "S1": ResponseTarget(20, "24x7"),
        "S2": ResponseTarget(90, "24x7"),
        "S3": ResponseTarget(360, "business"),
        "S4": ResponseTarget(1440, "business"),
    }
    assert DEFAULT_RESPONSE_TARGETS is PREMIUM_RESPONSE_TARGETS


def test_seed_000_vtex_targets() -> None:
    assert VTEX_RESPONSE_TARGETS["S1"] == ResponseTarget(15, "24x7")
    assert {VTEX_RESPONSE_TARGETS[s] for s in ("S2", "S3", "S4")} == {
        ResponseTarget(480, "business")
    }


def test_response_target_validation() -> None:
    with pytest.raises(ValueError, match="at least 1 minute"):
        ResponseTarget(0, "24x7")
    with pytest.raises(ValueError, match="whole number"):
        ResponseTarget(1.5, "24x7")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="calendar must be one of 24x7, business"):
        ResponseTarget(10, "weekdays")  # type: ignore[arg-type]
    validate_response_targets({"S1": ResponseTarget(10, "24x7")})
    with pytest.raises(ValueError, match="unknown severities"):
        validate_response_targets({"S5": ResponseTarget(10, "24x7")})


# --- due times ------------------------------------------------------------------------------------


def test_s1_premium_is_twenty_real_minutes_at_night() -> None:
    due = response_due_at(
        severity="S1",
        opened_at=berlin(2026, 12, 25, 23, 50),
        timezone="Europe/Berlin",
        holiday_region="DE-BE",
    )
    assert due == datetime(2026, 12, 25, 23, 10, tzinfo=UTC)


def test_s1_over_the_spring_dst_jump_is_twenty_real_minutes() -> None:
    due = response_due_at(
        severity="S1",
        opened_at=berlin(2026, 3, 29, 1, 50),
        timezone="Europe/Berlin",
        holiday_region="DE-BE",
    )
    assert due == berlin(2026, 3, 29, 3, 10)


def test_s4_premium_is_24_business_hours() -> None:
    due = response_due_at(
        severity="S4",
        opened_at=berlin(2026, 6, 15, 9),
        timezone="Europe/Berlin",
        holiday_region="DE-BE",
    )
    # 1,440 min = 540 Mon + 540 Tue + 360 Wed.
    assert due == berlin(2026, 6, 17, 15)


def test_vtex_regular_ticket_is_eight_business_hours_in_sao_paulo() -> None:
    due = response_due_at(
        severity="S3",
        opened_at=datetime(2026, 7, 8, 14, tzinfo=SAO_PAULO),
        targets=VTEX_RESPONSE_TARGETS,
        timezone="America/Sao_Paulo",
        holiday_region="BR-SP",
    )
    # 4 h Wednesday, Thursday 9 July is a Sao Paulo holiday, 4 h Friday.
    assert due == datetime(2026, 7, 10, 13, tzinfo=SAO_PAULO)


def test_plan_business_hours_are_used() -> None:
    due = response_due_at(
        severity="S3",
        opened_at=berlin(2026, 6, 15, 7),
        timezone="Europe/Berlin",
        holiday_region="DE-BE",
        business_hours=BusinessHours(start=time(8)),
    )
    assert due == berlin(2026, 6, 15, 14)


def test_missing_severity_target() -> None:
    with pytest.raises(ValueError, match="no response target for severity 'S4'"):
        response_due_at(
            severity="S4",
            opened_at=berlin(2026, 6, 15, 9),
            targets={"S1": ResponseTarget(10, "24x7")},
            timezone="Europe/Berlin",
            holiday_region=None,
        )


def test_due_at_with_pauses() -> None:
    calendar = BusinessCalendar("Europe/Berlin", "DE-BE")
    opened = berlin(2026, 6, 15, 9)
    pauses = [(berlin(2026, 6, 15, 10), berlin(2026, 6, 16, 10))]  # 8 h + 1 h of business time
    assert due_at(opened, 360, calendar) == berlin(2026, 6, 15, 15)
    assert due_at(opened, 360, calendar, pauses) == berlin(2026, 6, 16, 15)
    assert due_at(opened, 360, calendar, [(berlin(2026, 6, 15, 10), None)]) is None
    assert (
        due_at(opened, 20, TwentyFourSevenCalendar(), [(berlin(2026, 6, 15, 9, 10), None)]) is None
    )


def test_response_due_at_passes_pauses() -> None:
    due = response_due_at(
        severity="S2",
        opened_at=berlin(2026, 6, 13, 12),
        timezone="Europe/Berlin",
        holiday_region="DE-BE",
        pauses=[(berlin(2026, 6, 13, 12, 30), berlin(2026, 6, 13, 13))],
    )
    assert due == berlin(2026, 6, 13, 14)


# --- status ---------------------------------------------------------------------------------------


DUE = berlin(2026, 6, 15, 15)


@pytest.mark.parametrize(
    ("due", "responded", "now", "status"),
    [
        (DUE, None, DUE - timedelta(minutes=1), "open"),
        (DUE, None, DUE, "open"),
        (DUE, None, DUE + timedelta(seconds=1), "breached"),
        (DUE, DUE - timedelta(hours=1), DUE + timedelta(days=9), "met"),
        (DUE, DUE, DUE + timedelta(days=9), "met"),
        (DUE, DUE + timedelta(seconds=1), DUE + timedelta(days=9), "breached"),
        (DUE, DUE + timedelta(seconds=1), DUE - timedelta(days=1), "breached"),
        (None, None, DUE + timedelta(days=30), "open"),
        (None, DUE, DUE + timedelta(days=30), "met"),
    ],
)
def test_ticket_status(
    due: datetime | None, responded: datetime | None, now: datetime, status: str
) -> None:
    assert ticket_status(due_at=due, responded_at=responded, now=now) == status


# --- monthly report -------------------------------------------------------------------------------


def test_monthly_sla_report_counts_per_severity() -> None:
    tickets = [
        TicketOutcome("S1", berlin(2026, 4, 2, 10), "met"),
        TicketOutcome("S1", berlin(2026, 4, 3, 10), "met"),
        TicketOutcome("S1", berlin(2026, 4, 4, 10), "breached"),
        TicketOutcome("S2", berlin(2026, 4, 5, 10), "breached"),
        TicketOutcome("S3", berlin(2026, 4, 30, 17), "open"),
        # Opened 1 April 00:30 Berlin (31 March in UTC): belongs to April.
        TicketOutcome("S4", datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "met"),
        # Opened 1 May 00:30 Berlin: May, not April.
        TicketOutcome("S4", datetime(2026, 4, 30, 22, 30, tzinfo=UTC), "breached"),
    ]
    report = monthly_sla_report(tickets, month="2026-04", timezone="Europe/Berlin")
    assert list(report) == list(SEVERITIES)
    assert report == {
        "S1": SeverityReport(tickets=3, met=2, breached=1, percent_met=Decimal("66.67")),
        "S2": SeverityReport(tickets=1, met=0, breached=1, percent_met=Decimal("0.00")),
        "S3": SeverityReport(tickets=1, met=0, breached=0, percent_met=None),
        "S4": SeverityReport(tickets=1, met=1, breached=0, percent_met=Decimal("100.00")),
    }
    assert str(report["S4"].percent_met) == "100.00"


def test_monthly_sla_report_empty_month() -> None:
    report = monthly_sla_report([], month=(2026, 4), timezone="Europe/Berlin")
    assert all(row == SeverityReport(0, 0, 0, None) for row in report.values())


def test_percent_met_rounds_half_up() -> None:
    tickets = [("S2", berlin(2026, 4, 2, 10), "met")] + [
        ("S2", berlin(2026, 4, 2, 11), "breached") for _ in range(31)
    ]
    report = monthly_sla_report(tickets, month="2026-04", timezone="Europe/Berlin")
    assert report["S2"].percent_met == Decimal("3.13")  # 3.125: half-even would give 3.12


def test_open_tickets_do_not_dilute_percent_met() -> None:
    tickets = [
        ("S3", berlin(2026, 4, 2, 10), "met"),
        ("S3", berlin(2026, 4, 2, 11), "breached"),
        ("S3", berlin(2026, 4, 30, 17), "open"),
    ]
    report = monthly_sla_report(tickets, month="2026-04", timezone="Europe/Berlin")
    assert report["S3"] == SeverityReport(3, 1, 1, Decimal("50.00"))


def test_monthly_sla_report_refuses_unknown_values() -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        monthly_sla_report([("P1", berlin(2026, 4, 2), "met")], month="2026-04", timezone="UTC")
    with pytest.raises(ValueError, match="unknown ticket status"):
        monthly_sla_report([("S1", berlin(2026, 4, 2), "late")], month="2026-04", timezone="UTC")


def test_monthly_report_without_tickets_is_fresh_each_time() -> None:
    """Severities without tickets share one frozen zero report; the dict is the caller's own."""
    first = monthly_sla_report([], month=(2026, 4), timezone="Europe/Berlin")
    first["S1"] = SeverityReport(tickets=9, met=9, breached=0, percent_met=Decimal("100.00"))
    again = monthly_sla_report([], month=(2026, 4), timezone="Europe/Berlin")
    assert again["S1"] == SeverityReport(tickets=0, met=0, breached=0, percent_met=None)
    one = monthly_sla_report(
        [("S3", berlin(2026, 4, 30, 23), "breached"), ("S3", berlin(2026, 5, 1), "met")],
        month="2026-04",
        timezone="Europe/Berlin",
    )
    assert one["S3"] == SeverityReport(tickets=1, met=0, breached=1, percent_met=Decimal("0.00"))
    assert {s: r.tickets for s, r in one.items()} == {"S1": 0, "S2": 0, "S3": 1, "S4": 0}
    utc = monthly_sla_report(
        [("S3", berlin(2026, 4, 30, 23), "breached"), ("S3", berlin(2026, 5, 1), "met")],
        month="2026-04",
        timezone="UTC",
    )
    assert (utc["S3"].tickets, utc["S3"].met, utc["S3"].breached) == (2, 1, 1)
