"""POST /admin/production-runs and GET /admin/production-runs/:id."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import T0, assert_problem
from tests.factories import catalog, orders
from tests.factories.runs import create_run, get_run


class TestCreateRun:
    def test_creates_pending_review_run_with_snapshot(self, admin: TestClient) -> None:
        design = catalog.create_design(
            admin, name="Kurta", colors=["indigo"], sizes=["M"], specifications={"gsm": 180}
        )
        response = admin.post(
            "/admin/production-runs",
            json={"design_id": design["id"], "quantity": 12, "metadata": {"note": "rush"}},
        )
        assert response.status_code == 201, response.text
        run = response.json()["production_run"]
        assert run["id"].startswith("prod_run_")
        assert run["status"] == "pending_review"
        assert run["run_type"] == "production"
        assert run["quantity"] == 12
        assert run["metadata"] == {"note": "rush"}
        assert run["snapshot"]["name"] == "Kurta"
        assert run["snapshot"]["colors"] == ["indigo"]
        assert run["snapshot"]["specifications"] == {"gsm": 180}
        assert run["snapshot"]["bom"] == []
        assert run["captured_at"] == T0.isoformat().replace("+00:00", "Z")
        assert run["created_at"].endswith("Z")
        assert run["dispatch_state"] == "idle"
        assert run["partner_cost_estimate"] is None

    def test_sample_run_with_partner_and_role(self, admin: TestClient, client: TestClient) -> None:
        design = catalog.create_design(admin)
        partner = catalog.create_partner(admin, client)
        run = create_run(
            admin,
            design_id=design["id"],
            partner_id=partner.id,
            run_type="sample",
            quantity=1,
            role="tailoring",
        )
        assert (run["run_type"], run["partner_id"], run["role"]) == (
            "sample",
            partner.id,
            "tailoring",
        )

    def test_order_provenance(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        product = catalog.create_product(admin)
        order = orders.create_order(admin, items=[{"product_id": product["id"], "quantity": 2}])
        line = order["items"][0]
        run = create_run(
            admin,
            design_id=design["id"],
            order_id=order["id"],
            order_line_item_id=line["id"],
            product_id=product["id"],
        )
        assert run["order_id"] == order["id"]
        assert run["order_line_item_id"] == line["id"]
        again = admin.post(
            "/admin/production-runs",
            json={"design_id": design["id"], "order_line_item_id": line["id"]},
        )
        body = assert_problem(again, 409, "duplicate_order_line")
        assert line["id"] in body["detail"]

    def test_unknown_design_is_404(self, admin: TestClient) -> None:
        response = admin.post("/admin/production-runs", json={"design_id": "design_nope"})
        assert_problem(response, 404, "design_not_found")

    def test_unknown_partner_is_404(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        response = admin.post(
            "/admin/production-runs", json={"design_id": design["id"], "partner_id": "partner_x"}
        )
        assert_problem(response, 404, "partner_not_found")
        assert admin.get("/admin/production-runs").json()["count"] == 0

    def test_unknown_order_is_404(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        response = admin.post(
            "/admin/production-runs", json={"design_id": design["id"], "order_id": "order_x"}
        )
        assert_problem(response, 404, "order_not_found")

    def test_invalid_bodies_are_422(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        bad: list[dict[str, Any]] = [
            {"design_id": design["id"], "quantity": 0},
            {"design_id": design["id"], "quantity": 10**12},
            {"design_id": design["id"], "run_type": "bulk"},
            {"design_id": design["id"], "surprise": True},
            {"design_id": "x" * 100},
            {"design_id": design["id"], "role": "r" * 65},
            {},
        ]
        for body in bad:
            assert_problem(admin.post("/admin/production-runs", json=body), 422)

    def test_needs_an_admin(self, client: TestClient, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        anonymous = client.post("/admin/production-runs", json={"design_id": design["id"]})
        assert_problem(anonymous, 401)
        partner = catalog.create_partner(admin, client)
        as_partner = client.post(
            "/admin/production-runs", json={"design_id": design["id"]}, headers=partner.headers
        )
        assert_problem(as_partner, 403)

    def test_creation_is_audited(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        events = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        assert [(e["kind"], e["to_status"], e["actor_type"]) for e in events] == [
            ("created", "pending_review", "admin")
        ]


class TestGetRun:
    def test_detail_has_names_relations_and_policy(
        self, admin: TestClient, client: TestClient
    ) -> None:
        design = catalog.create_design(admin, name="Saree")
        partner = catalog.create_partner(admin, client, name="Loom House")
        run = create_run(admin, design_id=design["id"], partner_id=partner.id)
        detail = get_run(admin, run["id"])
        assert detail["design_name"] == "Saree"
        assert detail["partner_name"] == "Loom House"
        assert detail["partner"] == {
            "id": partner.id,
            "name": "Loom House",
            "handle": partner.handle,
        }
        assert detail["parent"] is None
        assert detail["children"] == []
        assert detail["tasks"] == []
        assert detail["policy"]["auto_approvable"] is False
        assert detail["policy"]["reasons"]
        # Every verb the lifecycle allows on a pending run, as the admin UI's buttons.
        assert detail["allowed_actions"] == [
            "approve",
            "reassign",
            "cancel",
            "edit",
            "attach_media",
            "hold",
        ]

    def test_unknown_run_is_404(self, admin: TestClient) -> None:
        assert_problem(
            admin.get("/admin/production-runs/prod_run_nope"), 404, "production_run_not_found"
        )
