"""Hostile input on the task and dispatch routes answers 4xx, never 500 (both databases)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.tasks import create_template, dispatched_run, run_tasks


class TestHostileIds:
    def test_nul_and_overlong_ids(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        for bad in ("task%00x", "x" * 65):
            assert_problem(admin.get(f"/admin/task-templates/{bad}"), 422)
            assert_problem(admin.get(f"/admin/tasks/{bad}/comments"), 422)
            assert_problem(admin.post(f"/admin/production-runs/{bad}/dispatch"), 422)
            assert_problem(
                client.post(f"/partners/assigned-tasks/{bad}/accept", headers=partner.headers), 422
            )
        response = client.get(
            "/partners/assigned-tasks",
            params={"production_run_id": "a\x00b"},
            headers=partner.headers,
        )
        assert_problem(response, 422)
        assert_problem(admin.get("/admin/task-templates", params={"name": "a\x00"}), 422)

    def test_nul_in_bodies(self, admin: TestClient, client: TestClient) -> None:
        assert_problem(admin.post("/admin/task-templates", json={"name": "a\x00b"}), 422)
        create_template(admin, "Cutting")
        partner = catalog.create_partner(admin, client)
        design = catalog.create_design(admin)
        run = dispatched_run(admin, partner=partner, design_id=design["id"], templates=["Cutting"])
        task_id = run_tasks(admin, run["id"])[0]["id"]
        response = client.post(
            f"/partners/assigned-tasks/{task_id}/comments",
            json={"comment": "a\x00b"},
            headers=partner.headers,
        )
        assert_problem(response, 422)
        response = admin.post(
            f"/admin/production-runs/{run['id']}/tasks", json={"template_names": ["a\x00"]}
        )
        assert_problem(response, 422)

    def test_wrong_json_types(self, admin: TestClient) -> None:
        for body in ({"name": 5}, {"name": ["x"]}, {"name": "X", "subtasks": "x"}, [1, 2]):
            assert_problem(admin.post("/admin/task-templates", json=body), 422)
