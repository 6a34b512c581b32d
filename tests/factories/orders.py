"""Place orders through the real admin API::

order = create_order(admin, items=[{"product_id": product["id"], "quantity": 3}])
order["items"][0]["id"]
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def create_order(
    admin: TestClient, items: list[dict[str, Any]], **overrides: Any
) -> dict[str, Any]:
    """POST /admin/orders (201, or 200 for a known ``external_id``); returns the ``order`` JSON."""
    body: dict[str, Any] = {"items": items}
    body.update(overrides)
    response = admin.post("/admin/orders", json=body)
    assert response.status_code in (200, 201), response.text
    order: dict[str, Any] = response.json()["order"]
    return order
