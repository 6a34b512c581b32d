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


IN_SECRETS = {
    "access_token": "EAAG-in-access-token-secret-1234567890",
    "app_secret": "in-app-secret-abcdef123456",
    "verify_token": "in-verify-token-zyx987",
}
AU_SECRETS = {
    "access_token": "EAAG-au-access-token-secret-0987654321",
    "app_secret": "au-app-secret-654321fedcba",
    "verify_token": "au-verify-token-qwe456",
}


def create_platforms(admin: TestClient, graph: Any) -> dict[str, dict[str, Any]]:
    """An India platform (+91: en + hi) and an Australia platform (+61: en), tokens known to
    the fake Graph API."""
    out: dict[str, dict[str, Any]] = {}
    for label, number_id, waba, codes, secrets in (
        ("IN", "1100000001", "2200000001", ["+91"], IN_SECRETS),
        ("AU", "1100000002", "2200000002", ["61"], AU_SECRETS),
    ):
        graph.tokens.add(secrets["access_token"])
        body = {
            "label": label,
            "phone_number_id": number_id,
            "waba_id": waba,
            "country_codes": codes,
            **secrets,
        }
        response = admin.post("/admin/whatsapp/platforms", json=body)
        assert response.status_code == 201, response.text
        out[label] = response.json()["whatsapp_platform"]
    return out


def sign(body: bytes, secret: str) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(
    phone_number_id: str, *, statuses: list[Any] | None = None, messages: list[Any] | None = None
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
    }
    if statuses is not None:
        value["statuses"] = statuses
    if messages is not None:
        value["messages"] = messages
        value["contacts"] = [{"profile": {"name": "Partner"}, "wa_id": m["from"]} for m in messages]
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2200000001", "changes": [{"value": value, "field": "messages"}]}],
    }


def post_webhook(client: TestClient, payload: dict[str, Any], secret: str) -> Any:
    import json

    raw = json.dumps(payload).encode()
    return client.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"X-Hub-Signature-256": sign(raw, secret), "Content-Type": "application/json"},
    )
