"""`Idempotency-Key` on every write (SPEC rule 8), applied app-wide.

`idempotency_claim` is an application-level dependency, so it runs first on every route, those
added later included. On a POST/PUT/PATCH/DELETE that carries a key and a bearer token it claims
the key for that token. The claim commits on its own, before the request's unit of work begins,
so a second request with the same key sees it at once (in flight → 409). Every route's endpoint
builds its own response (`app.endpoint_responses`) before the request's session commits; a keyed
write's is stored in that same transaction: a replay can never disagree with what was written.
If the work fails, the claim is released and the key can be used again.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, delete, select
from starlette.concurrency import run_in_threadpool

from app.dependencies import principal_of
from app.endpoint_responses import wrap_routes
from app.idempotency.context import current_claim
from app.idempotency.models import IdempotencyKey
from ledger.base import utcnow
from ledger.errors import Conflict, InvalidInput

KEEP_FOR = timedelta(days=8)  # SPEC: at least 7 days
ABANDONED_AFTER = timedelta(minutes=5)  # an in-flight claim this old died with its process
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_BASE64 = "base64;"
log = logging.getLogger("hourglass")


class IdempotencyConflict(Conflict):
    title = "Idempotency-Key conflict"


class IdempotentReplay(Exception):
    def __init__(self, status: int, body: str, media_type: str | None = None) -> None:
        self.status = status
        self.body = body
        self.media_type = media_type


def replay_response(replay: IdempotentReplay) -> Response:
    media = replay.media_type or "application/json"
    if media.startswith(_BASE64):
        media = media.removeprefix(_BASE64)
        content = base64.b64decode(replay.body)
    else:
        content = replay.body.encode()
    return Response(
        content=content or None,
        status_code=replay.status,
        media_type=media if content else None,
        headers={"Idempotent-Replayed": "true"},
    )


@dataclass
class ActiveClaim:
    """A key claimed for this request; the request's session joins it when it opens."""

    factory: sessionmaker[Session]
    claim_id: int
    session: Session | None = None
    completed: bool = field(default=False)

    def complete(self, status: int, body: bytes, media_type: str | None) -> None:
        try:
            text, media = body.decode("utf-8"), media_type
        except UnicodeDecodeError:
            text, media = base64.b64encode(body).decode(), _BASE64 + (media_type or "")
        if self.session is not None:
            self._store(self.session, status, text, media)
            self.session.flush()
        else:  # a route without the request session: store it on its own
            session = self.factory()
            try:
                self._store(session, status, text, media)
                session.commit()
            finally:
                session.close()
        self.completed = True

    def _store(self, session: Session, status: int, text: str, media: str | None) -> None:
        row = session.get(IdempotencyKey, self.claim_id)
        assert row is not None
        row.state = "completed"
        row.response_status = status
        row.response_media_type = media
        row.response_body = text


_active = current_claim


def _fingerprint(raw: bytes, *, method: str, path: str) -> str:
    """Method, path and canonical body: the same key for another request is a conflict."""
    try:
        canonical = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = raw.decode("utf-8", "replace")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _claim(factory: sessionmaker[Session], *, token_id: int, key: str, fingerprint: str) -> int:
    session = factory()
    try:
        purge_expired(session)
        existing = session.scalar(
            select(IdempotencyKey).where(
                col(IdempotencyKey.token_id) == token_id, col(IdempotencyKey.key) == key
            )
        )
        now = utcnow()
        if existing is not None:
            if existing.fingerprint != fingerprint:
                raise IdempotencyConflict(
                    "this Idempotency-Key was already used with a different request",
                    field=HEADER,
                )
            if existing.state == "completed":
                assert existing.response_status is not None and existing.response_body is not None
                raise IdempotentReplay(
                    existing.response_status, existing.response_body, existing.response_media_type
                )
            if existing.created_at > now - ABANDONED_AFTER:
                raise IdempotencyConflict(
                    "a request with this Idempotency-Key is still in progress", field=HEADER
                )
            existing.created_at = now  # reclaim an abandoned claim
            session.commit()
            assert existing.id is not None
            return existing.id
        row = IdempotencyKey(token_id=token_id, key=key, fingerprint=fingerprint)
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id
    except IntegrityError as exc:
        session.rollback()
        raise IdempotencyConflict(
            "a request with this Idempotency-Key is still in progress", field=HEADER
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


def purge_expired(session: Session) -> int:
    """Drop keys past their keeping time; cheap (indexed), so every claim does it."""
    result = session.execute(
        delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < utcnow() - KEEP_FOR)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def idempotency_claim(request: Request) -> AsyncIterator[None]:
    """The application-wide dependency: a no-op unless a write carries a key and a token.

    Requests without a bearer token (the Stripe webhook) have no one to own a key: they are
    processed normally. An invalid or revoked token is refused (401) before any claim.
    """
    raw_key = request.headers.get(HEADER)
    route = request.scope.get("route")
    if (
        request.method not in WRITE_METHODS
        or raw_key is None
        or not raw_key.strip()
        or "authorization" not in request.headers
        or not isinstance(route, APIRoute)
    ):
        yield
        return
    key = raw_key.strip()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"at most {MAX_KEY_LENGTH} characters", field=HEADER)
    principal = await run_in_threadpool(principal_of, request)
    fingerprint = _fingerprint(await request.body(), method=request.method, path=request.url.path)
    factory: sessionmaker[Session] = request.app.state.session_factory
    claim_id = await run_in_threadpool(
        functools.partial(
            _claim, factory, token_id=principal.token_id, key=key, fingerprint=fingerprint
        )
    )
    claim = ActiveClaim(factory=factory, claim_id=claim_id)
    _active.set(claim)
    try:
        yield
    except BaseException:
        await run_in_threadpool(_release, factory, claim_id)
        raise
    else:
        if not claim.completed:  # a route `install` never saw: nothing to replay, free the key
            log.warning("%s %s: Idempotency-Key not stored", request.method, route.path)
            await run_in_threadpool(_release, factory, claim_id)
    finally:
        _active.set(None)


IdempotencyClaim = Depends(idempotency_claim, scope="function")
"""Give it to `FastAPI(dependencies=[...])`: it must come before every other dependency, so it
is set up first and torn down last, after the request's transaction has rolled back."""


def store_with_claim(response: Response) -> None:
    """`endpoint_responses`' hook: a keyed write's response is stored with its claim, in the
    request's transaction, before that commits (a replay can never disagree with the work)."""
    claim = _active.get()
    if claim is None or claim.completed:
        return
    claim.complete(response.status_code, bytes(response.body), response.headers.get("content-type"))


def install(app: FastAPI) -> None:
    """Have every route build its own response and store a keyed write's with its claim, and
    turn replays into responses. The claim itself is `IdempotencyClaim`, an app dependency."""
    wrap_routes(app, store_with_claim)

    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: Request, exc: IdempotentReplay) -> Response:
        return replay_response(exc)


# Kept for routes written against the earlier, per-route design: the generic layer now stores
# the response, so `respond` only builds it.
@dataclass
class Claim:
    key: str | None = None

    def respond(self, session: Session, result: Any, *, status: int = 201) -> JSONResponse:
        del session
        return JSONResponse(jsonable_encoder(result), status_code=status)


def _legacy_claim() -> Iterator[Claim]:
    yield Claim()


IdempotencyDep = Annotated[Claim, Depends(_legacy_claim)]
