"""GET /admin/designs/:id through the real app vs a bare ASGI handler running the same SQL.

.venv/bin/python -m bench.bench_design_read [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bench.common import Bench, iso_datetime, json_value, sql_rows


def seed(session: Session) -> dict[str, Any]:
    """A design with a three-line BOM and two linked partners (what an admin usually opens)."""
    from atelier.catalog.models import Design, DesignInventoryItem, DesignPartner
    from atelier.inventory.models import InventoryItem
    from atelier.partners.models import Partner

    design = Design(
        name="Indigo wrap dress",
        description="Hand-block printed cotton, wrap silhouette.",
        status="Commerce_Ready",
        specifications={"fabric": "cotton", "gsm": 120, "care": "cold wash"},
        colors=["indigo", "ecru"],
        sizes=["XS", "S", "M", "L", "XL"],
        media_files=[{"url": "https://cdn.example/indigo.jpg", "kind": "image"}],
        moodboard={"theme": "monsoon"},
    )
    session.add(design)
    session.flush()
    for i, (sku, title, uom, qty) in enumerate(
        [
            ("FAB-IND", "Indigo cotton", "m", 2.5),
            ("BTN-WOOD", "Wood button", "pc", 6.0),
            ("THR-IND", "Indigo thread", "spool", 0.2),
        ]
    ):
        item = InventoryItem(sku=sku, title=title, unit_of_measure=uom)
        session.add(item)
        session.flush()
        session.add(
            DesignInventoryItem(
                design_id=design.id, inventory_item_id=item.id, planned_quantity=qty
            )
        )
        partner = Partner(name=f"Workshop {i}", handle=f"workshop-{i}")
        session.add(partner)
        session.flush()
        if i < 2:
            session.add(DesignPartner(design_id=design.id, partner_id=partner.id))
    session.flush()
    return {"design_id": design.id}


def bare_read(conn: Any, ids: dict[str, Any]) -> dict[str, Any]:
    """The same three reads the service does, straight through the DB-API driver."""
    design_id = ids["design_id"]
    [row] = sql_rows(conn, "SELECT * FROM designs WHERE id = ?", [design_id])
    bom = sql_rows(
        conn,
        "SELECT b.id, b.inventory_item_id, b.planned_quantity, i.sku, i.title, i.unit_of_measure"
        " FROM design_inventory_items b JOIN inventory_items i ON i.id = b.inventory_item_id"
        " WHERE b.design_id = ? ORDER BY b.created_at, b.id",
        [design_id],
    )
    partners = sql_rows(
        conn,
        "SELECT p.id, p.name, p.handle FROM partners p"
        " JOIN design_partners l ON l.partner_id = p.id"
        " WHERE l.design_id = ? ORDER BY l.created_at, l.partner_id",
        [design_id],
    )
    return {
        "design": {
            "id": row["id"],
            "name": row["name"],
            "description": row["description"],
            "status": row["status"],
            "thumbnail_url": row["thumbnail_url"],
            "media_files": json_value(row["media_files"]),
            "specifications": json_value(row["specifications"]),
            "colors": json_value(row["colors"]),
            "sizes": json_value(row["sizes"]),
            "moodboard": json_value(row["moodboard"]),
            "output_inventory_item_id": row["output_inventory_item_id"],
            "metadata": json_value(row["metadata"]),
            "created_at": iso_datetime(row["created_at"]),
            "updated_at": iso_datetime(row["updated_at"]),
            "bom": [
                {
                    "id": b["id"],
                    "inventory_item_id": b["inventory_item_id"],
                    "sku": b["sku"],
                    "title": b["title"],
                    "unit_of_measure": b["unit_of_measure"],
                    "planned_quantity": float(b["planned_quantity"]),
                }
                for b in bom
            ],
            "partners": partners,
        }
    }


BENCH = Bench(
    name="GET /admin/designs/:id",
    seed=seed,
    path=lambda ids: f"/admin/designs/{ids['design_id']}",
    bare="bench.bench_design_read:bare_read",
)

if __name__ == "__main__":
    BENCH.run()
