"""POST /admin/production-runs/:id/reassign (alias assign-partner)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.runs import approve, create_run, get_run
from tests.factories.tasks import dispatched_run, run_tasks


@pytest.fixture
def design(admin: TestClient) -> dict[str, Any]:
    return catalog.create_design(admin)


def _reassign(admin: TestClient, run_id: str, partner_id: str, path: str = "reassign") -> Any:
    return admin.post(
        f"/admin/production-runs/{run_id}/{path}", json={"partner_id": partner_id, "note": "n"}
    )


class TestReassign:
    def test_declined_run_goes_to_new_partner(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        first = catalog.create_partner(admin, client)
        second = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=first, design_id=design["id"])
        declined = client.post(
            f"/partners/production-runs/{run['id']}/decline",
            json={"reason": "capacity"},
            headers=first.headers,
        )
        assert declined.status_code == 200, declined.text
        response = _reassign(admin, run["id"], second.id)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["previous_partner_id"] == first.id
        assert body["same_partner"] is False
        moved = body["production_run"]
        assert moved["status"] == "approved"
        assert moved["partner_id"] == second.id
        assert moved["previous_partner_id"] == first.id
        assert moved["dispatch_state"] == "idle"
        assert moved["dispatched_template_ids"] == []
        assert moved["last_reminder_at"] is None
        assert moved["reminder_counts"] == {}
        assert moved["overdue_gate"] is None
        linked = admin.get(f"/admin/designs/{design['id']}").json()["design"]["partners"]
        assert second.id in [p["id"] for p in linked]
        event = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"][0]
        assert (event["kind"], event["from_status"], event["to_status"]) == (
            "reassigned",
            "awaiting_reassignment",
            "approved",
        )

    def test_sent_run_reassigned_cancels_old_tasks(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        first = catalog.create_partner(admin, client)
        second = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=first, design_id=design["id"])
        response = _reassign(admin, run["id"], second.id, path="assign-partner")
        assert response.status_code == 200, response.text
        assert response.json()["production_run"]["status"] == "approved"
        assert {t["status"] for t in run_tasks(admin, run["id"])} == {"cancelled"}

    def test_pending_run_gets_a_partner(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"])
        body = _reassign(admin, run["id"], partner.id).json()
        assert body["previous_partner_id"] is None
        assert body["production_run"]["status"] == "approved"

    def test_same_partner(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], partner_id=partner.id)
        approve(admin, run["id"])
        body = _reassign(admin, run["id"], partner.id).json()
        assert body["same_partner"] is True

    def test_unknown_partner_is_404_and_nothing_changes(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert_problem(_reassign(admin, run["id"], "partner_ghost"), 404, "partner_not_found")
        fetched = get_run(admin, run["id"])
        assert (fetched["status"], fetched["partner_id"]) == ("sent_to_partner", partner.id)
        assert {t["status"] for t in run_tasks(admin, run["id"])} != {"cancelled"}

    def test_accepted_run_is_409(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        first = catalog.create_partner(admin, client)
        second = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=first, design_id=design["id"])
        assert admin.post(f"/admin/production-runs/{run['id']}/accept", json={}).status_code == 200
        body = assert_problem(_reassign(admin, run["id"], second.id), 409, "already_accepted")
        assert "accepted" in body["detail"]
        assert get_run(admin, run["id"])["partner_id"] == first.id

    def test_cancelled_run_is_409(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"])
        admin.post(f"/admin/production-runs/{run['id']}/cancel", json={})
        assert_problem(_reassign(admin, run["id"], partner.id), 409, "run_terminal")

    def test_body_is_validated(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"])
        url = f"/admin/production-runs/{run['id']}/reassign"
        assert_problem(admin.post(url, json={}), 422)
        assert_problem(admin.post(url, json={"partner_id": "p", "note": "x" * 501}), 422)
