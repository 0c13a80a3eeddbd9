"""The plan fee of a period: pro-rated by days, less the annual discount.

The SLA credit is a share of "the fee actually charged for that month", so the same numbers
serve the invoice lines and the availability report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.periods import Period, month_period, overlap_days, period_containing

ANNUAL_TERM_MONTHS = 12


def round_minor(value: Decimal) -> int:
    """Half-up to a whole minor unit (values are already in minor units)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PeriodFee:
    period: Period
    covered_days: int
    fee_minor: int  # the fee line: the plan fee, pro-rated when the period is partial
    discount_minor: int  # the discount line: zero or negative

    @property
    def prorated(self) -> bool:
        return self.covered_days != self.period.days

    @property
    def charged_minor(self) -> int:
        return self.fee_minor + self.discount_minor


def has_annual_discount(contract: Contract) -> bool:
    return contract.committed_months >= ANNUAL_TERM_MONTHS


def period_fee(contract: Contract, plan: Plan, period: Period) -> PeriodFee:
    """SPEC worked example 4: 2,000.00 × 12/31 = 774.19; discount 10 % of the fee charged."""
    days = overlap_days(period, contract.start_date, contract.end_date)
    if days == period.days:
        fee = plan.fee_minor
    else:
        fee = round_minor(Decimal(plan.fee_minor) * days / period.days)
    discount = 0
    if has_annual_discount(contract) and fee:
        discount = -round_minor(Decimal(fee) * plan.annual_discount_percent / 100)
    return PeriodFee(period=period, covered_days=days, fee_minor=fee, discount_minor=discount)


def month_fee_charged_minor(contract: Contract, plan: Plan, month: date) -> int:
    """The fee charged for one calendar month, after discount and proration.

    For a quarterly plan, the quarter's charged fee is shared by the days the contract
    covers in each of its months."""
    period = period_containing(month, plan.period)
    fee = period_fee(contract, plan, period)
    if period.months == 1 or fee.covered_days == 0:
        return fee.charged_minor
    month_days = overlap_days(month_period(month), contract.start_date, contract.end_date)
    return round_minor(Decimal(fee.charged_minor) * month_days / fee.covered_days)


def unused_advance_fees(
    contract: Contract, plan: Plan, *, old_end: date | None, invoiced: set[date]
) -> list[tuple[Period, int]]:
    """After a cancellation, the part of each fee already billed in advance that the contract
    no longer covers: (period, amount to credit). `invoiced` holds the period starts of the
    contract's invoices; a period's advance fee was billed by the invoice of the period before
    it, or by its own when it is the contract's first."""
    if plan.billing_timing != "advance" or contract.end_date is None:
        return []
    shortened = Contract.model_validate(contract.model_dump() | {"end_date": old_end})
    first = period_containing(contract.start_date, plan.period)
    period = period_containing(contract.end_date, plan.period)
    refunds = []
    while period.start in invoiced or period.previous().start in invoiced:
        billed = (
            period.start in invoiced if period == first else period.previous().start in invoiced
        )
        if not billed:
            break
        before = period_fee(shortened, plan, period).charged_minor
        after = period_fee(contract, plan, period).charged_minor
        if before > after:
            refunds.append((period, before - after))
        period = period.next()
    return refunds
