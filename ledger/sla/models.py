"""Tables of the SLA records: incidents, tickets with their pauses, authorized contacts.

Only facts are stored. Availability, credits and ticket status are computed from them at read
time by the pure modules beside this one; a ticket keeps its `due_at` because it is needed in
every list and report, and is recomputed whenever its pauses change.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.base import utc_column, utcnow


class Incident(SQLModel, table=True):
    """Downtime of one or more service components; `ended_at` is None while it lasts."""

    __tablename__ = "incidents"
    __table_args__ = (
        sa.CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="ends_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_column=utc_column(index=True))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    scheduled: bool = False
    description: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class IncidentComponent(SQLModel, table=True):
    """One component an incident took down. Component names are service-wide: an incident
    affects every contract whose plan has a component of that name."""

    __tablename__ = "incident_components"
    __table_args__ = (sa.UniqueConstraint("incident_id", "component"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id")
    component: str = Field(max_length=100, index=True)


class Ticket(SQLModel, table=True):
    """A request with a severity, and when it was first answered."""

    __tablename__ = "tickets"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "reference"),
        sa.CheckConstraint("severity IN ('S1', 'S2', 'S3', 'S4')", name="severity_known"),
        sa.CheckConstraint(
            "responded_at IS NULL OR responded_at >= opened_at", name="response_after_opening"
        ),
        sa.Index("ix_tickets_contract_opened_at", "contract_id", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    severity: str = Field(max_length=2)
    reference: str = Field(max_length=100)
    opened_at: datetime = Field(sa_column=utc_column())
    # None while a pause without an end holds the clock before the target was used up.
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    responded_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class TicketPause(SQLModel, table=True):
    """Time the ticket waited on the customer; `ended_at` is None while it still waits."""

    __tablename__ = "ticket_pauses"
    __table_args__ = (
        sa.CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="ends_after_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    started_at: datetime = Field(sa_column=utc_column())
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class AuthorizedContact(SQLModel, table=True):
    """A person of the customer allowed to open tickets on a contract (emails kept lower-case)."""

    __tablename__ = "authorized_contacts"
    __table_args__ = (sa.UniqueConstraint("contract_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contracts.id")
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
