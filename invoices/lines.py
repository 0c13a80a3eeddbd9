"""The lines of a period's invoice, and its totals.

Every line is rounded half-up to the minor unit on its own; totals are sums of rounded lines;
tax is computed once on the subtotal (SPEC "Units and money", "Invoices").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from invoices.fees import period_fee, round_minor
from ledger import money
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.periods import Period, parse_month, period_containing


@dataclass(frozen=True)
class Line:
    kind: str
    description: str
    quantity: str
    unit_price_minor: int | None
    amount_minor: int


@dataclass(frozen=True)
class Totals:
    lines: tuple[Line, ...]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    carry_forward_minor: int  # credit owed on the next invoice (≥ 0)
    credit_applied_minor: int  # carried credit taken on this invoice (< 0: taken back)


def hours_quantity(minutes: int) -> str:
    """Hours with two decimals, for display; amounts are computed from the minutes."""
    return str((Decimal(minutes) / 60).quantize(Decimal("0.01")))


def hourly_amount(minutes: int, rate_minor: int) -> int:
    """Pro rata by minute: minutes × hourly rate ÷ 60, rounded half-up once."""
    return round_minor(Decimal(minutes) * rate_minor / 60)


def _fee_lines_for(contract: Contract, plan: Plan, period: Period, *, advance: bool) -> list[Line]:
    fee = period_fee(contract, plan, period)
    if fee.covered_days == 0:
        return []
    when = " (in advance)" if advance else ""
    name = f"Support fee {plan.name}, {_period_name(period)}{when}"
    if fee.prorated:
        lines = [
            Line(
                "fee",
                f"{name}, pro-rated {fee.covered_days}/{period.days} days",
                f"{fee.covered_days}/{period.days}",
                plan.fee_minor,
                fee.fee_minor,
            )
        ]
    else:
        lines = [Line("fee", name, "1", plan.fee_minor, fee.fee_minor)]
    if fee.discount_minor:
        lines.append(
            Line(
                "discount",
                f"Annual contract discount {plan.annual_discount_percent} %",
                f"{plan.annual_discount_percent} %",
                None,
                fee.discount_minor,
            )
        )
    return lines


def fee_lines(contract: Contract, plan: Plan, period: Period) -> list[Line]:
    """Arrears: the closing period's fee. Advance: the coming period's fee (and, on the first
    invoice of the contract, the first period's too, since no earlier invoice carried it)."""
    if plan.billing_timing == "arrears":
        return _fee_lines_for(contract, plan, period, advance=False)
    lines = []
    if period == period_containing(contract.start_date, plan.period):
        lines += _fee_lines_for(contract, plan, period, advance=False)
    lines += _fee_lines_for(contract, plan, period.next(), advance=True)
    return lines


def usage_lines(
    plan: Plan, period: Period, *, overage_minutes: int, on_demand_minutes: int
) -> list[Line]:
    lines = []
    if overage_minutes:
        lines.append(
            Line(
                "overage",
                f"Overage {_period_name(period)}: {hours_quantity(overage_minutes)} h",
                hours_quantity(overage_minutes),
                plan.overage_rate_minor,
                hourly_amount(overage_minutes, plan.overage_rate_minor),
            )
        )
    if on_demand_minutes:
        lines.append(
            Line(
                "on_demand",
                f"On-demand work {_period_name(period)}: {hours_quantity(on_demand_minutes)} h",
                hours_quantity(on_demand_minutes),
                plan.on_demand_rate_minor,
                hourly_amount(on_demand_minutes, plan.on_demand_rate_minor),
            )
        )
    return lines


def late_work_lines(plan: Plan, late_minutes_by_period: dict[str, int]) -> list[Line]:
    """Work posted late for already invoiced periods: its own line per period, overage rate.

    The keys are the months the periods start in; the line names the period as every label
    does (a quarter by its last month, with its first and last day)."""
    return [
        Line(
            "late_work",
            f"Late work for {_late_period_name(plan, label)}: {hours_quantity(minutes)} h",
            hours_quantity(minutes),
            plan.overage_rate_minor,
            hourly_amount(minutes, plan.overage_rate_minor),
        )
        for label, minutes in sorted(late_minutes_by_period.items())
        if minutes
    ]


def adjustment_lines(adjustments: Sequence[tuple[str, int]]) -> list[Line]:
    return [Line("adjustment", text, "1", amount, amount) for text, amount in adjustments]


def finish(
    lines: Sequence[Line],
    *,
    currency: str,
    carried_credit_minor: int,
    tax_rate_percent: Decimal,
    reverse_charge: bool,
) -> Totals:
    """Apply carried credit, keep the invoice from going negative, then tax the subtotal."""
    lines = list(lines)
    subtotal = sum(line.amount_minor for line in lines)
    if carried_credit_minor < 0:
        # Credit a voided invoice created had already been used: it is taken back.
        applied = carried_credit_minor
        lines.append(
            Line("credit_balance", "Credit withdrawn with a voided invoice", "1", None, -applied)
        )
    else:
        applied = min(carried_credit_minor, max(0, subtotal))
        if applied:
            lines.append(
                Line("credit_balance", "Credit balance from earlier invoices", "1", None, -applied)
            )
    subtotal -= applied
    carry_forward = carried_credit_minor - applied
    if subtotal < 0:
        # Credits never make an invoice negative: the remainder is owed on the next one.
        lines.append(
            Line("credit_balance", "Credit carried to the next invoice", "1", None, -subtotal)
        )
        carry_forward += -subtotal
        subtotal = 0
    tax = 0 if reverse_charge else round_minor(Decimal(subtotal) * tax_rate_percent / 100)
    money.exponent(currency)  # refuses an unknown currency early
    return Totals(
        lines=tuple(lines),
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
        carry_forward_minor=carry_forward,
        credit_applied_minor=applied,
    )


def _late_period_name(plan: Plan, first_month: str) -> str:
    return period_containing(parse_month(first_month), plan.period).range_label


def _period_name(period: Period) -> str:
    return period.range_label
