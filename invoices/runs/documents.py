"""Document jobs: an issued invoice's documents rendered after the issuing commit, by any worker.

A worker claims a batch of jobs with `FOR UPDATE SKIP LOCKED`, loads the batch's `DocumentData`
(the database part, `documents_data`: a fixed number of queries for the whole batch) and hands
each to a process pool (the pure part, on every core), then stores the whole batch's documents
in one insert and deletes its jobs in the same transaction. `render_alongside` keeps the pool
rendering while the worker issues a chunk, so documents of a run are made while issuing still
goes on. A worker killed half-way leaves its jobs to the next one; storing is idempotent (ON
CONFLICT DO NOTHING), and the bytes are deterministic, so a batch rendered twice stores each
document once.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import col, select

from invoices.documents import DocumentData, Rendered, build_documents, documents_data, insert_rows
from invoices.issuer import IssuerDetails
from invoices.runs.chunks import describe
from invoices.runs.completion import MAX_ATTEMPTS, finalize_if_done
from invoices.runs.models import DocumentJob

BATCH_PER_PROCESS = 8

T = TypeVar("T")

_pool: Executor | None = None
_pool_size = 0


def _start_renderer() -> None:
    """A rendering process ends with the worker that started it, even on kill -9 (Linux), and
    yields the cores to issuing and the database: a renderer holds no lock, while a chunk holds
    its contracts and, at the end, the invoice sequence, which every other worker waits for."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if hasattr(os, "nice"):
        os.nice(RENDERER_NICENESS)


PR_SET_PDEATHSIG = 1
RENDERER_NICENESS = 10


def _executor(processes: int) -> Executor:
    """One pool per process, started on first use (spawn: safe beside the server's threads)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != processes:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("spawn")
        _pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start_renderer)
        _pool_size = processes
    return _pool


def _build(data: DocumentData) -> dict[str, Rendered] | str:
    try:
        return build_documents(data)
    except Exception as exc:  # reported on the job, not raised across the pool
        return describe(exc)


@dataclass(frozen=True)
class DocumentsResult:
    run_ids: frozenset[int]
    rendered: int
    failed: int


Outcome = dict[str, Rendered] | str


@dataclass
class _Batch:
    """Claimed jobs whose documents are rendering. On PostgreSQL `session` holds the claim (an
    open transaction) until `_store`; on SQLite it was committed after loading."""

    session: Session
    run_ids: frozenset[int]
    rendering: list[tuple[int, int, Future[Outcome] | DocumentData]] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)


def _claim(
    factory: Callable[[], Session], *, issuer: IssuerDetails, limit: int, processes: int
) -> _Batch | None:
    """Claim up to `limit` jobs and load them, each handed to the pool as soon as it is
    loaded; None (and no transaction left open) when no job is waiting."""
    session = factory()
    try:
        jobs = session.execute(
            select(
                col(DocumentJob.id), col(DocumentJob.invoice_id), col(DocumentJob.billing_run_id)
            )
            .where(col(DocumentJob.attempts) < MAX_ATTEMPTS)
            .order_by(col(DocumentJob.id))
            .limit(max(1, limit))
            .with_for_update(skip_locked=True)
        ).all()
        if not jobs:
            session.rollback()
            session.close()
            return None
        batch = _Batch(
            session=session, run_ids=frozenset(run for _, _, run in jobs if run is not None)
        )
        pool = _executor(processes) if processes > 1 and len(jobs) > 1 else None
        try:
            loaded = documents_data(
                session, [invoice_id for _, invoice_id, _ in jobs], issuer=issuer
            )
        except Exception as exc:  # the batch's reads failed: every job of it is retried later
            loaded = {invoice_id: exc for _, invoice_id, _ in jobs}
        for job, invoice_id, _ in jobs:
            job_id = int(job or 0)  # a primary key, never None
            data = loaded[invoice_id]
            if isinstance(data, Exception):
                batch.failures[job_id] = describe(data)
                continue
            work = pool.submit(_build, data) if pool is not None else data
            batch.rendering.append((job_id, invoice_id, work))
        del loaded
        session.expunge_all()  # nothing of the batch is kept past its loading
        if session.get_bind().dialect.name == "sqlite":
            session.commit()  # one writer at a time: never hold the database while rendering
    except BaseException:
        session.rollback()
        session.close()
        raise
    return batch


def _store(batch: _Batch, *, now: datetime) -> DocumentsResult:
    """Wait for the batch's documents, store them in one insert, delete the jobs done, record
    the failures and complete the runs that were waiting for them; one transaction."""
    session = batch.session
    try:
        rows: list[dict[str, Any]] = []
        done: list[int] = []
        for job_id, invoice_id, work in batch.rendering:
            result = work.result() if isinstance(work, Future) else _build(work)
            if isinstance(result, str):
                batch.failures[job_id] = result
                continue
            done.append(job_id)
            rows += [
                {
                    "invoice_id": invoice_id,
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
        for job_id, error in batch.failures.items():
            session.execute(
                sa.update(DocumentJob)
                .where(col(DocumentJob.id) == job_id)
                .values(attempts=DocumentJob.attempts + 1, error=error)
            )
        for run_id in sorted(batch.run_ids):
            finalize_if_done(session, run_id, now=now)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return DocumentsResult(run_ids=batch.run_ids, rendered=len(done), failed=len(batch.failures))


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
    batch = _claim(
        factory, issuer=issuer, limit=max(1, processes) * BATCH_PER_PROCESS, processes=processes
    )
    return None if batch is None else _store(batch, now=now)


def render_alongside(
    factory: Callable[[], Session],
    work: Callable[[], T],
    *,
    issuer: IssuerDetails,
    now: datetime,
    processes: int,
    limit: int,
) -> tuple[DocumentsResult | None, T]:
    """Claim up to `limit` document jobs and let the pool render them while `work` (a chunk of
    issuing, in its own transaction) runs in this process; then store them.

    The claim's transaction holds row locks on those document jobs only, which issuing never
    touches, so the two transactions of this one process cannot wait for each other."""
    batch = _claim(factory, issuer=issuer, limit=limit, processes=processes)
    try:
        outcome = work()
    except BaseException:
        if batch is not None:
            batch.session.rollback()
            batch.session.close()
        raise
    return (None if batch is None else _store(batch, now=now)), outcome


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
