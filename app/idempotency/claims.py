"""Claiming an idempotency key before the work, completing it with the work.

The claim commits on its own, before the request's unit of work begins, so a second request
with the same key sees it at once (in flight → 409). The response is stored in the same
transaction as the work it describes, so a replay can never disagree with what was written.
If the work fails, the claim is released and the key can be used again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, delete, select

from app.auth.tokens import Principal
from app.dependencies import get_principal
from app.idempotency.models import IdempotencyKey
from ledger.base import utcnow
from ledger.errors import Conflict

KEEP_FOR = timedelta(days=8)  # SPEC: at least 7 days
ABANDONED_AFTER = timedelta(minutes=5)  # an in-flight claim this old died with its process


class IdempotencyConflict(Conflict):
    title = "Idempotency-Key conflict"


class IdempotentReplay(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body


def replay_response(replay: IdempotentReplay) -> JSONResponse:
    return JSONResponse(
        json.loads(replay.body),
        status_code=replay.status,
        headers={"Idempotent-Replayed": "true"},
    )


@dataclass
class Claim:
    """A claimed key (or None when the request carried no key)."""

    key: str | None
    claim_id: int | None = None

    def respond(self, session: Session, result: Any, *, status: int = 201) -> JSONResponse:
        """Store the response with the work (same transaction) and return it."""
        body = jsonable_encoder(result)
        if self.claim_id is not None:
            row = session.get(IdempotencyKey, self.claim_id)
            assert row is not None
            row.state = "completed"
            row.response_status = status
            row.response_body = json.dumps(body)
            session.flush()
        return JSONResponse(body, status_code=status)


async def _fingerprint(request: Request, principal: Principal) -> str:
    """Method, path, canonical body and the caller's token: another caller reusing a key is a
    conflict, never a replay of someone else's response."""
    raw = await request.body()
    try:
        canonical = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = raw.decode("utf-8", "replace")
    text = f"{principal.token_id} {request.method} {request.url.path}\n{canonical}"
    return hashlib.sha256(text.encode()).hexdigest()


def _claim(factory: sessionmaker[Session], key: str, fingerprint: str) -> int:
    session = factory()
    try:
        purge_expired(session)
        existing = session.scalar(select(IdempotencyKey).where(col(IdempotencyKey.key) == key))
        now = utcnow()
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise IdempotencyConflict(
                    "this Idempotency-Key was already used with a different request body",
                    field="Idempotency-Key",
                )
            if existing.state == "completed":
                assert existing.response_status is not None and existing.response_body is not None
                raise IdempotentReplay(existing.response_status, existing.response_body)
            if existing.created_at > now - ABANDONED_AFTER:
                raise IdempotencyConflict(
                    "a request with this Idempotency-Key is still in progress",
                    field="Idempotency-Key",
                )
            existing.created_at = now  # reclaim an abandoned claim
            session.commit()
            assert existing.id is not None
            return existing.id
        row = IdempotencyKey(key=key, fingerprint=fingerprint)
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id
    except IntegrityError as exc:
        session.rollback()
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is still in progress", field="Idempotency-Key"
        ) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _release(factory: sessionmaker[Session], claim_id: int) -> None:
    session = factory()
    try:
        session.execute(
            delete(IdempotencyKey).where(
                col(IdempotencyKey.id) == claim_id, col(IdempotencyKey.state) == "in_flight"
            )
        )
        session.commit()
    finally:
        session.close()


async def request_fingerprint(
    request: Request, principal: Annotated[Principal, Depends(get_principal)]
) -> str:
    return await _fingerprint(request, principal)


def idempotency_claim(
    request: Request,
    fingerprint: Annotated[str, Depends(request_fingerprint)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="repeat a request safely: same key and body → the first result",
        ),
    ] = None,
) -> Iterator[Claim]:
    """Declare it after the role check and BEFORE the session parameter: it is set up after
    authorisation and torn down last, after the request's transaction has rolled back."""
    if idempotency_key is None or not idempotency_key.strip():
        yield Claim(key=None)
        return
    factory = request.app.state.session_factory
    claim_id = _claim(factory, idempotency_key.strip(), fingerprint)
    try:
        yield Claim(key=idempotency_key, claim_id=claim_id)
    except BaseException:
        _release(factory, claim_id)
        raise


def purge_expired(session: Session) -> int:
    """Drop keys past their keeping time; cheap (indexed), so every claim does it."""
    result = session.execute(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < utcnow() - KEEP_FOR)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


IdempotencyDep = Annotated[Claim, Depends(idempotency_claim, scope="function")]
