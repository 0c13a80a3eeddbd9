"""Monthly availability of a service component and the service credit it earns.

SPEC "SLA: availability and service credits": availability = 1 - unscheduled downtime / minutes in
the month, the month being the contract's calendar month in its timezone. Downtime is kept exact in
whole seconds and availability as a `Fraction`, so a tier boundary (99.99 %, 99.0 %, 95.0 %) is
decided on the exact value; only the figures shown to people are rounded (half-up).

Choices where the SPEC is silent:
- Unscheduled downtime that overlaps a scheduled maintenance window of the same component is not
  counted either: the customer was told the component would be down then.
- An incident still open counts up to `now`; nothing counts after `now` or outside the month.
- A month still in progress is measured against all of its minutes (a preview, not a verdict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from ledger.sla.calendar import as_utc, load_timezone, local_to_utc, merge_intervals

_HUNDRED: Final = Decimal(100)
_ONE_SECOND: Final = timedelta(seconds=1)


class Incident(NamedTuple):
    """Downtime of one component; a plain (started_at, ended_at, scheduled) tuple works too."""

    started_at: datetime
    ended_at: datetime | None
    scheduled: bool = False


class CreditTier(NamedTuple):
    """Availability strictly below `below_percent` earns `credit_percent` of the component's fee."""

    below_percent: Decimal
    credit_percent: Decimal


# Seed 003 (commercetools premium), as SPEC's table states it.
DEFAULT_AVAILABILITY_TARGET_PERCENT: Final = Decimal("99.99")
DEFAULT_CREDIT_TIERS: Final[tuple[CreditTier, ...]] = (
    CreditTier(Decimal("99.99"), Decimal("10")),
    CreditTier(Decimal("99.0"), Decimal("25")),
    CreditTier(Decimal("95.0"), Decimal("50")),
)


@dataclass(frozen=True)
class ComponentAvailability:
    """One line of the monthly availability report (API, invoice and PDF all show these)."""

    name: str
    share_percent: Decimal
    downtime_seconds: int
    downtime_minutes: int
    availability: Fraction
    availability_percent: Decimal
    credit_percent: Decimal
    credit_minor: int


def parse_month(month: str | tuple[int, int]) -> tuple[int, int]:
    """Accept "YYYY-MM" (the API's form) or (year, month)."""
    if isinstance(month, str):
        year_text, sep, month_text = month.partition("-")
        if not (sep and len(year_text) == 4 and len(month_text) == 2):
            raise ValueError(f"{month!r} is not a month (expected YYYY-MM)")
        if not (year_text.isdigit() and month_text.isdigit()):
            raise ValueError(f"{month!r} is not a month (expected YYYY-MM)")
        year, number = int(year_text), int(month_text)
    else:
        year, number = month
    if not 1 <= number <= 12 or not 1 <= year <= 9998:
        raise ValueError(f"{month!r} is not a month (expected YYYY-MM)")
    return year, number


def month_bounds(year: int, month: int, timezone: str | ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant of the month, first instant of the next month) in the timezone, as UTC.

    Memoised per (year, month, timezone): every contract of a chunk asks for the same few
    months, and the answer is a pure function of the tz database, which does not change while
    the process runs (`zoneinfo` caches its zones the same way)."""
    return _month_bounds(year, month, timezone)


@lru_cache(maxsize=8192, typed=True)
def _month_bounds(year: int, month: int, timezone: str | ZoneInfo) -> tuple[datetime, datetime]:
    tz = load_timezone(timezone)
    first = date(year, month, 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (
        local_to_utc(datetime.combine(first, datetime.min.time()), tz),
        local_to_utc(datetime.combine(following, datetime.min.time()), tz),
    )


def minutes_in_month(year: int, month: int, timezone: str | ZoneInfo) -> int:
    """Elapsed minutes, so a month with a DST change has 60 more or fewer than days x 1440."""
    start, end = month_bounds(year, month, timezone)
    return (end - start) // timedelta(minutes=1)


def _clip(
    intervals: Iterable[tuple[datetime, datetime]], *, lower: datetime, upper: datetime
) -> list[tuple[datetime, datetime]]:
    return [(max(s, lower), min(e, upper)) for s, e in intervals if s < upper and e > lower]


def _subtract(
    minuend: list[tuple[datetime, datetime]], subtrahend: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Parts of merged `minuend` not covered by merged `subtrahend`."""
    remaining: list[tuple[datetime, datetime]] = []
    for start, end in minuend:
        cursor = start
        for cut_start, cut_end in subtrahend:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                remaining.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
            if cursor >= end:
                break
        if cursor < end:
            remaining.append((cursor, end))
    return remaining


