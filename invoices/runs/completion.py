"""Finishing a billing run, and the figures of its progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.models import Invoice
from invoices.notifications import events as notify
from invoices.runs.models import BillingJob, BillingRun, DocumentJob
from ledger import money

MAX_ATTEMPTS = 3  # a document job failing this often is reported on its run


def finalize_if_done(session: Session, run_id: int, *, now: datetime) -> bool:
    """Complete the run once no job of it is left and every invoice of it has its documents,
    in the caller's transaction.

    The run row is locked first: two workers finishing its last chunks at once queue here, and
    the second sees the first one's jobs done. The one place where a run completes (its
    `billing_run.completed` event belongs here)."""
    run = session.scalar(select(BillingRun).where(col(BillingRun.id) == run_id).with_for_update())
    assert run is not None
    if run.status != "running":
        return False
    # EXISTS, not a count: called after every chunk and every document batch, it must stay
    # cheap however many jobs a run has.
    open_jobs = sa.exists().where(
        col(BillingJob.run_id) == run_id, col(BillingJob.status).in_(["pending", "running"])
    )
    open_documents = sa.exists().where(
        col(DocumentJob.billing_run_id) == run_id, col(DocumentJob.attempts) < MAX_ATTEMPTS
    )
    if session.scalar(select(sa.or_(open_jobs, open_documents))):
        return False
    run.summary = run_summary(session, run_id)
    run.status = "completed_with_failures" if run.summary["failures"] else "completed"
    run.finished_at = now
    session.flush()
    notify.billing_run_completed(session, run, now=now)
    return True


def run_summary(session: Session, run_id: int) -> dict[str, Any]:
    """Contracts, invoices, totals per currency and failures of a run, in aggregate
    queries (the progress bar asks for it while the run goes on)."""
    by_status = dict(
        session.execute(
            select(col(BillingJob.status), sa.func.count())
            .where(col(BillingJob.run_id) == run_id)
            .group_by(col(BillingJob.status))
        ).all()
    )
    totals = session.execute(
        select(col(Invoice.currency), sa.func.count(), sa.func.sum(Invoice.total_minor))
        .where(col(Invoice.billing_run_id) == run_id)
        .group_by(col(Invoice.currency))
        .order_by(col(Invoice.currency))
    ).all()
    failures = session.execute(
        select(col(BillingJob.contract_id), col(BillingJob.error))
        .where(col(BillingJob.run_id) == run_id, col(BillingJob.status) == "failed")
        .order_by(col(BillingJob.contract_id))
    ).all()
    documents_pending = session.scalar(
        select(sa.func.count())
        .select_from(DocumentJob)
        .where(col(DocumentJob.billing_run_id) == run_id, col(DocumentJob.attempts) < MAX_ATTEMPTS)
    )
    failed_documents = session.execute(
        select(col(DocumentJob.error), col(Invoice.contract_id))
        .join(Invoice, col(Invoice.id) == col(DocumentJob.invoice_id))
        .where(col(DocumentJob.billing_run_id) == run_id, col(DocumentJob.attempts) >= MAX_ATTEMPTS)
        .order_by(col(DocumentJob.id))
    ).all()
    return {
        "contracts": sum(by_status.values()),
        "done": by_status.get("done", 0),
        "failed": by_status.get("failed", 0),
        "pending": by_status.get("pending", 0) + by_status.get("running", 0),
        "invoices": sum(count for _, count, _ in totals),
        "totals": {c: money.format_amount(int(v or 0), c) for c, _, v in totals},
        "documents_pending": int(documents_pending or 0),
        "failures": [{"contract_id": cid, "error": error} for cid, error in failures]
        + [{"contract_id": cid, "error": f"documents: {error}"} for error, cid in failed_documents],
    }
