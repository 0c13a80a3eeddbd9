"""The `idempotency_keys` table: one row per key and token, with the first response once known."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.CheckConstraint("state IN ('in_flight', 'completed')", name="state_known"),
        # A key belongs to the token that sent it: the same key from another token is another key.
        sa.UniqueConstraint("token_id", "key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_id: int | None = Field(default=None, foreign_key="api_tokens.id")
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(default="in_flight", max_length=10)
    response_status: int | None = None
    response_media_type: str | None = Field(default=None, max_length=100)
    response_body: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