def downtime_seconds(
    incidents: Iterable[tuple[datetime, datetime | None, bool]],
    *,
    month: str | tuple[int, int],
    timezone: str | ZoneInfo,
    now: datetime,
) -> int:
    """Unscheduled downtime of one component inside the month, counted once, in whole seconds."""
    year, number = parse_month(month)
    month_start, month_end = month_bounds(year, number, timezone)
    horizon = min(month_end, as_utc(now))
    if horizon <= month_start:
        return 0
    unscheduled: list[tuple[datetime, datetime]] = []
    scheduled: list[tuple[datetime, datetime]] = []
    for started_at, ended_at, is_scheduled in incidents:
        start = as_utc(started_at)
        if ended_at is None:
            end = horizon
        else:
            end = min(as_utc(ended_at), horizon)
            if as_utc(ended_at) < start:
                raise ValueError(f"incident ends ({ended_at}) before it starts ({started_at})")
        (scheduled if is_scheduled else unscheduled).append((start, end))
    if not unscheduled:
        return 0  # maintenance alone takes nothing off the month
    down = merge_intervals(_clip(unscheduled, lower=month_start, upper=horizon))
    maintenance = merge_intervals(_clip(scheduled, lower=month_start, upper=horizon))
    return sum((end - start) // _ONE_SECOND for start, end in _subtract(down, maintenance))


def availability_ratio(*, downtime_seconds: int, month_minutes: int) -> Fraction:
    """Exact 1 - downtime / month, kept as a fraction so tier boundaries are decided exactly."""
    month_seconds = month_minutes * 60
    if month_minutes <= 0 or not 0 <= downtime_seconds <= month_seconds:
        raise ValueError(
            f"downtime of {downtime_seconds} s does not fit a month of {month_minutes} minutes"
        )
    return 1 - Fraction(downtime_seconds, month_seconds)


def round_half_up(value: Fraction, places: int) -> Decimal:
    """Exact half-up rounding of a non-negative rational to `places` decimals."""
    if value < 0:
        raise ValueError("only non-negative values are rounded here")
    scaled = value * 10**places
    quotient, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        quotient += 1
    return Decimal(quotient).scaleb(-places)


def availability_percent(availability: Fraction) -> Decimal:
    """For display: percent rounded half-up to 4 places (143/144 → 99.3056)."""
    return round_half_up(availability * 100, 4)


def downtime_minutes(seconds: int) -> int:
    """For display: whole minutes, half a minute rounding up."""
    return (seconds + 30) // 60


def _is_finite_decimal(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def validate_availability_target(target_percent: Decimal) -> None:
    if not _is_finite_decimal(target_percent) or not 0 < target_percent <= _HUNDRED:
        raise ValueError(f"availability target must be a percent in (0, 100], got {target_percent}")


def validate_credit_tiers(tiers: Sequence[tuple[Decimal, Decimal]]) -> None:
    """Refuse a tier table that would credit less for worse availability or cannot be decided."""
    previous: tuple[Decimal, Decimal] | None = None
    for position, (below_percent, credit_percent) in enumerate(tiers, start=1):
        if not _is_finite_decimal(below_percent) or not 0 < below_percent <= _HUNDRED:
            raise ValueError(
                f"credit tier {position}: below_percent must be a Decimal in (0, 100], "
                f"got {below_percent!r}"
            )
        if not _is_finite_decimal(credit_percent) or not 0 <= credit_percent <= _HUNDRED:
            raise ValueError(
                f"credit tier {position}: credit_percent must be a Decimal in [0, 100], "
                f"got {credit_percent!r}"
            )
        if previous is not None:
            if below_percent >= previous[0]:
                raise ValueError(
                    f"credit tier {position}: below_percent {below_percent} must be lower than "
                    f"the previous tier's {previous[0]} (tiers go from best to worst availability)"
                )
            if credit_percent < previous[1]:
                raise ValueError(
                    f"credit tier {position}: credit_percent {credit_percent} is less than the "
                    f"previous tier's {previous[1]}; worse availability cannot earn less credit"
                )
        previous = (below_percent, credit_percent)


def credit_percent_for(
    availability: Fraction,
    *,
    tiers: Sequence[tuple[Decimal, Decimal]] = DEFAULT_CREDIT_TIERS,
    target_percent: Decimal = DEFAULT_AVAILABILITY_TARGET_PERCENT,
) -> Decimal:
    """Credit of the worst tier the exact availability is strictly below; 0 at or above target."""
    percent = availability * 100
    if percent >= Fraction(target_percent):
        return Decimal(0)
    applicable: tuple[Decimal, Decimal] | None = None
    for below_percent, credit_percent in tiers:
        if percent < Fraction(below_percent) and (
            applicable is None or below_percent < applicable[0]
        ):
            applicable = (below_percent, credit_percent)
    return Decimal(0) if applicable is None else applicable[1]


def service_credit_minor(
    fee_charged_minor: int, share_percent: Decimal, credit_percent: Decimal
) -> int:
    """fee x share% x credit%, rounded half-up once to the minor unit (one invoice line)."""
    if fee_charged_minor < 0:
        raise ValueError(f"fee charged must not be negative, got {fee_charged_minor}")
    if not 0 <= share_percent <= _HUNDRED or not 0 <= credit_percent <= _HUNDRED:
        raise ValueError("share and credit are percents in [0, 100]")
    if not credit_percent:
        return 0
    exact = (Decimal(fee_charged_minor) * share_percent * credit_percent).scaleb(-4)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def validate_component_shares(components: Sequence[tuple[str, Decimal]]) -> None:
    """Shares are of the whole fee, so they must add up to exactly 100 % and names be distinct."""
    names = [name for name, _ in components]
    if len(set(names)) != len(names):
        raise ValueError(f"component names must be distinct, got {names}")
    if any(not _is_finite_decimal(share) or share < 0 for _, share in components):
        raise ValueError("component shares must be non-negative Decimals")
    total = sum((share for _, share in components), Decimal(0))
    if components and total != _HUNDRED:
        raise ValueError(f"component shares add up to {total} %, not 100 %")


TermsKey = tuple[
    tuple[tuple[type, str, str, Decimal], ...],
    tuple[tuple[type, str, Decimal, type, str, Decimal], ...],
    type,
    str,
    Decimal,
]
"""A plan's SLA terms as a cache key: every number beside its type and its exact text, so
that values equal but written differently (10 and Decimal(10), Decimal("10") and
Decimal("10.0"): a credit line prints the tier's own) never share an entry."""


def _terms_key(
    components: Sequence[tuple[str, Decimal]],
    tiers: Sequence[tuple[Decimal, Decimal]],
    target_percent: Decimal,
) -> TermsKey | None:
    """None when the terms cannot be a key (unhashable values): they are then not memoised."""
    try:
        key: TermsKey = (
            tuple((type(s), n, str(s), s) for n, s in components),
            tuple((type(b), str(b), b, type(c), str(c), c) for b, c in tiers),
            type(target_percent),
            str(target_percent),
            target_percent,
        )
        hash(key)
    except (TypeError, ValueError):
        return None
    return key


def _validate_terms(
    components: Sequence[tuple[str, Decimal]],
    tiers: Sequence[tuple[Decimal, Decimal]],
    target_percent: Decimal,
) -> None:
    validate_component_shares(components)
    validate_credit_tiers(tiers)
    validate_availability_target(target_percent)


def _terms_of(
    key: TermsKey,
) -> tuple[list[tuple[str, Decimal]], list[tuple[Decimal, Decimal]], Decimal]:
    components, tiers, _, _, target_percent = key
    return (
        [(n, s) for _, n, _, s in components],
        [(b, c) for _, _, b, _, _, c in tiers],
        target_percent,
    )


@lru_cache(maxsize=1024)
def _validated(key: TermsKey) -> None:
    """The terms validated once per distinct terms (a chunk has a handful of plans); invalid
    terms raise, which is never cached."""
    _validate_terms(*_terms_of(key))


def _figures(
    seconds: int,
    month_minutes: int,
    tiers: Sequence[tuple[Decimal, Decimal]],
    target_percent: Decimal,
) -> tuple[Fraction, Decimal, Decimal]:
    """Availability, its displayed percent and the credit percent it earns."""
    availability = availability_ratio(downtime_seconds=seconds, month_minutes=month_minutes)
    credit_percent = credit_percent_for(availability, tiers=tiers, target_percent=target_percent)
    return availability, availability_percent(availability), credit_percent


@lru_cache(maxsize=8192)
def _memo_figures(
    key: TermsKey, seconds: int, month_minutes: int
) -> tuple[Fraction, Decimal, Decimal]:
    """`_figures` per (terms, downtime, month length): every contract of a plan without
    downtime in a month (most of them) has the same figures, and so has every contract of it
    that one incident took down for the same time."""
    _, tiers, target_percent = _terms_of(key)
    return _figures(seconds, month_minutes, tiers, target_percent)


def monthly_availability_report(
    *,
    components: Sequence[tuple[str, Decimal]],
    incidents: Mapping[str, Iterable[tuple[datetime, datetime | None, bool]]],
    month: str | tuple[int, int],
    timezone: str | ZoneInfo,
    fee_charged_minor: int,
    now: datetime,
    tiers: Sequence[tuple[Decimal, Decimal]] = DEFAULT_CREDIT_TIERS,
    target_percent: Decimal = DEFAULT_AVAILABILITY_TARGET_PERCENT,
) -> list[ComponentAvailability]:
    """Per component, in the plan's order: downtime, availability and the credit it earns.

    Each component's credit is rounded on its own, as it becomes its own invoice line. What
    depends only on the terms and the downtime is memoised (`_validated`, `_memo_figures`):
    the same functions compute it, once per distinct input.
    """
    key = _terms_key(components, tiers, target_percent)
    if key is None:
        _validate_terms(components, tiers, target_percent)
    else:
        _validated(key)
    year, number = parse_month(month)
    month_minutes = minutes_in_month(year, number, timezone)
    report: list[ComponentAvailability] = []
    for name, share_percent in components:
        seconds = downtime_seconds(
            incidents.get(name, ()), month=(year, number), timezone=timezone, now=now
        )
        if key is None:
            figures = _figures(seconds, month_minutes, tiers, target_percent)
        else:
            figures = _memo_figures(key, seconds, month_minutes)
        availability, shown_percent, credit_percent = figures
        report.append(
            ComponentAvailability(
                name=name,
                share_percent=share_percent,
                downtime_seconds=seconds,
                downtime_minutes=downtime_minutes(seconds),
                availability=availability,
                availability_percent=shown_percent,
                credit_percent=credit_percent,
                credit_minor=service_credit_minor(fee_charged_minor, share_percent, credit_percent),
            )
        )
    return report
