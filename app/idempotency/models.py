"""The `idempotency_keys` table: one row per key, with the first response once it is known."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.CheckConstraint("state IN ('in_flight', 'completed')", name="state_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True)
    fingerprint: str = Field(max_length=64)
    state: str = Field(default="in_flight", max_length=10)
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
