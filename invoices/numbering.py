"""Gapless invoice and credit-note numbers, per issuer and year of issue.

The sequence row is locked and incremented in the same transaction that issues the document:
if that transaction rolls back (an error, a killed process), so does the increment, so no
number is ever skipped, and two issuers running at once queue on the row instead of sharing
a number.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import NumberSequence

FORMATS = {"invoice": "{year}-{value:06d}", "credit_note": "CN-{year}-{value:06d}"}


def next_number(session: Session, *, issuer: str, kind: str, year: int) -> str:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        session.execute(
            insert(NumberSequence)
            .values(issuer=issuer, kind=kind, year=year, last_value=0)
            .on_conflict_do_nothing(index_elements=["issuer", "kind", "year"])
        )
    sequence = session.scalar(
        select(NumberSequence)
        .where(
            col(NumberSequence.issuer) == issuer,
            col(NumberSequence.kind) == kind,
            col(NumberSequence.year) == year,
        )
        .with_for_update()
    )
    if sequence is None:  # SQLite: one writer at a time, so a plain insert is safe
        sequence = NumberSequence(issuer=issuer, kind=kind, year=year, last_value=0)
        session.add(sequence)
        session.flush()
    session.execute(
        sa.update(NumberSequence)
        .where(col(NumberSequence.id) == sequence.id)
        .values(last_value=NumberSequence.last_value + 1)
    )
    session.refresh(sequence)
    return FORMATS[kind].format(year=year, value=sequence.last_value)
