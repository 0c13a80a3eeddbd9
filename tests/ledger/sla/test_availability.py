from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from ledger.sla.availability import (
    DEFAULT_AVAILABILITY_TARGET_PERCENT,
    DEFAULT_CREDIT_TIERS,
    CreditTier,
    Incident,
    availability_percent,
    availability_ratio,
    credit_percent_for,
    downtime_minutes,
    downtime_seconds,
    minutes_in_month,
    month_bounds,
    monthly_availability_report,
    parse_month,
    round_half_up,
    service_credit_minor,
    validate_availability_target,
    validate_component_shares,
    validate_credit_tiers,
)

BERLIN = ZoneInfo("Europe/Berlin")
D = Decimal
END_OF_2026 = datetime(2027, 1, 1, tzinfo=UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def april_downtime(*incidents: Incident, now: datetime = END_OF_2026) -> int:
    return downtime_seconds(incidents, month="2026-04", timezone="Europe/Berlin", now=now)


# --- seed 003 as data -----------------------------------------------------------------------------


def test_default_tiers_are_seed_003() -> None:
    assert D("99.99") == DEFAULT_AVAILABILITY_TARGET_PERCENT
    assert [tuple(tier) for tier in DEFAULT_CREDIT_TIERS] == [
        (D("99.99"), D("10")),
        (D("99.0"), D("25")),
        (D("95.0"), D("50")),
    ]
    validate_credit_tiers(DEFAULT_CREDIT_TIERS)


# --- months ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "zone", "minutes"),
    [
        (2026, 3, "Europe/Berlin", 44_580),
        (2026, 10, "Europe/Berlin", 44_700),
        (2026, 4, "Europe/Berlin", 43_200),
        (2026, 2, "Europe/Berlin", 40_320),
        (2028, 2, "Europe/Berlin", 41_760),
        (2026, 3, "America/New_York", 44_580),
        (2026, 11, "America/New_York", 43_260),
        (2026, 3, "UTC", 44_640),
        (2018, 11, "America/Sao_Paulo", 43_140),
        (2019, 2, "America/Sao_Paulo", 40_380),
    ],
)
def test_minutes_in_month(year: int, month: int, zone: str, minutes: int) -> None:
    assert minutes_in_month(year, month, zone) == minutes


def test_month_bounds_are_local_midnights() -> None:
    assert month_bounds(2026, 4, "Europe/Berlin") == (
        datetime(2026, 3, 31, 22, tzinfo=UTC),
        datetime(2026, 4, 30, 22, tzinfo=UTC),
    )
    assert month_bounds(2026, 12, BERLIN) == (
        datetime(2026, 11, 30, 23, tzinfo=UTC),
        datetime(2026, 12, 31, 23, tzinfo=UTC),
    )


@pytest.mark.parametrize("text", ["2026-4", "2026-13", "26-04", "2026/04", "2026-00", "abcd-ef"])
def test_parse_month_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a month"):
        parse_month(text)


def test_parse_month() -> None:
    assert parse_month("2026-04") == (2026, 4)
    assert parse_month((2026, 12)) == (2026, 12)


# --- downtime -------------------------------------------------------------------------------------


def test_single_incident() -> None:
    incident = Incident(berlin(2026, 4, 10, 12), berlin(2026, 4, 10, 17), False)
    assert april_downtime(incident) == 300 * 60


def test_overlapping_incidents_count_once() -> None:
    first = Incident(berlin(2026, 4, 10, 12), berlin(2026, 4, 10, 14), False)
    second = Incident(berlin(2026, 4, 10, 13), berlin(2026, 4, 10, 15), False)
    inside = Incident(berlin(2026, 4, 10, 13, 30), berlin(2026, 4, 10, 13, 45), False)
    separate = Incident(berlin(2026, 4, 11, 8), berlin(2026, 4, 11, 8, 10), False)
    assert april_downtime(first, second, inside, separate) == (180 + 10) * 60


def test_scheduled_maintenance_is_excluded() -> None:
    maintenance = Incident(berlin(2026, 4, 12, 2), berlin(2026, 4, 12, 4), True)
    assert april_downtime(maintenance) == 0
    outage = Incident(berlin(2026, 4, 13, 10), berlin(2026, 4, 13, 10, 30), False)
    assert april_downtime(maintenance, outage) == 30 * 60


