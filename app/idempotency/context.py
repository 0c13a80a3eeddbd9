"""The claim of the request being served, shared by the claim and the request's session."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

current_claim: ContextVar[Any] = ContextVar("hourglass_idempotency_claim", default=None)
"""An `ActiveClaim` while a keyed write is served; None otherwise."""
