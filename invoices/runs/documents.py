"""Document jobs: an issued invoice's documents rendered after the issuing commit, by any worker.

A worker claims a batch of jobs with `FOR UPDATE SKIP LOCKED`, loads each invoice's
`DocumentData` (the database part), renders the batch in a process pool (the pure part, so it
uses every core), stores the documents and deletes the jobs in the same transaction. A worker
killed half-way leaves its jobs to the next one; storing is idempotent (ON CONFLICT DO NOTHING),
and the bytes are deterministic, so a batch rendered twice stores each document once.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.documents import DocumentData, Rendered, build_documents, document_data, insert_rows
from invoices.issuer import IssuerDetails
from invoices.runs.chunks import describe
from invoices.runs.completion import MAX_ATTEMPTS, finalize_if_done
from invoices.runs.models import DocumentJob

BATCH_PER_PROCESS = 8

_pool: Executor | None = None
_pool_size = 0


def _die_with_parent() -> None:
    """A rendering process ends with the worker that started it, even on kill -9 (Linux)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


def _executor(processes: int) -> Executor:
    """One pool per process, started on first use (spawn: safe beside the server's threads)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != processes:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("spawn")
        _pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_die_with_parent)
        _pool_size = processes
    return _pool


def _build(data: DocumentData) -> dict[str, Rendered] | str:
    try:
        return build_documents(data)
    except Exception as exc:  # reported on the job, not raised across the pool
        return describe(exc)


def _render_all(batch: Sequence[DocumentData], processes: int) -> list[dict[str, Rendered] | str]:
    if processes <= 1 or len(batch) < 2:
        return [_build(data) for data in batch]
    return list(_executor(processes).map(_build, batch, chunksize=1))


@dataclass(frozen=True)
class DocumentsResult:
    run_ids: frozenset[int]
    rendered: int
    failed: int


def render_documents(
    factory: Callable[[], Session], *, issuer: IssuerDetails, now: datetime, processes: int
) -> DocumentsResult | None:
    """Claim and render one batch of document jobs, store the documents, delete the jobs and
    complete the runs that were waiting for them; None when no job is waiting.

    PostgreSQL: one transaction, the batch claimed with `SKIP LOCKED` while it renders (the
    locks are on the jobs only, nobody else waits for them). SQLite runs one writer at a time:
    the data is read in one short transaction, rendered outside any, and stored in a second
    one, so the API is never held up by rendering (a second process rendering the same batch
    meanwhile would store nothing twice)."""
    session = factory()
    try:
        jobs = [
            (int(job.id or 0), job.invoice_id, job.billing_run_id)
            for job in session.scalars(
                select(DocumentJob)
                .where(col(DocumentJob.attempts) < MAX_ATTEMPTS)
                .order_by(col(DocumentJob.id))
                .limit(max(1, processes) * BATCH_PER_PROCESS)
                .with_for_update(skip_locked=True)
            )
        ]
        if not jobs:
            session.rollback()
            return None
        failures: dict[int, str] = {}
        loaded: list[tuple[int, DocumentData]] = []
        for job_id, invoice_id, _ in jobs:
            try:
                loaded.append((job_id, document_data(session, invoice_id, issuer=issuer)))
            except Exception as exc:
                failures[job_id] = describe(exc)
        if session.get_bind().dialect.name == "sqlite":
            session.commit()
        results = _render_all([data for _, data in loaded], processes)
        rows: list[dict[str, Any]] = []
        done: list[int] = []
        for (job_id, data), result in zip(loaded, results, strict=True):
            if isinstance(result, str):
                failures[job_id] = result
                continue
            done.append(job_id)
            rows += [
                {
                    "invoice_id": data.owner_id,
                    "credit_note_id": None,
                    "format": format,
                    "content": rendered.content,
                    "sha256": hashlib.sha256(rendered.content).hexdigest(),
                    "template_version": rendered.template_version,
                    "created_at": now,
                }
                for format, rendered in result.items()
            ]
        insert_rows(session, rows)
        if done:
            session.execute(sa.delete(DocumentJob).where(col(DocumentJob.id).in_(done)))
        for job_id, error in failures.items():
            session.execute(
                sa.update(DocumentJob)
                .where(col(DocumentJob.id) == job_id)
                .values(attempts=DocumentJob.attempts + 1, error=error)
            )
        run_ids = sorted({run for _, _, run in jobs if run is not None})
        for run_id in run_ids:
            finalize_if_done(session, run_id, now=now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return DocumentsResult(run_ids=frozenset(run_ids), rendered=len(done), failed=len(failures))


def documents_ready(session: Session, invoice_id: int) -> bool:
    """Whether an issued invoice's documents are all stored (what an e-mail waits for)."""
    return (
        session.scalar(
            select(sa.func.count())
            .select_from(DocumentJob)
            .where(col(DocumentJob.invoice_id) == invoice_id)
        )
        == 0
    )


def documents_waiting(session: Session, run_id: int | None = None) -> int:
    query = select(sa.func.count()).select_from(DocumentJob)
    if run_id is not None:
        query = query.where(col(DocumentJob.billing_run_id) == run_id)
    return int(session.scalar(query) or 0)
