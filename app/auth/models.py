"""The `api_tokens` table: only a SHA-256 of each token is kept."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.CheckConstraint("role IN ('finance', 'support', 'customer')", name="role_known"),
        sa.CheckConstraint(
            "(role = 'customer') = (customer_id IS NOT NULL)", name="customer_role_bound"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
