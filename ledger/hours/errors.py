"""Refusals of the hours ledger."""

from __future__ import annotations

from ledger.errors import Conflict, InvalidInput, LimitExceeded


class PeriodClosed(Conflict):
    title = "Period already invoiced"


class OverageCapExceeded(LimitExceeded):
    title = "Overage cap exceeded"


class PoolingRefused(Conflict):
    title = "Pooling refused"


class OutsideContract(InvalidInput):
    title = "Outside the contract"


class AlreadyReversed(Conflict):
    title = "Already reversed"
