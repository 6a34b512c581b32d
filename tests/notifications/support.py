"""Helpers for notification tests: partners with numbers, dispatched runs, the message log."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from atelier.notifications.delivery import MessageDelivery
from atelier.platform.db import Database
from atelier.platform.settings import Settings
from tests.factories import catalog
from tests.factories.catalog import PartnerHandle
from tests.production.lifecycle_helpers import Dispatched, dispatched

IN_NUMBER = "+919876543210"
AU_NUMBER = "+61412345678"


def partner_with_number(
    admin: TestClient,
    client: TestClient,
    number: str | None = IN_NUMBER,
    *,
    verified: bool = True,
    **fields: Any,
) -> PartnerHandle:
    overrides: dict[str, Any] = dict(fields)
    if number is not None:
        overrides.update(whatsapp_number=number, whatsapp_verified=verified)
    return catalog.create_partner(admin, client, **overrides)


def sent_run(
    admin: TestClient, client: TestClient, partner: PartnerHandle, **fields: Any
) -> Dispatched:
    design = catalog.create_design(admin, name=fields.pop("design_name", "Block Print Kurta"))
    return dispatched(admin, client, partner=partner, design=design, **fields)


def messages(admin: TestClient, **filters: Any) -> list[dict[str, Any]]:
    response = admin.get("/admin/messages", params={**filters, "limit": 500})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["messages"]
    return rows


def deliver(db: Database, settings: Settings) -> int:
    delivery = MessageDelivery(db, settings, worker_id="test-delivery")
    try:
        return delivery.drain()
    finally:
        delivery.close()


def stored_messages(db: Database, **filters: Any) -> list[dict[str, Any]]:
    """The message log read straight from the database (when tokens would have expired)."""
    from atelier.notifications.repository import MessageFilters, list_messages
    from atelier.notifications.schemas import MessageOut

    with db.session(write=False) as session:
        rows, _count = list_messages(session, MessageFilters(**filters), limit=500, offset=0)
        return [MessageOut.model_validate(row).model_dump(mode="json") for row in rows]
