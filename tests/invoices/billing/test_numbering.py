"""Gapless numbers per issuer, document kind and year, even under concurrent issuing.

The concurrency test runs on PostgreSQL, on a database of its own with real commits: many
connections ask for numbers at once, some of their transactions roll back after taking one.
"""

from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import unit_of_work
from invoices.models import NumberSequence
from invoices.numbering import next_number
from tests.invoices.billing.helpers import open_database

THREADS = 8
CALLS = 10


def _value(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def test_numbers_are_sequential_per_issuer_kind_and_year(session: Session) -> None:
    def take(issuer: str, kind: str, year: int) -> str:
        return next_number(session, issuer=issuer, kind=kind, year=year)

    assert [take("Alpha GmbH", "invoice", 2026) for _ in range(3)] == [
        "2026-000001",
        "2026-000002",
        "2026-000003",
    ]
    # Another issuer, another year and credit notes each count from 1.
    assert take("Beta Ltd", "invoice", 2026) == "2026-000001"
    assert take("Alpha GmbH", "invoice", 2027) == "2027-000001"
    assert take("Alpha GmbH", "credit_note", 2026) == "CN-2026-000001"
    assert take("Alpha GmbH", "credit_note", 2026) == "CN-2026-000002"
    # … and leave the others alone.
    assert take("Alpha GmbH", "invoice", 2026) == "2026-000004"
    assert take("Beta Ltd", "invoice", 2026) == "2026-000002"
    assert take("Alpha GmbH", "invoice", 2027) == "2027-000002"


def test_a_rolled_back_number_is_taken_again(session: Session) -> None:
    assert next_number(session, issuer="Gamma", kind="invoice", year=2026) == "2026-000001"
    savepoint = session.begin_nested()
    assert next_number(session, issuer="Gamma", kind="invoice", year=2026) == "2026-000002"
    savepoint.rollback()
    assert next_number(session, issuer="Gamma", kind="invoice", year=2026) == "2026-000002"


@pytest.mark.postgres_only
def test_concurrent_issuing_leaves_no_gap_and_no_duplicate(
    fresh_database: str, db_kind: str
) -> None:
    """8 connections × 10 transactions, two issuers and credit notes interleaved; about one
    transaction in four rolls back after taking its number. What committed is exactly
    1..N per sequence."""
    scopes = [
        ("Alpha GmbH", "invoice"),
        ("Beta Ltd", "invoice"),
        ("Alpha GmbH", "credit_note"),
    ]
    committed: dict[tuple[str, str], list[str]] = {scope: [] for scope in scopes}
    rolled_back = 0
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    with open_database(fresh_database) as factory:

        def worker(seed: int) -> None:
            nonlocal rolled_back
            rng = random.Random(seed)
            try:
                start.wait()
                for call in range(CALLS):
                    # The very first transaction of thread 0 rolls back: it may be the one
                    # that created the sequence rows.
                    roll_back = (seed == 0 and call == 0) or rng.random() < 0.25
                    scope = scopes[rng.randrange(len(scopes))]
                    session = factory()
                    try:
                        number = next_number(session, issuer=scope[0], kind=scope[1], year=2026)
                        if roll_back:
                            session.rollback()
                            with lock:
                                rolled_back += 1
                            continue
                        session.commit()
                        with lock:
                            committed[scope].append(number)
                    finally:
                        session.close()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert rolled_back > 0

        total = 0
        for (issuer, kind), numbers in committed.items():
            prefix = "CN-2026-" if kind == "credit_note" else "2026-"
            assert all(n.startswith(prefix) for n in numbers), numbers
            values = sorted(_value(n) for n in numbers)
            assert values == list(range(1, len(numbers) + 1)), (issuer, kind, values)
            total += len(numbers)
            with unit_of_work(factory) as session:
                row = session.scalar(
                    sa.select(NumberSequence).where(
                        NumberSequence.issuer == issuer,  # type: ignore[arg-type]
                        NumberSequence.kind == kind,  # type: ignore[arg-type]
                    )
                )
                assert row is not None and row.last_value == len(numbers)
        assert total + rolled_back == THREADS * CALLS
