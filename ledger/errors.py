"""Domain errors: raised by services, mapped to HTTP problems in one table in `app/errors.py`.

Each carries a human `detail`; validation errors also name the offending `field`.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base for every error a caller can act on."""

    title = "Request refused"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(DomainError):
    title = "Not found"


class InvalidInput(DomainError):
    """Input that is well-formed JSON but breaks a business rule (bad currency, shares ≠ 100 …)."""

    title = "Invalid input"


class Conflict(DomainError):
    """The request collides with the current state (duplicate code, closed period …)."""

    title = "Conflict"


class LimitExceeded(Conflict):
    """A contractual limit would be exceeded (authorized contacts, overage cap)."""

    title = "Limit exceeded"
