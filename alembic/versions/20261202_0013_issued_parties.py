"""invoices.parties and credit_notes.parties: the customer's and the issuer's details as of
issue, which the documents (rendered after the commit) are built from; NULL for the rows issued
before, whose documents are built from the live rows as before

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The invoice guard of 0007, and an issued invoice's parties as immutable as its number (json
# has no equality operator: compared as text, which json stores verbatim).
GUARD_0007 = """
CREATE OR REPLACE FUNCTION hourglass_invoice_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN
      RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.number, OLD.status;
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND (
       NEW.number IS DISTINCT FROM OLD.number
    OR NEW.customer_id IS DISTINCT FROM OLD.customer_id
    OR NEW.contract_id IS DISTINCT FROM OLD.contract_id
    OR NEW.period_start IS DISTINCT FROM OLD.period_start
    OR NEW.period_end IS DISTINCT FROM OLD.period_end
    OR NEW.currency IS DISTINCT FROM OLD.currency
    OR NEW.issue_date IS DISTINCT FROM OLD.issue_date
    OR NEW.due_date IS DISTINCT FROM OLD.due_date
    OR NEW.subtotal_minor IS DISTINCT FROM OLD.subtotal_minor
    OR NEW.tax_rate_percent IS DISTINCT FROM OLD.tax_rate_percent
    OR NEW.tax_minor IS DISTINCT FROM OLD.tax_minor
    OR NEW.total_minor IS DISTINCT FROM OLD.total_minor
    OR NEW.reverse_charge IS DISTINCT FROM OLD.reverse_charge
    OR NEW.note IS DISTINCT FROM OLD.note
  ) THEN
    RAISE EXCEPTION 'invoice % is issued and immutable', OLD.number;
  END IF;
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
       (OLD.status = 'draft' AND NEW.status = 'issued')
    OR (OLD.status = 'issued' AND NEW.status IN ('paid', 'void'))
  ) THEN
    RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.number, OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

GUARD = GUARD_0007.replace(
    "    OR NEW.note IS DISTINCT FROM OLD.note\n",
    "    OR NEW.note IS DISTINCT FROM OLD.note\n"
    "    OR NEW.parties::text IS DISTINCT FROM OLD.parties::text\n",
)


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parties', sa.JSON(), nullable=True))
    # Adding a column is no UPDATE: the credit notes' append-only trigger is not in the way.
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parties', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(GUARD_0007)
    # A plain DROP COLUMN on both engines (SQLite has one since 3.35): no batch rebuild of
    # `invoices`, which other tables' foreign keys point at; dropping is no UPDATE either.
    op.drop_column('credit_notes', 'parties')
    op.drop_column('invoices', 'parties')
