"""Build designs, partners (logged in) and products through the real admin API.

Use these in any domain's tests so setup goes through the same validation as real clients::

    design = create_design(admin, name="Kurta")
    partner = create_partner(admin, client)
    client.get("/partners/production-runs", headers=partner.headers)
    product = create_product(admin, design_id=design["id"])
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

_seq = itertools.count(1)
DEFAULT_PARTNER_PASSWORD = "partner-password-123"


def _next() -> int:
    return next(_seq)


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class PartnerHandle:
    """A partner created through the API and its first user, already signed in."""

    id: str
    handle: str
    email: str
    password: str | None
    token: str | None
    headers: dict[str, str] = field(default_factory=dict)
    user_id: str = ""
    body: dict[str, Any] = field(default_factory=dict)


def create_design(admin: TestClient, **overrides: Any) -> dict[str, Any]:
    """POST /admin/designs; returns the ``design`` JSON. Any body field can be overridden."""
    body: dict[str, Any] = {"name": f"Design {_next()}", "description": "Test design"}
    body.update(overrides)
    design: dict[str, Any] = _ok(admin.post("/admin/designs", json=body), 201)["design"]
    return design


def set_bom(
    admin: TestClient, design_id: str, items: dict[str, float] | list[tuple[str, float]]
) -> dict[str, Any]:
    """POST /admin/designs/:id/inventory with ``{item_id: planned_quantity}``; returns design."""
    pairs = items.items() if isinstance(items, dict) else items
    payload = {"items": [{"inventory_item_id": i, "planned_quantity": q} for i, q in pairs]}
    response = admin.post(f"/admin/designs/{design_id}/inventory", json=payload)
    design: dict[str, Any] = _ok(response, 200)["design"]
    return design


def create_partner(
    admin: TestClient,
    client: TestClient,
    *,
    user: dict[str, Any] | None = None,
    login: bool = True,
    **overrides: Any,
) -> PartnerHandle:
    """POST /admin/partners, then sign its user in through POST /auth/partner/token.

    ``overrides`` change partner fields (name, handle, status, whatsapp_number, ...); ``user``
    changes the first user's fields (email, first_name, last_name, password). Pass
    ``user={"password": None}`` for a WhatsApp-only user (then no token is issued).
    """
    n = _next()
    partner: dict[str, Any] = {"name": f"Workshop {n}", "handle": f"workshop-{n}"}
    partner.update(overrides)
    account: dict[str, Any] = {
        "email": f"owner{n}@{partner['handle']}.test",
        "first_name": "Owner",
        "last_name": f"No{n}",
        "password": DEFAULT_PARTNER_PASSWORD,
    }
    account.update(user or {})
    payload_user = {k: v for k, v in account.items() if v is not None}
    body = _ok(admin.post("/admin/partners", json={"partner": partner, "admin": payload_user}), 201)
    created: dict[str, Any] = body["partner"]
    password = account.get("password")
    token: str | None = None
    headers: dict[str, str] = {}
    if login and password and created["status"] != "inactive":
        auth = client.post(
            "/auth/partner/token", json={"email": payload_user["email"], "password": password}
        )
        token = _ok(auth, 200)["token"]
        headers = {"Authorization": f"Bearer {token}"}
    return PartnerHandle(
        id=created["id"],
        handle=created["handle"],
        email=created["users"][0]["email"],
        password=password,
        token=token,
        headers=headers,
        user_id=created["users"][0]["id"],
        body=created,
    )


def create_product(
    admin: TestClient,
    *,
    design_id: str | None = None,
    variants: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """POST /admin/products; returns the ``product`` JSON (with ``variants[].id``).

    Without ``variants`` one default variant with a unique SKU is created.
    """
    n = _next()
    body: dict[str, Any] = {
        "title": f"Product {n}",
        "variants": variants if variants is not None else [{"title": "Default", "sku": f"SKU-{n}"}],
    }
    if design_id is not None:
        body["design_id"] = design_id
    body.update(overrides)
    product: dict[str, Any] = _ok(admin.post("/admin/products", json=body), 201)["product"]
    return product
