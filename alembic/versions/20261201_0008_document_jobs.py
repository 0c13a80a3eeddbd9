"""document jobs: issued invoices whose documents are still to render (after the issuing
commit, by any worker)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sqlmodel

import ledger.base

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('document_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('billing_run_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('created_at', ledger.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_document_jobs_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_jobs')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_document_jobs_invoice_id'))
    )
    op.create_index(op.f('ix_document_jobs_billing_run_id'), 'document_jobs', ['billing_run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_document_jobs_billing_run_id'), table_name='document_jobs')
    op.drop_table('document_jobs')
