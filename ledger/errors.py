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

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(detail, field=field)
        self.errors = errors or ([(field, detail)] if field else [])

    @classmethod
    def from_validation(cls, exc: Exception) -> InvalidInput:
        """Every error of a pydantic ValidationError, each naming its field."""
        errors = []
        for error in exc.errors():  # type: ignore[attr-defined]
            field = ".".join(str(part) for part in error["loc"]) or "body"
            errors.append((field, str(error["msg"]).removeprefix("Value error, ")))
        detail = "; ".join(f"{field}: {message}" for field, message in errors)
        return cls(detail, field=errors[0][0] if errors else None, errors=errors)


class Conflict(DomainError):
    """The request collides with the current state (duplicate code, closed period …)."""

    title = "Conflict"


class LimitExceeded(Conflict):
    """A contractual limit would be exceeded (authorized contacts, overage cap)."""

    title = "Limit exceeded"
