"""auto billing: auto_billing_runs, one row per month started unattended (exactly once)

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 21:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ledger.base

revision: str = '0010'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'auto_billing_runs',
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('claimed_by', sa.String(length=100), nullable=False),
        sa.Column('claimed_at', ledger.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('retries', sa.Integer(), nullable=False),
        sa.Column('last_retry_at', ledger.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['run_id'], ['billing_runs.id'], name=op.f('fk_auto_billing_runs_run_id_billing_runs')
        ),
        sa.PrimaryKeyConstraint('period_start', name=op.f('pk_auto_billing_runs')),
    )


def downgrade() -> None:
    op.drop_table('auto_billing_runs')