def test_unscheduled_downtime_inside_a_maintenance_window_is_excluded() -> None:
    maintenance = Incident(berlin(2026, 4, 12, 2), berlin(2026, 4, 12, 4), True)
    overrun = Incident(berlin(2026, 4, 12, 3), berlin(2026, 4, 12, 5), False)
    assert april_downtime(maintenance, overrun) == 60 * 60
    straddling = Incident(berlin(2026, 4, 12, 1), berlin(2026, 4, 12, 5), False)
    assert april_downtime(maintenance, straddling) == 120 * 60


def test_month_boundary_incident_splits_between_months() -> None:
    incident = Incident(berlin(2026, 3, 31, 23), berlin(2026, 4, 1, 1), False)
    march = downtime_seconds([incident], month="2026-03", timezone="Europe/Berlin", now=END_OF_2026)
    april = downtime_seconds([incident], month="2026-04", timezone="Europe/Berlin", now=END_OF_2026)
    assert (march, april) == (60 * 60, 60 * 60)
    may = downtime_seconds([incident], month="2026-05", timezone="Europe/Berlin", now=END_OF_2026)
    assert may == 0


def test_month_boundary_follows_the_contract_timezone() -> None:
    # 2026-03-31 23:00 Berlin is 21:00 UTC: all of it is March in UTC, half of it April in Berlin.
    incident = Incident(berlin(2026, 3, 31, 23), berlin(2026, 4, 1, 1), False)
    assert downtime_seconds([incident], month="2026-04", timezone="UTC", now=END_OF_2026) == 0


def test_open_incident_counts_up_to_now() -> None:
    started = berlin(2026, 4, 20, 10)
    now = started + timedelta(minutes=42, seconds=17)
    assert april_downtime(Incident(started, None, False), now=now) == 42 * 60 + 17
    # Once the month is over, an open incident counts to the end of the month only.
    after_month = berlin(2026, 5, 3)
    expected = (berlin(2026, 5, 1) - started) // timedelta(seconds=1)
    assert april_downtime(Incident(started, None, False), now=after_month) == expected


def test_nothing_counts_after_now() -> None:
    incident = Incident(berlin(2026, 4, 20, 10), berlin(2026, 4, 20, 12), False)
    assert april_downtime(incident, now=berlin(2026, 4, 20, 11)) == 3600
    assert april_downtime(incident, now=berlin(2026, 4, 20, 9)) == 0
    assert april_downtime(incident, now=berlin(2026, 3, 1)) == 0


def test_plain_tuples_and_seconds_are_accepted() -> None:
    incidents = [(berlin(2026, 4, 2, 10), berlin(2026, 4, 2, 10) + timedelta(seconds=89), False)]
    seconds = downtime_seconds(incidents, month=(2026, 4), timezone=BERLIN, now=END_OF_2026)
    assert seconds == 89
    assert downtime_minutes(seconds) == 1


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 0), (29, 0), (30, 1), (89, 1), (90, 2)])
def test_downtime_minutes_round_half_up(seconds: int, minutes: int) -> None:
    assert downtime_minutes(seconds) == minutes


def test_incident_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        april_downtime(Incident(berlin(2026, 4, 2, 10), berlin(2026, 4, 2, 9), False))


def test_naive_incident_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        april_downtime(Incident(datetime(2026, 4, 2, 10), None, False))


# --- availability ---------------------------------------------------------------------------------


def test_availability_is_exact() -> None:
    assert availability_ratio(downtime_seconds=300 * 60, month_minutes=43_200) == Fraction(143, 144)
    assert availability_ratio(downtime_seconds=0, month_minutes=43_200) == 1
    assert availability_ratio(downtime_seconds=43_200 * 60, month_minutes=43_200) == 0
    with pytest.raises(ValueError):
        availability_ratio(downtime_seconds=43_200 * 60 + 1, month_minutes=43_200)


@pytest.mark.parametrize(
    ("availability", "shown"),
    [
        (Fraction(143, 144), D("99.3056")),
        (Fraction(1), D("100.0000")),
        (Fraction(0), D("0.0000")),
        (Fraction(9_999_985, 10_000_000), D("99.9999")),  # half-up, not half-even (99.9998)
        (Fraction(9_999_975, 10_000_000), D("99.9998")),
        (Fraction(99_989_999, 100_000_000), D("99.9900")),
    ],
)
def test_availability_percent_display(availability: Fraction, shown: Decimal) -> None:
    percent = availability_percent(availability)
    assert percent == shown
    assert str(percent) == str(shown)


