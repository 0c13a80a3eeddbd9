"""Properties of the pure billing functions (`invoices.lines`, `invoices.fees`) over random
lines, credits, tax rates, contracts and periods. No database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from invoices.fees import month_fee_charged_minor, period_fee
from invoices.lines import Line, finish, hourly_amount, hours_quantity, late_work_lines
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.periods import Period, add_months, month_period, period_containing

KINDS = ("fee", "discount", "overage", "late_work", "on_demand", "service_credit", "adjustment")

amounts = st.integers(min_value=-2_000_000, max_value=2_000_000)
lines = st.lists(
    st.builds(
        lambda kind, amount: Line(kind, f"{kind} line", "1", amount, amount),
        st.sampled_from(KINDS),
        amounts,
    ),
    max_size=12,
)
tax_rates = st.decimals(min_value=0, max_value=30, places=2, allow_nan=False, allow_infinity=False)
credits = st.integers(min_value=0, max_value=3_000_000)


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@settings(max_examples=400, deadline=None)
@given(
    lines=lines,
    carried=credits,
    rate=tax_rates,
    reverse_charge=st.booleans(),
    currency=st.sampled_from(["EUR", "JPY", "USD"]),
)
@example(
    lines=[
        Line("fee", "f", "1", 10000, 10000),
        Line("adjustment", "a", "1", 75, 75),
        Line("adjustment", "a", "1", 75, 75),
    ],
    carried=0,
    rate=Decimal(19),
    reverse_charge=False,
    currency="EUR",
)
@example(
    lines=[Line("fee", "f", "1", 200000, 200000), Line("adjustment", "a", "1", -500000, -500000)],
    carried=0,
    rate=Decimal(19),
    reverse_charge=False,
    currency="EUR",
)
def test_finish_adds_up_never_goes_negative_and_conserves_credit(
    lines: list[Line], carried: int, rate: Decimal, reverse_charge: bool, currency: str
) -> None:
    totals = finish(
        lines,
        currency=currency,
        carried_credit_minor=carried,
        tax_rate_percent=rate,
        reverse_charge=reverse_charge,
    )
    charged = sum(line.amount_minor for line in lines)
    # The lines given come first, unchanged; only credit-balance lines are added.
    assert totals.lines[: len(lines)] == tuple(lines)
    added = totals.lines[len(lines) :]
    assert all(line.kind == "credit_balance" for line in added) and len(added) <= 1
    # Lines add up to the subtotal; total = subtotal + tax; nothing is negative.
    assert sum(line.amount_minor for line in totals.lines) == totals.subtotal_minor
    assert totals.total_minor == totals.subtotal_minor + totals.tax_minor
    assert totals.subtotal_minor >= 0 and totals.tax_minor >= 0 and totals.total_minor >= 0
    assert totals.subtotal_minor == max(0, charged - carried)
    # Tax: half-up, once, on the subtotal; none under reverse charge.
    expected_tax = 0 if reverse_charge else _half_up(totals.subtotal_minor * rate / 100)
    assert totals.tax_minor == expected_tax
    # Credit is conserved: what came in (carried + the invoice's own negative remainder) is
    # either taken on this invoice or carried to the next one.
    assert 0 <= totals.credit_applied_minor <= carried
    assert totals.carry_forward_minor >= 0
    assert carried + max(0, -charged) == totals.credit_applied_minor + totals.carry_forward_minor
    # Credit is taken as far as the invoice allows, and only then carried.
    assert totals.credit_applied_minor == min(carried, max(0, charged))
    if totals.carry_forward_minor:
        assert totals.subtotal_minor == 0


@given(credits_only=st.lists(st.integers(min_value=-500_000, max_value=0), min_size=1, max_size=6))
def test_credits_never_make_an_invoice_negative(credits_only: list[int]) -> None:
    fee = Line("fee", "fee", "1", 100_000, 100_000)
    credit_lines = [Line("service_credit", "c", "1", None, amount) for amount in credits_only]
    totals = finish(
        [fee, *credit_lines],
        currency="EUR",
        carried_credit_minor=0,
        tax_rate_percent=Decimal(19),
        reverse_charge=False,
    )
    assert totals.total_minor >= 0
    assert totals.subtotal_minor == max(0, 100_000 + sum(credits_only))
    assert totals.carry_forward_minor == max(0, -(100_000 + sum(credits_only)))


@settings(max_examples=300)
@given(minutes=st.integers(min_value=0, max_value=100_000), rate=st.integers(0, 10_000_000))
@example(minutes=50, rate=11_000)  # 50 min at 110.00/h = 91.666… → 91.67
def test_hourly_amount_is_pro_rata_by_minute_rounded_half_up(minutes: int, rate: int) -> None:
    amount = hourly_amount(minutes, rate)
    assert amount == _half_up(Decimal(minutes) * rate / 60)
    assert abs(Decimal(amount) - Decimal(minutes) * rate / 60) <= Decimal("0.5")
    if minutes % 60 == 0:
        assert amount == minutes // 60 * rate
    assert hourly_amount(50, 11_000) == 9167
    assert Decimal(hours_quantity(minutes)) == (Decimal(minutes) / 60).quantize(Decimal("0.01"))


@given(
    late=st.dictionaries(
        st.sampled_from(["2026-01", "2026-02", "2025-12", "2026-03"]),
        st.integers(min_value=0, max_value=10_000),
    )
)
def test_late_work_gets_one_line_per_period(late: dict[str, int]) -> None:
    plan = Plan(overage_rate_minor=11_000, period="month")
    result = late_work_lines(plan, late)
    expected = sorted(label for label, minutes in late.items() if minutes)
    assert [line.kind for line in result] == ["late_work"] * len(expected)
    for label, line in zip(expected, result, strict=True):
        assert label in line.description
        assert line.amount_minor == hourly_amount(late[label], 11_000)
        assert line.unit_price_minor == 11_000


# --- period_fee ---------------------------------------------------------------------------------

months = st.builds(
    lambda year, month: date(year, month, 1),
    st.integers(min_value=2024, max_value=2028),
    st.integers(min_value=1, max_value=12),
)
plans = st.builds(
    lambda fee, discount, kind: Plan(
        fee_minor=fee, annual_discount_percent=discount, period=kind, billing_timing="arrears"
    ),
    st.integers(min_value=0, max_value=10_000_000),
    st.decimals(min_value=0, max_value=100, places=1, allow_nan=False, allow_infinity=False),
    st.sampled_from(["month", "quarter"]),
)


@st.composite
def contracts_around(draw: st.DrawFn, period: Period) -> Contract:
    """A contract that starts and ends anywhere from a month before to a month after."""
    span = (period.end - period.start).days + 62
    first = period.start - timedelta(days=31)
    start = first + timedelta(days=draw(st.integers(0, span)))
    end = None
    if draw(st.booleans()):
        end = start + timedelta(days=draw(st.integers(0, span)))
    return Contract(
        start_date=start,
        end_date=end,
        committed_months=draw(st.sampled_from([0, 1, 11, 12, 24, 36])),
    )


@settings(max_examples=400, deadline=None)
@given(data=st.data(), plan=plans, month=months)
def test_period_fee_is_between_zero_and_the_plan_fee(
    data: st.DataObject, plan: Plan, month: date
) -> None:
    period = period_containing(month, plan.period)
    contract = data.draw(contracts_around(period))
    fee = period_fee(contract, plan, period)
    assert 0 <= fee.fee_minor <= plan.fee_minor
    assert 0 <= fee.covered_days <= period.days
    assert -fee.fee_minor <= fee.discount_minor <= 0
    assert 0 <= fee.charged_minor <= fee.fee_minor
    if contract.committed_months < 12 or plan.annual_discount_percent == 0:
        assert fee.discount_minor == 0
    else:
        assert fee.discount_minor == -_half_up(
            Decimal(fee.fee_minor) * plan.annual_discount_percent / 100
        )
    # Pro rata by days, half-up.
    assert fee.fee_minor == _half_up(Decimal(plan.fee_minor) * fee.covered_days / period.days)
    if fee.covered_days == period.days:
        assert fee.fee_minor == plan.fee_minor and not fee.prorated
    if fee.covered_days == 0:
        assert fee.fee_minor == 0 and fee.charged_minor == 0


@settings(max_examples=200, deadline=None)
@given(plan=plans, month=months, committed=st.sampled_from([0, 12]))
def test_a_full_period_is_the_plan_fee_exactly(plan: Plan, month: date, committed: int) -> None:
    period = period_containing(month, plan.period)
    contract = Contract(
        start_date=period.start - timedelta(days=40), end_date=None, committed_months=committed
    )
    fee = period_fee(contract, plan, period)
    assert fee.fee_minor == plan.fee_minor
    assert fee.covered_days == period.days and not fee.prorated
    also_ending_on_the_last_day = Contract(
        start_date=period.start, end_date=period.end - timedelta(days=1), committed_months=committed
    )
    assert period_fee(also_ending_on_the_last_day, plan, period) == fee


@settings(max_examples=200, deadline=None)
@given(plan=plans, month=months, days=st.integers(min_value=0, max_value=120))
def test_more_covered_days_never_cost_less(plan: Plan, month: date, days: int) -> None:
    period = period_containing(month, plan.period)
    shorter = Contract(
        start_date=period.start, end_date=period.start + timedelta(days=days), committed_months=0
    )
    longer = Contract(
        start_date=period.start,
        end_date=period.start + timedelta(days=days + 1),
        committed_months=0,
    )
    assert period_fee(shorter, plan, period).fee_minor <= period_fee(longer, plan, period).fee_minor


@settings(max_examples=200, deadline=None)
@given(data=st.data(), plan=plans, month=months)
def test_month_fee_charged_shares_the_period_fee(
    data: st.DataObject, plan: Plan, month: date
) -> None:
    """The SLA credit's base: for a monthly plan the month's charged fee; for a quarter, its
    months' shares add up to the quarter's charged fee within one minor unit per month."""
    period = period_containing(month, plan.period)
    contract = data.draw(contracts_around(period))
    charged = period_fee(contract, plan, period).charged_minor
    shares = []
    first = period.start
    while first < period.end:
        shares.append(month_fee_charged_minor(contract, plan, first))
        first = add_months(first, 1)
    assert all(0 <= share <= charged for share in shares)
    if plan.period == "month":
        assert shares == [charged]
    else:
        assert abs(sum(shares) - charged) <= len(shares)
    assert month_period(period.start).start == period.start
