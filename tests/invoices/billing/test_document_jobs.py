"""Document jobs at scale: claimed in batches, rendered in the pool while issuing goes on, stored
once per invoice and format, shared by workers without rendering a job twice."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.billing import make_biller
from app.settings import Settings
from invoices.documents import REQUIRED_FORMATS
from invoices.runs import flows
from invoices.runs.chunks import work_chunk
from invoices.runs.documents import DocumentsResult, render_alongside, render_documents
from invoices.runs.worker import tick
from ledger.base import unit_of_work
from ledger.periods import parse_month
from tests.invoices.billing.helpers import load_dataset, open_database, reader

CONTRACTS = 12
CHUNK = 4


def _documents(url: str) -> Counter[tuple[int, str]]:
    engine = reader(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT invoice_id, format FROM invoice_documents")).all()
    finally:
        engine.dispose()
    return Counter((int(invoice_id), str(format)) for invoice_id, format in rows)


def _scalar(url: str, query: str) -> int:
    engine = reader(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(query)).scalar_one())
    finally:
        engine.dispose()


def _document_inserts(factory: Any) -> list[int]:
    """Counts the INSERTs into invoice_documents the factory's engine sends (one per entry)."""
    seen: list[int] = []

    @event.listens_for(factory.kw["bind"], "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INVOICE_DOCUMENTS"):
            seen.append(1)

    return seen


def test_documents_are_rendered_while_the_run_is_still_issuing(fresh_database: str) -> None:
    """With a rendering pool, each tick bills a chunk while the pool renders the documents of
    the chunks before it, stored in one insert per batch; at the end every invoice has each
    of its formats exactly once and the run is complete."""
    url = fresh_database
    load_dataset(url, contracts=CONTRACTS, entries_per_contract=2)
    with open_database(url) as factory:
        biller = replace(
            make_biller(Settings(database_url=url), factory),
            chunk_size=CHUNK,
            document_processes=2,
        )
        inserts = _document_inserts(factory)
        run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
        assert tick(biller, run_id=run_id)
        assert _scalar(url, "SELECT count(*) FROM invoices") == CHUNK
        assert _documents(url) == Counter()  # nothing was issued before this chunk
        assert tick(biller, run_id=run_id)
        # The second chunk was billed and the first chunk's documents rendered meanwhile.
        assert _scalar(url, "SELECT count(*) FROM invoices") == 2 * CHUNK
        rendered = {invoice for invoice, _ in _documents(url)}
        assert len(rendered) == CHUNK
        assert _scalar(url, "SELECT count(*) FROM document_jobs") == CHUNK
        assert len(inserts) == 1, "a batch's documents go in one insert"
        summary = flows.work_run(biller, run_id)
    assert (summary["status"], summary["invoices"], summary["documents_pending"]) == (
        "completed",
        CONTRACTS,
        0,
    )
    stored = _documents(url)
    invoices = _scalar(url, "SELECT count(*) FROM invoices")
    assert invoices == CONTRACTS
    assert len({invoice for invoice, _ in stored}) == CONTRACTS
    assert set(stored.values()) == {1}
    assert {format for _, format in stored} == set(REQUIRED_FORMATS)
    assert _scalar(url, "SELECT count(*) FROM document_jobs") == 0


def _issue_without_documents(url: str, factory: Any) -> None:
    biller = make_biller(Settings(database_url=url), factory)
    flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
    while True:
        with unit_of_work(factory) as session:
            if work_chunk(session, issuer=biller.issuer, now=datetime.now(UTC), worker="t") is None:
                return


def test_a_failed_chunk_gives_its_claimed_documents_back(fresh_database: str) -> None:
    """If the chunk billed alongside a batch fails, the batch's claim is released untouched and
    the next worker renders those documents."""
    url = fresh_database
    load_dataset(url, contracts=3, entries_per_contract=1)
    with open_database(url) as factory:
        _issue_without_documents(url, factory)
        issuer = make_biller(Settings(database_url=url), factory).issuer

        def failing_chunk() -> None:
            raise RuntimeError("the chunk failed")

        with pytest.raises(RuntimeError, match="the chunk failed"):
            render_alongside(
                factory, failing_chunk, issuer=issuer, now=datetime.now(UTC), processes=2, limit=8
            )
        assert _documents(url) == Counter()
        assert _scalar(url, "SELECT count(*) FROM document_jobs WHERE attempts = 0") == 3
        result = render_documents(factory, issuer=issuer, now=datetime.now(UTC), processes=1)
    assert result is not None and (result.rendered, result.failed) == (3, 0)
    assert set(_documents(url).values()) == {1} and len(_documents(url)) == 3 * len(
        REQUIRED_FORMATS
    )


@pytest.mark.postgres_only
def test_workers_rendering_at_once_never_render_a_job_twice(
    fresh_database: str, db_kind: str
) -> None:
    """Three workers rendering the same backlog at once: `SKIP LOCKED` gives each job to one of
    them, so the documents they report add up to the invoices, each stored once."""
    url = fresh_database
    load_dataset(url, contracts=CONTRACTS, entries_per_contract=1)
    with open_database(url) as factory:
        _issue_without_documents(url, factory)
        issuer = make_biller(Settings(database_url=url), factory).issuer
        start = threading.Barrier(3)
        results: list[DocumentsResult] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                start.wait()
                while (
                    result := render_documents(
                        factory, issuer=issuer, now=datetime.now(UTC), processes=1
                    )
                ) is not None:
                    results.append(result)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.rendered for r in results) == CONTRACTS
    assert sum(r.failed for r in results) == 0
    stored = _documents(url)
    assert len(stored) == CONTRACTS * len(REQUIRED_FORMATS) and set(stored.values()) == {1}
    assert _scalar(url, "SELECT count(*) FROM document_jobs") == 0
