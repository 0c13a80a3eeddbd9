"""The SLA routes under one router, so the app wires them with one name."""

from __future__ import annotations

from fastapi import APIRouter

from app.routes import contacts, incidents, tickets

router = APIRouter()
for module in (incidents, tickets, contacts):
    router.include_router(module.router)
