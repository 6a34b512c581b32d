"""Redo: POST /admin/production-runs/:id/tasks adds tasks to a dispatched, unfinished run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.tasks import (
    approved_run_without_intent,
    create_template,
    dispatched_run,
    finish_all_tasks,
    run_events,
    run_tasks,
)


@pytest.fixture
def partner(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


@pytest.fixture
def templates(admin: TestClient) -> dict[str, dict[str, Any]]:
    return {
        name: create_template(admin, name, subtasks=subs)
        for name, subs in (
            ("Cutting", None),
            ("Redo inspect", None),
            ("Redo fix", ["Unpick", "Resew"]),
        )
    }


@pytest.fixture
def run(
    admin: TestClient, partner: catalog.PartnerHandle, templates: dict[str, Any]
) -> dict[str, Any]:
    design = catalog.create_design(admin)
    return dispatched_run(admin, partner=partner, design_id=design["id"], templates=["Cutting"])


def _add(admin: TestClient, run_id: str, **body: Any) -> Any:
    return admin.post(f"/admin/production-runs/{run_id}/tasks", json=body)


class TestAddTasks:
    def test_adds_redo_tasks_after_existing_ones(
        self,
        admin: TestClient,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        templates: dict[str, Any],
    ) -> None:
        response = _add(admin, run["id"], template_names=["Redo inspect", "Redo fix"])
        assert response.status_code == 201, response.text
        added = response.json()["tasks"]
        assert [t["title"] for t in added] == ["Redo inspect", "Redo fix"]
        assert all(t["is_redo"] for t in added)
        assert all(t["partner_id"] == partner.id for t in added)
        assert [t["position"] for t in added] == [1, 2]
        assert [s["title"] for s in added[1]["subtasks"]] == ["Unpick", "Resew"]
        assert all(s["is_redo"] for s in added[1]["subtasks"])
        titles = [t["title"] for t in run_tasks(admin, run["id"])]
        assert titles == ["Cutting", "Redo inspect", "Redo fix"]
        events = run_events(admin, run["id"], "tasks_added")
        assert len(events) == 1
        assert events[0]["data"]["task_ids"] == [t["id"] for t in added]
        assert events[0]["actor_type"] == "admin"

    def test_by_template_ids(
        self, admin: TestClient, run: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        response = _add(admin, run["id"], template_ids=[templates["Redo fix"]["id"]])
        assert response.status_code == 201
        assert response.json()["tasks"][0]["template_id"] == templates["Redo fix"]["id"]

    def test_any_number_of_rounds_each_blocking_completion(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        for _round in range(3):
            added = _add(admin, run["id"], template_names=["Redo inspect"]).json()["tasks"]
            finish_all_tasks(client, partner.headers, added)
            drain()
            status = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]
            assert status["status"] == "in_progress"  # the original Cutting task is still open
        assert len(run_events(admin, run["id"], "tasks_added")) == 3
        finish_all_tasks(client, partner.headers, run_tasks(admin, run["id"])[:1])
        drain()
        after = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]
        assert after["status"] == "completed"
        assert len(run_tasks(admin, run["id"])) == 4


class TestGuards:
    def test_not_yet_dispatched_is_409(
        self, admin: TestClient, partner: catalog.PartnerHandle, templates: dict[str, Any]
    ) -> None:
        design = catalog.create_design(admin)
        approved = approved_run_without_intent(admin, partner=partner, design_id=design["id"])
        body = assert_problem(
            _add(admin, approved["id"], template_names=["Redo fix"]), 409, "invalid_status"
        )
        assert "approved" in body["detail"]

    def test_completed_run_is_409(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        finish_all_tasks(client, partner.headers, run_tasks(admin, run["id"]))
        drain()
        assert_problem(_add(admin, run["id"], template_names=["Redo fix"]), 409, "run_terminal")

    def test_cancelled_run_is_409(self, admin: TestClient, run: dict[str, Any]) -> None:
        admin.post(f"/admin/production-runs/{run['id']}/cancel", json={"reason": "x"})
        assert_problem(_add(admin, run["id"], template_names=["Redo fix"]), 409, "run_terminal")

    def test_unknown_template_is_422_and_nothing_added(
        self, admin: TestClient, run: dict[str, Any]
    ) -> None:
        response = _add(admin, run["id"], template_names=["Redo fix", "Nope"])
        body = assert_problem(response, 422, "unknown_templates")
        assert "Nope" in body["detail"]
        assert len(run_tasks(admin, run["id"])) == 1
        assert run_events(admin, run["id"], "tasks_added") == []

    def test_body_must_name_templates(self, admin: TestClient, run: dict[str, Any]) -> None:
        assert_problem(_add(admin, run["id"]), 422)
        assert_problem(_add(admin, run["id"], template_names=[]), 422)
        assert_problem(_add(admin, run["id"], template_names=["a"], template_ids=["b"]), 422)
        assert_problem(_add(admin, run["id"], category="x"), 422)

    def test_unknown_run_is_404(self, admin: TestClient, templates: dict[str, Any]) -> None:
        response = _add(admin, "prod_run_nope", template_names=["Redo fix"])
        assert_problem(response, 404, "production_run_not_found")
        assert_problem(admin.get("/admin/production-runs/prod_run_nope/tasks"), 404)

    def test_partner_is_403(
        self, client: TestClient, partner: catalog.PartnerHandle, run: dict[str, Any]
    ) -> None:
        response = client.post(
            f"/admin/production-runs/{run['id']}/tasks",
            json={"template_names": ["Redo fix"]},
            headers=partner.headers,
        )
        assert_problem(response, 403)
