"""payment_outbox.leased_until: one holder at a time for an invoice's PaymentIntent
(a collector or the portal's card payment)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledger.base

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('payment_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leased_until', ledger.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('payment_outbox', schema=None) as batch_op:
        batch_op.drop_column('leased_until')
