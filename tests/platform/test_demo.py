"""Demo data: idempotent, and usable through the API (the demo partner can sign in)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.demo import DEMO_PARTNER_PASSWORD, PARTNERS, load_demo
from atelier.platform.db import Base, Database
from tests.conftest import bearer


def row_counts(db: Database) -> dict[str, int]:
    with db.session(write=False) as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


class TestDemoData:
    def test_running_twice_changes_nothing(self, client: TestClient, db: Database) -> None:
        first = load_demo(db)
        after_first = row_counts(db)
        second = load_demo(db)
        assert first.created > 0 and first.existing == 0
        assert second.created == 0 and second.existing == first.created
        assert row_counts(db) == after_first
        for table in ("designs", "products", "product_variants", "partners", "partner_users"):
            assert after_first[table] > 0, table
        assert after_first["task_templates"] >= 4
        assert after_first["inventory_levels"] > 0

    def test_demo_partner_signs_in_and_admin_sees_the_catalogue(
        self, client: TestClient, admin: TestClient, db: Database
    ) -> None:
        load_demo(db)
        email = PARTNERS[0]["user"][0]
        response = client.post(
            "/auth/partner/token", json={"email": email, "password": DEMO_PARTNER_PASSWORD}
        )
        assert response.status_code == 200, response.text
        assert response.json()["partner_id"].startswith("partner_")

        designs = admin.get("/admin/designs", params={"limit": 50}).json()["designs"]
        assert "Commerce_Ready" in {d["status"] for d in designs}
        ready = next(d for d in designs if d["status"] == "Commerce_Ready")
        detail = admin.get(f"/admin/designs/{ready['id']}").json()["design"]
        assert len(detail["bom"]) >= 3
        assert detail["partners"]

        partner_token = response.json()["token"]
        assert client.get("/admin/designs", headers=bearer(partner_token)).status_code == 403


class TestDemoRuns:
    def test_a_run_in_every_status_with_names_and_stock(
        self, client: TestClient, admin: TestClient, db: Database
    ) -> None:
        load_demo(db)
        listed = admin.get(
            "/admin/production-runs", params={"include_children": "true", "limit": 100}
        ).json()["production_runs"]
        statuses = {r["status"] for r in listed}
        assert statuses >= {
            "draft",
            "pending_review",
            "approved",
            "sent_to_partner",
            "in_progress",
            "completed",
            "cancelled",
            "awaiting_reassignment",
        }
        children = [r for r in listed if r["parent_run_id"]]
        assert len(children) == 2 and any(c["depends_on_run_ids"] for c in children)
        running = next(r for r in listed if r["status"] == "in_progress" and r["partner_id"])
        detail = admin.get(f"/admin/production-runs/{running['id']}").json()["production_run"]
        assert detail["tasks"] and detail["tasks"][0]["comments"]
        logs = admin.get(f"/admin/production-runs/{running['id']}/consumption-logs").json()
        assert logs["count"] >= 1
        done = next(r for r in listed if r["status"] == "completed")
        assert done["produced_quantity"] == 10
        locations = admin.get("/admin/stock-locations", params={"limit": 100}).json()
        names = {loc["name"] for loc in locations["stock_locations"]}
        assert "Meera Stitch Works workshop" in names
        assert not any(name.startswith("Partner partner_") for name in names)
