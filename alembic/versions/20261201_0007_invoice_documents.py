"""invoice documents: the stored PDF (and later e-invoices) move from invoices and credit notes
into `invoice_documents`, one insert-only row per document and format

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-01 21:30:00
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import ledger.base

revision: str = '0007'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The invoice guard of 0004 without the columns that leave the table.
INVOICE_GUARD = """
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

OLD_INVOICE_GUARD = INVOICE_GUARD.replace(
    "    OR NEW.note IS DISTINCT FROM OLD.note\n",
    "    OR NEW.pdf IS DISTINCT FROM OLD.pdf\n"
    "    OR NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256\n"
    "    OR NEW.template_version IS DISTINCT FROM OLD.template_version\n",
)

DOCUMENTS_APPEND_ONLY = """
CREATE TRIGGER invoice_documents_append_only BEFORE UPDATE OR DELETE ON invoice_documents
  FOR EACH ROW EXECUTE FUNCTION hourglass_append_only();
"""


@contextmanager
def _sqlite_foreign_keys_off() -> Iterator[None]:
    """SQLite rebuilds a table to drop a column or a CHECK; with foreign keys on, dropping the
    old `invoices` would fail for every row another table points at. The pragma only changes
    between transactions, so this commits, switches it off, rebuilds, checks, and switches back
    (the documented SQLite procedure for schema changes)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite" or not bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        yield
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    yield
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade() -> None:
    op.create_table('invoice_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('credit_note_id', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('template_version', sa.String(length=16), nullable=False),
    sa.Column('created_at', ledger.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(invoice_id IS NULL) <> (credit_note_id IS NULL)", name=op.f('ck_invoice_documents_one_owner')),
    sa.CheckConstraint("format IN ('pdf', 'cii', 'xrechnung', 'ubl')", name=op.f('ck_invoice_documents_format_known')),
    sa.ForeignKeyConstraint(['credit_note_id'], ['credit_notes.id'], name=op.f('fk_invoice_documents_credit_note_id_credit_notes')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_documents_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_documents')),
    sa.UniqueConstraint('credit_note_id', 'format', name=op.f('uq_invoice_documents_credit_note_id_format')),
    sa.UniqueConstraint('invoice_id', 'format', name=op.f('uq_invoice_documents_invoice_id_format'))
    )
    op.execute(
        "INSERT INTO invoice_documents (invoice_id, format, content, sha256, template_version, "
        "created_at) SELECT id, 'pdf', pdf, pdf_sha256, template_version, "
        "COALESCE(issued_at, created_at) FROM invoices WHERE pdf IS NOT NULL "
        "AND pdf_sha256 IS NOT NULL AND template_version IS NOT NULL ORDER BY id"
    )
    op.execute(
        "INSERT INTO invoice_documents (credit_note_id, format, content, sha256, "
        "template_version, created_at) SELECT id, 'pdf', pdf, pdf_sha256, template_version, "
        "created_at FROM credit_notes ORDER BY id"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(INVOICE_GUARD)
        op.execute(DOCUMENTS_APPEND_ONLY)
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('invoices', schema=None) as batch_op:
            batch_op.drop_constraint(op.f('ck_invoices_issued_has_number_and_pdf'), type_='check')
            batch_op.create_check_constraint(
                op.f('ck_invoices_issued_has_number'), "status = 'draft' OR number IS NOT NULL"
            )
            batch_op.drop_column('template_version')
            batch_op.drop_column('pdf_sha256')
            batch_op.drop_column('pdf')
        if postgres:
            # Dropping columns is not an UPDATE: the append-only trigger is not in the way.
            op.drop_column('credit_notes', 'template_version')
            op.drop_column('credit_notes', 'pdf_sha256')
            op.drop_column('credit_notes', 'pdf')
        else:
            with op.batch_alter_table('credit_notes', schema=None) as batch_op:
                batch_op.drop_column('template_version')
                batch_op.drop_column('pdf_sha256')
                batch_op.drop_column('pdf')


def downgrade() -> None:
    """Back to PDFs on the rows; e-invoices have no place there and are dropped."""
    postgres = op.get_bind().dialect.name == "postgresql"
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('credit_notes', schema=None) as batch_op:
            batch_op.add_column(sa.Column('pdf', sa.LargeBinary(), nullable=True))
            batch_op.add_column(sa.Column('pdf_sha256', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('template_version', sa.String(length=16), nullable=True))
        with op.batch_alter_table('invoices', schema=None) as batch_op:
            batch_op.add_column(sa.Column('pdf', sa.LargeBinary(), nullable=True))
            batch_op.add_column(sa.Column('pdf_sha256', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('template_version', sa.String(length=16), nullable=True))
        if postgres:
            op.execute("ALTER TABLE credit_notes DISABLE TRIGGER credit_notes_append_only")
            op.execute("ALTER TABLE invoices DISABLE TRIGGER invoices_guard")
        for table, owner in (('invoices', 'invoice_id'), ('credit_notes', 'credit_note_id')):
            for column, source in (
                ('pdf', 'content'), ('pdf_sha256', 'sha256'), ('template_version', 'template_version')
            ):
                op.execute(
                    f"UPDATE {table} SET {column} = (SELECT d.{source} FROM invoice_documents d "
                    f"WHERE d.{owner} = {table}.id AND d.format = 'pdf')"
                )
        if postgres:
            op.execute("ALTER TABLE invoices ENABLE TRIGGER invoices_guard")
            op.execute("ALTER TABLE credit_notes ENABLE TRIGGER credit_notes_append_only")
            op.execute(OLD_INVOICE_GUARD)
        with op.batch_alter_table('credit_notes', schema=None) as batch_op:
            batch_op.alter_column('pdf', existing_type=sa.LargeBinary(), nullable=False)
            batch_op.alter_column('pdf_sha256', existing_type=sa.String(length=64), nullable=False)
            batch_op.alter_column('template_version', existing_type=sa.String(length=16), nullable=False)
        with op.batch_alter_table('invoices', schema=None) as batch_op:
            batch_op.drop_constraint(op.f('ck_invoices_issued_has_number'), type_='check')
            batch_op.create_check_constraint(
                op.f('ck_invoices_issued_has_number_and_pdf'),
                "status = 'draft' OR (number IS NOT NULL AND pdf_sha256 IS NOT NULL)",
            )
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS invoice_documents_append_only ON invoice_documents")
    op.drop_table('invoice_documents')
