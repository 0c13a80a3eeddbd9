"""SLA figures of an invoiced period: service-credit lines and the PDF's SLA summary.

A credit is a share of the fee actually charged for the month (after discount and proration),
per impacted component, on that month's invoice (SPEC "SLA: availability and service credits").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from invoices import pdf
from invoices.fees import month_fee_charged_minor
from invoices.lines import Line
from invoices.period_inputs import SlaInputs, ToCompute, key_of, load_sla_inputs
from ledger.catalog.models import Plan
from ledger.contracts.models import Contract
from ledger.periods import Period, add_months, month_label, month_period, overlap_days
from ledger.sla.incidents import availability_report
from ledger.sla.tickets import sla_report


@dataclass(frozen=True)
class SlaForPeriod:
    credit_lines: tuple[Line, ...]
    summary: pdf.SlaSummary | None


def sla_for_period(
    session: Session,
    *,
    contract: Contract,
    plan: Plan,
    period: Period,
    now: datetime,
    inputs: SlaInputs | None = None,
) -> SlaForPeriod:
    """`inputs` are the period's incidents and tickets already read (a run's chunk reads them
    for all its contracts at once); without them they are read here, the same way."""
    if inputs is None:
        inputs = load_sla_inputs(session, [ToCompute(contract, plan, period)])[
            key_of(contract, period)
        ]
    lines: list[Line] = []
    components: list[pdf.ComponentAvailability] = []
    tickets: dict[str, list[int]] = {}
    month = period.start
    while month < period.end:
        if overlap_days(month_period(month), contract.start_date, contract.end_date):
            fee = month_fee_charged_minor(contract, plan, month)
            for row in availability_report(
                session,
                contract,
                plan,
                month,
                fee_charged_minor=fee,
                now=now,
                incidents=inputs.incidents,
            ):
                components.append(
                    pdf.ComponentAvailability(
                        name=row.name if period.months == 1 else f"{row.name} {month_label(month)}",
                        availability_percent=str(row.availability_percent),
                        credit_minor=row.credit_minor,
                    )
                )
                if row.credit_minor:
                    lines.append(
                        Line(
                            "service_credit",
                            f"Service credit {row.name} {month_label(month)}: availability "
                            f"{row.availability_percent} % → {row.credit_percent} % of "
                            f"{row.share_percent} % of the fee",
                            f"{row.credit_percent} %",
                            None,
                            -row.credit_minor,
                        )
                    )
            report = sla_report(session, contract, plan, month, now=now, tickets=inputs.tickets)
            for severity, figures in report.severities.items():
                counts = tickets.setdefault(severity, [0, 0, 0])
                counts[0] += figures.tickets
                counts[1] += figures.met
                counts[2] += figures.breached
            if report.breach_credit_minor:
                lines.append(
                    Line(
                        "service_credit",
                        f"Response-time credit {month_label(month)}: {report.breached} "
                        "breached tickets",
                        str(report.breached),
                        plan.credit_per_breach_minor,
                        -report.breach_credit_minor,
                    )
                )
        month = add_months(month, 1)
    summary = pdf.SlaSummary(
        components=tuple(components),
        tickets=_severity_tickets(tuple((s, c[0], c[1], c[2]) for s, c in sorted(tickets.items()))),
    )
    return SlaForPeriod(credit_lines=tuple(lines), summary=summary)


@lru_cache(maxsize=1024)
def _severity_tickets(
    counts: tuple[tuple[str, int, int, int], ...],
) -> tuple[pdf.SeverityTickets, ...]:
    """The summary's ticket rows (frozen) per distinct counts: most periods have none."""
    return tuple(
        pdf.SeverityTickets(severity=s, tickets=n, met=met, breached=breached)
        for s, n, met, breached in counts
    )