def test_round_half_up() -> None:
    assert round_half_up(Fraction(3125, 1000), 2) == D("3.13")
    assert round_half_up(Fraction(31249, 10000), 2) == D("3.12")
    assert str(round_half_up(Fraction(50), 2)) == "50.00"
    with pytest.raises(ValueError):
        round_half_up(Fraction(-1), 2)


# --- credit tiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "credit"),
    [
        ("100", "0"),
        ("99.99", "0"),
        ("99.989999", "10"),
        ("99.5", "10"),
        ("99.0", "10"),
        ("98.999999", "25"),
        ("95.0", "25"),
        ("94.99", "50"),
        ("0", "50"),
    ],
)
def test_credit_tier_boundaries(percent: str, credit: str) -> None:
    availability = Fraction(D(percent)) / 100
    assert credit_percent_for(availability) == D(credit)


def test_tier_boundary_decided_on_exact_not_displayed_availability() -> None:
    # April 2026 in Berlin: 0.01 % of 43,200 minutes is 259.2 s.
    at_target = availability_ratio(downtime_seconds=259, month_minutes=43_200)
    below_target = availability_ratio(downtime_seconds=260, month_minutes=43_200)
    assert availability_percent(at_target) == D("99.9900")
    assert availability_percent(below_target) == D("99.9900")
    assert credit_percent_for(at_target) == 0
    assert credit_percent_for(below_target) == D("10")


def test_custom_tiers_and_target() -> None:
    tiers = [CreditTier(D("99.9"), D("5")), CreditTier(D("99.5"), D("15"))]
    validate_credit_tiers(tiers)
    at = Fraction(D("99.7")) / 100
    assert credit_percent_for(at, tiers=tiers, target_percent=D("99.9")) == D("5")
    assert credit_percent_for(at, tiers=tiers, target_percent=D("99.5")) == 0
    # Exactly at a target that is below the first tier: the target wins, no credit.
    exactly = Fraction(D("99.5")) / 100
    assert credit_percent_for(exactly, tiers=tiers, target_percent=D("99.5")) == 0
    assert credit_percent_for(exactly, tiers=tiers, target_percent=D("99.9")) == D("5")
    worse = Fraction(D("90")) / 100
    assert credit_percent_for(worse, tiers=tiers, target_percent=D("99.9")) == D("15")
    # Below the target but above every tier: no credit.
    assert (
        credit_percent_for(Fraction(D("99.95")) / 100, tiers=tiers, target_percent=D("99.99")) == 0
    )
    assert credit_percent_for(Fraction(0), tiers=[], target_percent=D("99.99")) == 0


