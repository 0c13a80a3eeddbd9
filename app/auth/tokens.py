"""Issue and check bearer tokens.

Tokens are 256 random bits, shown once. They are high-entropy, so a plain SHA-256 is enough to
make a leaked table useless while keeping the per-request check a single indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.auth.models import ApiToken
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
    row = session.scalar(select(ApiToken).where(col(ApiToken.token_hash) == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    assert row.id is not None
    return Principal(token_id=row.id, role=Role(row.role), customer_id=row.customer_id)
