"""Setup shared by the served tests, through the HTTP API only: templates, materials, a design
with a bill of materials and an output item, a product, partners with stock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.served.support import PARTNER_PASSWORD, ok, partner_token

_seq = itertools.count(1)


@dataclass
class Partner:
    id: str
    email: str
    token: str
    location_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Catalog:
    design_id: str
    product_id: str
    variant_id: str
    fabric_id: str
    thread_id: str
    output_id: str
    partners: list[Partner] = field(default_factory=list)


def create_partner(admin: httpx.Client, name: str) -> Partner:
    n = next(_seq)
    handle = f"{name.lower()}-{n}"
    email = f"owner@{handle}.test"
    body = {
        "partner": {"name": f"{name} {n}", "handle": handle},
        "admin": {
            "email": email,
            "first_name": name,
            "last_name": "Owner",
            "password": PARTNER_PASSWORD,
        },
    }
    partner = ok(admin.post("/admin/partners", json=body), 201)["partner"]
    location = ok(
        admin.post(
            "/admin/stock-locations",
            json={"name": f"{name} {n} store", "partner_id": partner["id"]},
        ),
        201,
    )["stock_location"]
    return Partner(partner["id"], email, partner_token(admin, email), location["id"])


def set_level(admin: httpx.Client, item_id: str, location_id: str, quantity: float) -> None:
    ok(
        admin.post(
            f"/admin/inventory-items/{item_id}/levels",
            json={"location_id": location_id, "stocked_quantity": quantity},
        ),
        200,
        201,
    )


def item(admin: httpx.Client, sku: str, unit: str) -> str:
    body = {"sku": f"{sku}-{next(_seq)}", "title": sku.title(), "unit_of_measure": unit}
    item_id: str = ok(admin.post("/admin/inventory-items", json=body), 201)["inventory_item"]["id"]
    return item_id


def build_catalog(
    admin: httpx.Client, *, partners: int = 2, fabric: float = 1000.0, thread: float = 500.0
) -> Catalog:
    """Templates Cutting/Stitching, a design with a BOM (fabric, thread) and an output item, a
    product with one variant, and ``partners`` partners each with fabric and thread in stock."""
    for name in ("Cutting", "Stitching"):
        found = ok(admin.get("/admin/task-templates", params={"name": name}))["task_templates"]
        if not [t for t in found if t["name"] == name]:
            ok(admin.post("/admin/task-templates", json={"name": name}), 201)
    fabric_id = item(admin, "FABRIC", "m")
    thread_id = item(admin, "THREAD", "kg")
    output_id = item(admin, "KURTA", "pcs")
    design = ok(
        admin.post(
            "/admin/designs",
            json={"name": f"Kurta {next(_seq)}", "output_inventory_item_id": output_id},
        ),
        201,
    )["design"]
    ok(
        admin.post(
            f"/admin/designs/{design['id']}/inventory",
            json={
                "items": [
                    {"inventory_item_id": fabric_id, "planned_quantity": 2.5},
                    {"inventory_item_id": thread_id, "planned_quantity": 0.1},
                ]
            },
        )
    )
    n = next(_seq)
    product = ok(
        admin.post(
            "/admin/products",
            json={
                "title": f"Kurta {n}",
                "design_id": design["id"],
                "variants": [{"title": "M", "sku": f"KURTA-M-{n}"}],
            },
        ),
        201,
    )["product"]
    catalog = Catalog(
        design["id"], product["id"], product["variants"][0]["id"], fabric_id, thread_id, output_id
    )
    for index in range(partners):
        partner = create_partner(admin, ("Cutter", "Tailor", "Finisher", "Printer")[index % 4])
        set_level(admin, fabric_id, partner.location_id, fabric)
        set_level(admin, thread_id, partner.location_id, thread)
        catalog.partners.append(partner)
    return catalog


def run(admin: httpx.Client, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok(admin.get(f"/admin/production-runs/{run_id}"))["production_run"]
    return found


def level(admin: httpx.Client, item_id: str, location_id: str) -> float | None:
    levels = ok(
        admin.get(
            "/admin/inventory-levels",
            params={"inventory_item_id": item_id, "location_id": location_id},
        )
    )["inventory_levels"]
    return float(levels[0]["stocked_quantity"]) if levels else None


def finished_goods(admin: httpx.Client, item_id: str) -> float:
    levels = ok(admin.get("/admin/inventory-levels", params={"inventory_item_id": item_id}))[
        "inventory_levels"
    ]
    return sum(float(x["stocked_quantity"]) for x in levels)
