"""Build inventory items, stock locations and levels through the real admin API::

item = create_item(admin, sku="FAB-1", unit_of_measure="m")
loc = create_location(admin, name="Main warehouse")
set_level(admin, item["id"], loc["id"], 120.0)
"""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient

_seq = itertools.count(1)


def _ok(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, response.text
    body: dict[str, Any] = response.json()
    return body


def create_item(admin: TestClient, **overrides: Any) -> dict[str, Any]:
    """POST /admin/inventory-items; returns the ``inventory_item`` JSON."""
    n = next(_seq)
    body: dict[str, Any] = {"sku": f"SKU-{n}", "title": f"Material {n}", "unit_of_measure": "m"}
    body.update(overrides)
    item: dict[str, Any] = _ok(admin.post("/admin/inventory-items", json=body), 201)[
        "inventory_item"
    ]
    return item


def create_location(admin: TestClient, **overrides: Any) -> dict[str, Any]:
    """POST /admin/stock-locations; returns the ``stock_location`` JSON."""
    body: dict[str, Any] = {"name": f"Location {next(_seq)}"}
    body.update(overrides)
    location: dict[str, Any] = _ok(admin.post("/admin/stock-locations", json=body), 201)[
        "stock_location"
    ]
    return location


def set_level(
    admin: TestClient, item_id: str, location_id: str, stocked_quantity: float
) -> dict[str, Any]:
    """POST /admin/inventory-items/:id/levels; returns the ``inventory_level`` JSON."""
    response = admin.post(
        f"/admin/inventory-items/{item_id}/levels",
        json={"location_id": location_id, "stocked_quantity": stocked_quantity},
    )
    level: dict[str, Any] = _ok(response, 200, 201)["inventory_level"]
    return level


def get_item(admin: TestClient, item_id: str) -> dict[str, Any]:
    """GET /admin/inventory-items/:id (with ``levels`` and ``movements``)."""
    item: dict[str, Any] = _ok(admin.get(f"/admin/inventory-items/{item_id}"), 200)[
        "inventory_item"
    ]
    return item


def level_at(admin: TestClient, item_id: str, location_id: str) -> float | None:
    """The item's stocked quantity at the location, or None when it has no level there."""
    for level in get_item(admin, item_id)["levels"]:
        if level["location_id"] == location_id:
            return float(level["stocked_quantity"])
    return None
