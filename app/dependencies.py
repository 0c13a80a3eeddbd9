"""Request-scoped dependencies: the unit of work and the caller's identity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.auth.tokens import Principal, Role, authenticate
from app.idempotency.context import current_claim

READ_METHODS = frozenset({"GET", "HEAD"})
READ_ONLY = {"hourglass_read_only": True}
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on any error.

    Declared with scope="function" so the commit happens before the response is sent: a
    failed commit can never follow a 2xx.
    """
    session: Session = request.app.state.session_factory()
    claim = current_claim.get()
    if claim is not None:
        claim.session = session  # a keyed write stores its response in this transaction
    try:
        if request.method in READ_METHODS:
            # A GET never writes (SPEC "Security"): on SQLite its transaction begins deferred,
            # so a read never takes (or waits for) the write lock. (PostgreSQL reads take no
            # row locks: the services only lock in writes.) On PostgreSQL it runs in
            # autocommit, as the token lookup does: under READ COMMITTED each statement reads
            # its own snapshot inside a transaction too, so BEGIN and COMMIT only cost two
            # round trips (of a balance's five).
            session.connection(execution_options=_lookup_options(session))
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
    session: Session = request.app.state.session_factory()
    try:
        session.connection(execution_options=_lookup_options(session))
        principal = authenticate(session, token.strip())
        session.rollback()
    finally:
        session.close()
    if principal is None:
        raise HTTPException(
            401, "the bearer token is not valid", headers={"WWW-Authenticate": "Bearer"}
        )
    return principal


def _lookup_options(session: Session) -> dict[str, object]:
    """A lookup never takes the write lock (SQLite: a deferred BEGIN). On PostgreSQL it runs
    in autocommit, one statement with no BEGIN and ROLLBACK around it: two round trips fewer
    on every request. (Not on a session bound to a connection already in a transaction.)"""
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return READ_ONLY | AUTOCOMMIT
    return READ_ONLY


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only the given roles through (403 otherwise)."""

    allowed = frozenset(roles)

    # `async`, though it awaits nothing: a plain function would be sent to the thread pool and
    # back, a round trip between threads on every request for a set lookup (issue #12).
    async def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
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
