from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog


class TestSendToPartnerRetired:
    def test_answers_410_pointing_to_production_runs(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        response = admin.post(
            f"/admin/designs/{design['id']}/send-to-partner", json={"partner_id": "partner_x"}
        )
        body = assert_problem(response, 410, "send_to_partner_retired")
        assert f"POST /admin/designs/{design['id']}/production-runs" in body["detail"]
        assert body["replacement"] == {
            "method": "POST",
            "path": f"/admin/designs/{design['id']}/production-runs",
        }

    def test_nothing_is_created(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        admin.post(f"/admin/designs/{design['id']}/send-to-partner", json={})
        runs = admin.get("/admin/production-runs", params={"design_id": design["id"]})
        assert runs.status_code == 200
        assert runs.json()["count"] == 0

    def test_partner_and_anonymous(self, admin: TestClient, client: TestClient) -> None:
        design = catalog.create_design(admin)
        partner = catalog.create_partner(admin, client)
        path = f"/admin/designs/{design['id']}/send-to-partner"
        assert_problem(client.post(path, headers=partner.headers), 403, "admin_only")
        assert_problem(client.post(path), 401, "not_authenticated")

    def test_other_methods_are_405(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        response = admin.get(f"/admin/designs/{design['id']}/send-to-partner")
        assert_problem(response, 405)
