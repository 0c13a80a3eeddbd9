"""idempotency keys belong to the token that sent them: unique (token_id, key), response media type

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keys claimed before this revision were fingerprinted with their token but cannot be
    # attributed to it here; they are dropped (a retry of one of them runs again, as without key).
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('response_media_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_idempotency_keys_key'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_idempotency_keys_token_id_key'), ['token_id', 'key'])
        batch_op.create_foreign_key(batch_op.f('fk_idempotency_keys_token_id_api_tokens'), 'api_tokens', ['token_id'], ['id'])


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_idempotency_keys_token_id_api_tokens'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_idempotency_keys_token_id_key'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_idempotency_keys_key'), ['key'])
        batch_op.drop_column('response_media_type')
        batch_op.drop_column('token_id')
