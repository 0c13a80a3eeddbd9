"""Gapless invoice and credit-note numbers, per issuer and year of issue.

The sequence row is moved by one locked `UPDATE … RETURNING` in the same transaction that issues
the documents: a billing chunk reserves all its numbers at once. If that transaction rolls back
(an error, a killed process), so does the increment, so no number is ever skipped, and two
issuers running at once queue on the row instead of sharing a number.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from invoices.models import NumberSequence

FORMATS = {"invoice": "{year}-{value:06d}", "credit_note": "CN-{year}-{value:06d}"}


def reserve_numbers(
    session: Session, *, issuer: str, kind: str, year: int, count: int
) -> list[str]:
    """The next `count` numbers of the sequence, in order, from one locked update."""
    if count <= 0:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(NumberSequence)
        .values(issuer=issuer, kind=kind, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["issuer", "kind", "year"])
    )
    last = session.execute(
        sa.update(NumberSequence)
        .where(
            col(NumberSequence.issuer) == issuer,
            col(NumberSequence.kind) == kind,
            col(NumberSequence.year) == year,
        )
        .values(last_value=NumberSequence.last_value + count)
        .returning(col(NumberSequence.last_value))
    ).scalar_one()
    first = int(last) - count + 1
    return [FORMATS[kind].format(year=year, value=value) for value in range(first, first + count)]


def next_number(session: Session, *, issuer: str, kind: str, year: int) -> str:
    return reserve_numbers(session, issuer=issuer, kind=kind, year=year, count=1)[0]
