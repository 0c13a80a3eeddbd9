"""A billing run killed half-way (SIGKILL, no clean-up at all) and started again finishes the
work: one invoice per contract and period, numbers without gaps or duplicates, PDFs intact.

The run is the real `hourglass billing run` console script, as a subprocess, on a database of
its own; the test watches the invoices table and kills the process once some but not all
invoices exist.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.billing import make_biller
from app.settings import Settings
from invoices.documents import REQUIRED_FORMATS
from invoices.runs import flows
from invoices.runs.documents import BATCH_PER_PROCESS
from invoices.runs.models import BillingJob
from ledger.periods import parse_month
from tests.invoices.billing.helpers import (
    hourglass,
    invoice_number,
    load_dataset,
    open_database,
    reader,
    start_hourglass,
    stored_invoices,
    table_counts,
)

CONTRACTS = 24
# Small chunks so a kill lands between them; two rendering processes so the pool is killed too.
ENV = {"HOURGLASS_BILLING_CHUNK_SIZE": "3", "HOURGLASS_DOCUMENT_PROCESSES": "2"}
COUNTS = {
    "issuing": "SELECT count(*) FROM invoices",
    "rendering": "SELECT count(*) FROM invoice_documents WHERE format = 'pdf'",
}


def _kill_when(url: str, stage: str, threshold: int) -> int:
    """Start the run and SIGKILL it once `threshold` (some, not all) invoices or documents
    are committed."""
    process = start_hourglass(url, "billing", "run", "--period", "2026-01", env=ENV)
    watcher = reader(url)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with watcher.connect() as conn:
                seen = int(conn.execute(sa.text(COUNTS[stage])).scalar_one())
            if seen >= threshold:
                # The worker dies with its rendering processes (and multiprocessing's resource
                # tracker), as when its machine goes: the whole process group at once.
                os.killpg(process.pid, signal.SIGKILL)
                break
            if process.poll() is not None:
                _, err = process.communicate()
                pytest.fail(f"the run ended before it could be killed ({seen} {stage})\n{err}")
            time.sleep(0.01)
        else:
            pytest.fail(f"no progress in {stage} within two minutes")
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        process.communicate(timeout=30)
        return seen
    finally:
        if process.poll() is None:
            process.kill()
        watcher.dispose()


def _jobs_by_status(url: str) -> Counter[str]:
    with open_database(url) as factory, factory() as session:
        return Counter(session.scalars(sa.select(BillingJob.status)).all())


@pytest.mark.parametrize("stage", ["issuing", "rendering"])
def test_a_killed_run_resumes_without_duplicates_or_gaps(fresh_database: str, stage: str) -> None:
    url = fresh_database
    data = load_dataset(url, contracts=CONTRACTS, entries_per_contract=4)
    # A random point of the stage: documents commit a batch at a time (8 per process), so a
    # kill once the first batch is in lands while the second renders.
    last = CONTRACTS - 6 if stage == "issuing" else 2 * BATCH_PER_PROCESS
    threshold = random.Random().randint(3, last)

    seen = _kill_when(url, stage, threshold)
    after_kill = stored_invoices(url)
    rendered = [i for i in after_kill if i.pdf_digest is not None]
    if stage == "issuing":
        assert seen <= len(after_kill) < CONTRACTS, "the kill came too late"
    else:
        assert seen <= len(rendered) < CONTRACTS, "the kill came too late"
    # Whatever committed before the kill is whole and numbered without a gap; a document
    # stored is the one its digest names; an invoice without its documents has its job.
    assert sorted(i.number for i in after_kill) == [
        invoice_number(n) for n in range(1, len(after_kill) + 1)
    ]
    assert all(i.pdf_digest == i.pdf_sha256 for i in rendered)
    assert table_counts(url)["document_jobs"] == len(after_kill) - len(rendered)
    # The killed chunk held its jobs only inside its transaction: nothing is left to wait for.
    assert "running" not in _jobs_by_status(url)

    resumed = hourglass(url, "billing", "run", "--period", "2026-01", env=ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert "completed" in resumed.stdout and f"{CONTRACTS}/{CONTRACTS}" in resumed.stdout

    invoices = stored_invoices(url)
    per_contract = Counter((i.contract_id, i.period) for i in invoices)
    assert set(per_contract) == {(cid, "2026-01") for cid in data.contract_ids}
    assert set(per_contract.values()) == {1}
    assert sorted(i.number for i in invoices) == [
        invoice_number(n) for n in range(1, CONTRACTS + 1)
    ]
    for invoice in invoices:
        assert invoice.status == "issued"
        assert invoice.pdf_digest == invoice.pdf_sha256, invoice.number
        assert invoice.currency == data.currencies[invoice.contract_id]
        assert sum(line[4] for line in invoice.lines) == invoice.subtotal_minor
        assert invoice.total_minor == invoice.subtotal_minor + invoice.tax_minor
    # What was committed before the kill did not change.
    by_id = {i.id: i for i in invoices}
    for before in after_kill:
        now = by_id[before.id]
        assert replace(now, pdf_sha256=None, pdf_digest=None) == replace(
            before, pdf_sha256=None, pdf_digest=None
        )
        assert before.pdf_digest in (None, now.pdf_digest)
    counts = table_counts(url)
    assert counts["closed_periods"] == CONTRACTS
    assert counts["payment_outbox"] == CONTRACTS  # one each (every total is positive)
    assert counts["invoice_documents"] == CONTRACTS * len(REQUIRED_FORMATS)
    assert counts["document_jobs"] == 0
    assert counts["billing_runs"] == 1  # the second start resumed the same run

    # A run of the same period again changes nothing.
    with open_database(url) as factory:
        biller = make_biller(Settings(database_url=url), factory)
        run_id = flows.start_run(factory, parse_month("2026-01"), now=datetime.now(UTC))
        again = flows.work_run(biller, run_id)
    assert (again["status"], again["invoices"], again["failures"]) == ("completed", 0, [])
    assert stored_invoices(url) == invoices
    after = table_counts(url)
    assert {k: v for k, v in after.items() if not k.startswith("billing_")} == {
        k: v for k, v in counts.items() if not k.startswith("billing_")
    }
