"""Request-scoped dependencies: the unit of work and the caller's identity."""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.auth.tokens import Principal, Role, authenticate
from app.idempotency.context import current_claim

READ_METHODS = frozenset({"GET", "HEAD"})
READ_ONLY = {"hourglass_read_only": True}
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the route returns, rolled back on any error.

    Declared with scope="function" so the commit happens before the response is sent: a
    failed commit can never follow a 2xx.

    `async`, though the work is not: opening a session does no I/O (its connection is taken
    at its first statement, in the route's thread), so only the commit of a write goes to the
    thread pool. A sync generator cost two thread-pool hops on every request (issue #12).
    """
    reading = request.method in READ_METHODS
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = read_session(factory) if reading else factory()
    claim = current_claim.get()
    if claim is not None:
        claim.session = session  # a keyed write stores its response in this transaction
    try:
        yield session
        if not reading and session.in_transaction():
            await run_in_threadpool(session.commit)
    except BaseException:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.rollback)
        raise
    finally:
        # A read's transaction (SQLite: a deferred BEGIN; PostgreSQL: autocommit) ends here
        # with nothing to keep: closing hands the connection back without a round trip.
        session.close()


_READ_FACTORIES: weakref.WeakKeyDictionary[sessionmaker[Session], sessionmaker[Session]] = (
    weakref.WeakKeyDictionary()
)


def read_factory(factory: sessionmaker[Session]) -> sessionmaker[Session] | None:
    """Sessions that read, for GETs and token lookups: on a copy of the engine (the same pool)
    with the read options set on every connection it hands out, so no statement is spent
    setting them. A read never takes the write lock (SQLite: a deferred BEGIN); on PostgreSQL
    it runs in autocommit, each statement with no BEGIN and ROLLBACK around it, two round
    trips fewer per request. None for a factory bound to a connection (a test's transaction).
    """
    if not isinstance(factory, sessionmaker):
        return None  # a test's own factory
    readers = _READ_FACTORIES.get(factory)
    if readers is None:
        bind = factory.kw.get("bind")
        if not isinstance(bind, Engine):
            return None
        options = _options_for(bind)
        kw = {k: v for k, v in factory.kw.items() if k != "bind"}
        readers = sessionmaker(bind=bind.execution_options(**options), class_=factory.class_, **kw)
        _READ_FACTORIES[factory] = readers
    return readers


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    description="an Hourglass API token (`hourglass token create`)",
    auto_error=False,
)


def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> Principal:
    """Checked in a short session of its own, so the request's unit of work (and, on SQLite,
    its write lock) only begins when the route does. (The bearer scheme is declared for the
    OpenAPI document; the header is read here, with our own 401s.)"""
    return principal_of(request)


def principal_of(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    session = read_session(request.app.state.session_factory)
    try:
        principal = authenticate(session, token.strip())
        session.rollback()
    finally:
        session.close()
    if principal is None:
        raise HTTPException(
            401, "the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def read_session(factory: sessionmaker[Session]) -> Session:
    """A session that only reads (a GET's, a token lookup's). From `read_factory` it opens
    without I/O; from a factory it cannot copy (a test's, maybe bound to a connection already
    in a transaction: no autocommit then) the options are set on its connection at once."""
    readers = read_factory(factory)
    if readers is not None:
        return readers()
    session = factory()
    bind = session.get_bind()
    try:
        session.connection(
            execution_options=_options_for(bind) if isinstance(bind, Engine) else READ_ONLY
        )
    except BaseException:
        session.close()
        raise
    return session


def _options_for(engine: Engine) -> dict[str, object]:
    return READ_ONLY | (AUTOCOMMIT if engine.dialect.name == "postgresql" else {})


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    allowed = frozenset(roles)

    # `async`, with the token lookup sent to the thread pool from here: as a plain function
    # depending on `get_principal` it was one more dependency to solve and one more trip
    # between threads on every request, for a set lookup (issue #12).
    async def _check(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
    ) -> Principal:
        principal = await run_in_threadpool(principal_of, request)
        if principal.role not in allowed:
            raise HTTPException(403, f"a {principal.role.value} token cannot do this")
        return principal

    return _check


FINANCE = Role.FINANCE
SUPPORT = Role.SUPPORT
CUSTOMER = Role.CUSTOMER
Finance = Annotated[Principal, Depends(require(FINANCE))]
FinanceOrSupport = Annotated[Principal, Depends(require(FINANCE, SUPPORT))]
AnyRole = Annotated[Principal, Depends(require(FINANCE, SUPPORT, CUSTOMER))]
FinanceOrCustomer = Annotated[Principal, Depends(require(FINANCE, CUSTOMER))]