def test_tier_order_in_the_list_does_not_matter_for_lookup() -> None:
    reversed_tiers = list(reversed(DEFAULT_CREDIT_TIERS))
    assert credit_percent_for(Fraction(D("96")) / 100, tiers=reversed_tiers) == D("25")


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([(D("99.0"), D("10")), (D("99.5"), D("25"))], "must be lower than"),
        ([(D("99.0"), D("10")), (D("99.0"), D("25"))], "must be lower than"),
        ([(D("99.0"), D("25")), (D("95.0"), D("10"))], "cannot earn less credit"),
        ([(D("0"), D("10"))], r"below_percent must be a Decimal in \(0, 100\]"),
        ([(D("100.1"), D("10"))], r"below_percent must be a Decimal in \(0, 100\]"),
        ([(D("99"), D("-1"))], r"credit_percent must be a Decimal in \[0, 100\]"),
        ([(D("99"), D("101"))], r"credit_percent must be a Decimal in \[0, 100\]"),
        ([(D("NaN"), D("10"))], "below_percent"),
        ([(99.0, D("10"))], "below_percent"),
    ],
)
def test_validate_credit_tiers_refuses(tiers: list[tuple[Decimal, Decimal]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_credit_tiers(tiers)


def test_validate_credit_tiers_accepts_equal_credits_and_empty() -> None:
    validate_credit_tiers([(D("100"), D("0")), (D("99"), D("10")), (D("98"), D("10"))])
    validate_credit_tiers([])


def test_validate_availability_target() -> None:
    validate_availability_target(D("100"))
    for bad in (D("0"), D("100.01"), D("-5")):
        with pytest.raises(ValueError, match="availability target"):
            validate_availability_target(bad)


# --- credit amount --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "share", "credit", "amount"),
    [
        (180_000, "100", "10", 18_000),
        (180_000, "100", "0", 0),
        (180_000, "60", "25", 27_000),
        (12_345, "50", "10", 617),  # 617.25
        (12_330, "50", "10", 617),  # 616.5: half-up, not half-even (616)
        (77_419, "33.3333", "50", 12_903),  # 12,903.1537635
        (1, "100", "50", 1),  # 0.5 minor units rounds up
        (0, "100", "50", 0),
    ],
)
def test_service_credit_minor(fee: int, share: str, credit: str, amount: int) -> None:
    assert service_credit_minor(fee, D(share), D(credit)) == amount


def test_service_credit_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        service_credit_minor(-1, D("100"), D("10"))
    with pytest.raises(ValueError):
        service_credit_minor(100, D("101"), D("10"))


# --- report ---------------------------------------------------------------------------------------


def test_monthly_report_per_component() -> None:
    incidents = {
        "api": [
            Incident(berlin(2026, 4, 3, 10), berlin(2026, 4, 3, 12), False),
            Incident(berlin(2026, 4, 3, 11), berlin(2026, 4, 3, 13), False),
            Incident(berlin(2026, 4, 4, 1), berlin(2026, 4, 4, 5), True),
        ],
        "dashboard": [Incident(berlin(2026, 4, 8, 10), berlin(2026, 4, 8, 10, 4), False)],
    }
    report = monthly_availability_report(
        components=[("api", D("60")), ("dashboard", D("30")), ("exports", D("10"))],
        incidents=incidents,
        month="2026-04",
        timezone="Europe/Berlin",
        fee_charged_minor=180_000,
        now=END_OF_2026,
    )
    assert [row.name for row in report] == ["api", "dashboard", "exports"]
    api, dashboard, exports = report
    assert (api.downtime_minutes, api.availability_percent) == (180, D("99.5833"))
    assert (api.credit_percent, api.credit_minor) == (D("10"), 10_800)
    assert (dashboard.downtime_minutes, dashboard.availability_percent) == (4, D("99.9907"))
    assert (dashboard.credit_percent, dashboard.credit_minor) == (D("0"), 0)
    assert (exports.downtime_seconds, exports.availability) == (0, Fraction(1))
    assert (exports.availability_percent, exports.credit_minor) == (D("100.0000"), 0)


def test_monthly_report_validates_shares() -> None:
    with pytest.raises(ValueError, match="add up to 90"):
        monthly_availability_report(
            components=[("api", D("60")), ("web", D("30"))],
            incidents={},
            month="2026-04",
            timezone="Europe/Berlin",
            fee_charged_minor=100,
            now=END_OF_2026,
        )


def test_validate_component_shares() -> None:
    validate_component_shares([("a", D("33.34")), ("b", D("33.33")), ("c", D("33.33"))])
    with pytest.raises(ValueError, match="distinct"):
        validate_component_shares([("a", D("50")), ("a", D("50"))])
    with pytest.raises(ValueError, match="non-negative"):
        validate_component_shares([("a", D("150")), ("b", D("-50"))])


# --- memoised figures: what is cached must never answer for other inputs ------------------------


def test_month_bounds_are_per_zone_and_month() -> None:
    """Asked in turn for the same month in two zones, and for a DST month beside a plain one,
    the (memoised) bounds stay each their own."""
    assert month_bounds(2026, 3, "Europe/Berlin") == (
        datetime(2026, 2, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 31, 22, tzinfo=UTC),
    )
    assert month_bounds(2026, 3, "UTC") == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert month_bounds(2026, 3, "America/New_York")[0] == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert month_bounds(2026, 3, BERLIN) == month_bounds(2026, 3, "Europe/Berlin")
    assert [minutes_in_month(2026, m, "Europe/Berlin") for m in (3, 4, 10)] == [
        31 * 1440 - 60,
        30 * 1440,
        31 * 1440 + 60,
    ]
    assert [minutes_in_month(y, 2, "UTC") for y in (2028, 2026)] == [29 * 1440, 28 * 1440]
    with pytest.raises(ValueError):
        month_bounds(2026, 4, "Mars/Olympus")  # a refusal is not remembered as an answer
    with pytest.raises(ValueError):
        month_bounds(2026, 4, "Mars/Olympus")


def _report(
    incidents: dict[str, list[Incident]],
    *,
    month: str = "2026-04",
    zone: str = "Europe/Berlin",
    fee: int = 100_000,
    tiers: list[tuple[Decimal, Decimal]] | None = None,
    target: Decimal = DEFAULT_AVAILABILITY_TARGET_PERCENT,
    components: list[tuple[str, Decimal]] | None = None,
) -> list[tuple[object, ...]]:
    report = monthly_availability_report(
        components=components or [("api", D("60")), ("web", D("40"))],
        incidents=incidents,
        month=month,
        timezone=zone,
        fee_charged_minor=fee,
        now=END_OF_2026,
        tiers=DEFAULT_CREDIT_TIERS if tiers is None else tiers,
        target_percent=target,
    )
    return [
        (
            r.name,
            str(r.share_percent),
            r.downtime_seconds,
            r.availability,
            str(r.availability_percent),
            str(r.credit_percent),
            r.credit_minor,
        )
        for r in report
    ]


def test_memoised_report_follows_downtime_month_and_fee() -> None:
    hour = {"api": [Incident(berlin(2026, 4, 3, 10), berlin(2026, 4, 3, 11))]}
    assert _report({}) == [
        ("api", "60", 0, Fraction(1), "100.0000", "0", 0),
        ("web", "40", 0, Fraction(1), "100.0000", "0", 0),
    ]
    assert _report(hour)[0] == ("api", "60", 3600, Fraction(719, 720), "99.8611", "10", 6000)
    assert _report(hour, fee=50_000)[0][-1] == 3000
    # The same hour of downtime in March (an hour shorter in Berlin) and in UTC's April.
    march = {"api": [Incident(berlin(2026, 3, 3, 10), berlin(2026, 3, 3, 11))]}
    assert _report(march, month="2026-03")[0][3] == Fraction(742, 743)  # 743 hours
    assert _report(hour, zone="UTC")[0][3] == Fraction(719, 720)
    assert _report({})[1][-1] == 0


def test_memoised_report_keeps_each_plans_terms() -> None:
    """Two plans alike but for their tiers and target, or for how a tier is written: each
    report shows its own plan's figures whichever was asked first."""
    hour = {"api": [Incident(berlin(2026, 4, 3, 10), berlin(2026, 4, 3, 11))]}
    assert _report(hour)[0][5:] == ("10", 6000)
    written_apart = [(D("99.990"), D("10.0")), (D("99.0"), D("25")), (D("95.0"), D("50"))]
    assert _report(hour, tiers=written_apart)[0][5:] == ("10.0", 6000)
    stricter = [(D("99.99"), D("20")), (D("95"), D("50"))]
    assert _report(hour, tiers=stricter)[0][5:] == ("20", 12000)
    assert _report(hour, target=D("99.5"), tiers=[(D("99.5"), D("10"))])[0][5:] == ("0", 0)
    assert _report(hour)[0][5:] == ("10", 6000)
    shares = [("api", D("60.0")), ("web", D("40.0"))]
    assert _report(hour, components=shares)[0][1:2] == ("60.0",)


def test_memoised_validation_still_refuses() -> None:
    """Terms once accepted do not make equal-valued terms of the wrong type acceptable."""
    _report({}, tiers=[(D("99.99"), D("10"))])
    with pytest.raises(ValueError):
        _report({}, tiers=[(D("99.99"), 10)])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        _report({}, components=[("api", 60), ("web", D("40"))])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        _report({}, components=[("api", D("NaN")), ("web", D("40"))])
    with pytest.raises(ValueError):
        _report({}, fee=-1)
    with pytest.raises(ValueError, match="naive"):
        monthly_availability_report(
            components=[("api", D("100"))],
            incidents={},
            month="2026-04",
            timezone="Europe/Berlin",
            fee_charged_minor=100,
            now=datetime(2027, 1, 1),
        )
