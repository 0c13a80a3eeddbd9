"""Issue and check bearer tokens.

Tokens are 256 random bits, shown once. They are high-entropy, so a plain SHA-256 is enough to
make a leaked table useless while keeping the per-request check a single indexed lookup.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.auth.models import ApiToken
from ledger.base import utcnow
from ledger.customers.service import get_customer
from ledger.errors import InvalidInput, NotFound

TOKEN_PREFIX = "hg_"


class Role(StrEnum):
    FINANCE = "finance"
    SUPPORT = "support"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Principal:
    token_id: int
    role: Role
    customer_id: int | None

    @property
    def visible_customer(self) -> int | None:
        """The only customer a customer token may see; None means unrestricted."""
        return self.customer_id if self.role is Role.CUSTOMER else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, *, role: Role, customer_id: int | None = None, name: str = ""
) -> tuple[ApiToken, str]:
    """Returns the stored row and the token itself, which is never stored and never shown again."""
    if role is Role.CUSTOMER:
        if customer_id is None:
            raise InvalidInput("a customer token needs --customer", field="customer_id")
        try:
            get_customer(session, customer_id)
        except NotFound as exc:
            raise InvalidInput(exc.detail, field="customer_id") from exc
    elif customer_id is not None:
        raise InvalidInput("only customer tokens are bound to a customer", field="customer_id")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        role=role.value,
        customer_id=customer_id,
        token_hash=hash_token(token),
        prefix=token[:10],
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str) -> Principal | None:
    """Every request's first query: four columns, the statement built once (building it and
    loading an `ApiToken` object cost more than the lookup itself; issue #12)."""
    row = session.execute(_lookup_statement(), {"token_hash": hash_token(token)}).first()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(token_id=row.id, role=Role(row.role), customer_id=row.customer_id)


@functools.cache
def _lookup_statement() -> sa.Select[Any]:
    tokens: sa.Table = ApiToken.__table__  # type: ignore[attr-defined]
    return sa.select(tokens.c.id, tokens.c.role, tokens.c.customer_id, tokens.c.revoked_at).where(
        tokens.c.token_hash == sa.bindparam("token_hash", type_=tokens.c.token_hash.type)
    )


class TokenRead(BaseModel):
    """What may be shown of a token: never the token itself, nor its hash."""

    id: int
    name: str
    role: Role
    customer_id: int | None
    prefix: str = Field(description="the token's first characters, to recognise it")
    created_at: datetime
    revoked_at: datetime | None


def to_read(row: ApiToken) -> TokenRead:
    assert row.id is not None
    return TokenRead(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        customer_id=row.customer_id,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def list_tokens(
    session: Session, *, after_id: int | None = None, limit: int = 1000
) -> list[ApiToken]:
    query = select(ApiToken).order_by(col(ApiToken.id)).limit(limit)
    if after_id is not None:
        query = query.where(col(ApiToken.id) > after_id)
    return list(session.scalars(query))


def revoke_token(session: Session, token_id: int) -> ApiToken:
    """From now on the token gets 401. Revoking a revoked token changes nothing."""
    row = session.get(ApiToken, token_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row
