"""Billing runs and their jobs (one per contract): the PostgreSQL-backed job queue.

Workers claim jobs with `SELECT … FOR UPDATE SKIP LOCKED`, so any number of processes on any
number of machines share one run; on SQLite one process works through the same table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class BillingRun(SQLModel, table=True):
    __tablename__ = "billing_runs"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'completed_with_failures')", name="status_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    period_start: date = Field(index=True)
    period_label: str = Field(max_length=7)
    status: str = Field(default="running", max_length=32)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class BillingJob(SQLModel, table=True):
    __tablename__ = "billing_jobs"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "contract_id"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')", name="status_known"
        ),
        sa.Index("ix_billing_jobs_claim", "status", "run_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="billing_runs.id")
    contract_id: int = Field(foreign_key="contracts.id")
    status: str = Field(default="pending", max_length=10)
    attempts: int = 0
    invoices_issued: int = 0
    error: str | None = Field(default=None, max_length=1000)
    worker: str | None = Field(default=None, max_length=100)
    locked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class DocumentJob(SQLModel, table=True):
    """An issued invoice whose documents are still to render: written in the issuing
    transaction, claimed with `FOR UPDATE SKIP LOCKED` by any worker, deleted in the transaction
    that stores the documents. A run is complete once none of its invoices has one."""

    __tablename__ = "document_jobs"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoices.id", unique=True)
    billing_run_id: int | None = Field(default=None, index=True)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
