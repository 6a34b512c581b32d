"""Partner task API (/partners/assigned-tasks): ownership, accept, finish, subtasks, comments."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.tasks import (
    create_template,
    dispatched_run,
    outbox_payloads,
    run_events,
    run_tasks,
)

BASE = "/partners/assigned-tasks"


@pytest.fixture
def partner(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


@pytest.fixture
def other(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


@pytest.fixture
def run(admin: TestClient, partner: catalog.PartnerHandle) -> dict[str, Any]:
    create_template(admin, "Cutting", subtasks=["Mark", "Cut"])
    create_template(admin, "Stitching")
    design = catalog.create_design(admin)
    return dispatched_run(
        admin, partner=partner, design_id=design["id"], templates=["Cutting", "Stitching"]
    )


@pytest.fixture
def tasks(admin: TestClient, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["title"]: t for t in run_tasks(admin, run["id"])}


def _post(client: TestClient, partner: catalog.PartnerHandle, path: str, **kw: Any) -> Any:
    return client.post(f"{BASE}{path}", headers=partner.headers, **kw)


def _run(admin: TestClient, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = admin.get(f"/admin/production-runs/{run_id}").json()["production_run"]
    return body


class TestList:
    def test_lists_only_own_top_level_tasks(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        other: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        design = catalog.create_design(admin)
        dispatched_run(admin, partner=other, design_id=design["id"], templates=["Stitching"])
        body = client.get(BASE, headers=partner.headers).json()
        assert body["count"] == 2
        assert {t["title"] for t in body["tasks"]} == {"Cutting", "Stitching"}
        assert all(t["partner_id"] == partner.id for t in body["tasks"])
        cutting = next(t for t in body["tasks"] if t["title"] == "Cutting")
        assert [s["title"] for s in cutting["subtasks"]] == ["Mark", "Cut"]
        assert cutting["comments"] == []
        assert client.get(BASE, headers=other.headers).json()["count"] == 1

    def test_filters_and_pagination(
        self,
        client: TestClient,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        _post(client, partner, f"/{tasks['Stitching']['id']}/accept")
        accepted = client.get(BASE, headers=partner.headers, params={"status": "accepted"}).json()
        assert [t["title"] for t in accepted["tasks"]] == ["Stitching"]
        by_run = client.get(
            BASE, headers=partner.headers, params={"production_run_id": run["id"]}
        ).json()
        assert by_run["count"] == 2
        none = client.get(
            BASE, headers=partner.headers, params={"production_run_id": "prod_run_x"}
        ).json()
        assert none["count"] == 0
        page = client.get(BASE, headers=partner.headers, params={"limit": 1, "offset": 1}).json()
        assert (page["count"], page["limit"], page["offset"], len(page["tasks"])) == (2, 1, 1, 1)
        assert_problem(client.get(BASE, headers=partner.headers, params={"status": "x"}), 422)
        assert_problem(client.get(BASE, headers=partner.headers, params={"limit": 0}), 422)

    def test_auth(self, admin: TestClient, client: TestClient) -> None:
        assert_problem(client.get(BASE), 401)
        assert_problem(admin.get(BASE), 403)


class TestOwnership:
    def test_other_partners_task_is_404_everywhere(
        self,
        client: TestClient,
        other: catalog.PartnerHandle,
        tasks: dict[str, Any],
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        sub_id = tasks["Cutting"]["subtasks"][0]["id"]
        assert_problem(
            client.get(f"{BASE}/{task_id}", headers=other.headers), 404, "task_not_found"
        )
        for path in ("accept", "finish", f"subtasks/{sub_id}/complete", "comments"):
            assert_problem(_post(client, other, f"/{task_id}/{path}", json={"comment": "hi"}), 404)
        assert_problem(client.get(f"{BASE}/{task_id}/comments", headers=other.headers), 404)

    def test_unknown_task_is_404(self, client: TestClient, partner: catalog.PartnerHandle) -> None:
        assert_problem(client.get(f"{BASE}/task_nope", headers=partner.headers), 404)
        assert_problem(_post(client, partner, "/task_nope/accept"), 404)

    def test_admin_and_anonymous_cannot_use_partner_routes(
        self, admin: TestClient, client: TestClient, tasks: dict[str, Any]
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        assert_problem(admin.post(f"{BASE}/{task_id}/accept"), 403)
        assert_problem(client.post(f"{BASE}/{task_id}/accept"), 401)

    def test_legacy_partner_tasks_routes_do_not_exist(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        for action in ("accept", "finish"):
            response = client.post(f"/partners/tasks/{task_id}/{action}", headers=partner.headers)
            assert response.status_code == 404
        assert client.get(f"/partners/tasks/{task_id}", headers=partner.headers).status_code == 404
        assert client.get("/partners/tasks", headers=partner.headers).status_code == 404

    def test_get_own_task(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        body = client.get(f"{BASE}/{tasks['Cutting']['id']}", headers=partner.headers).json()
        assert body["task"]["title"] == "Cutting"
        assert len(body["task"]["subtasks"]) == 2


class TestAccept:
    def test_accepts_pending_task_and_the_run(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        response = _post(client, partner, f"/{task_id}/accept")
        assert response.status_code == 200, response.text
        task = response.json()["task"]
        assert task["status"] == "accepted"
        assert task["accepted_at"] is not None
        after = _run(admin, run["id"])
        assert after["status"] == "in_progress"
        assert after["accepted_at"] is not None
        assert after["last_activity_at"] is not None
        accepted = run_events(admin, run["id"], "accepted")
        assert len(accepted) == 1 and accepted[0]["actor_type"] == "partner"
        updates = outbox_payloads(db, "tasks.task.updated", task_id=task_id)
        assert updates[-1]["status"] == "accepted"
        assert updates[-1]["production_run_id"] == run["id"]
        assert updates[-1]["partner_id"] == partner.id
        # Accepting the second task leaves the (already accepted) run alone.
        assert _post(client, partner, f"/{tasks['Stitching']['id']}/accept").status_code == 200
        assert len(run_events(admin, run["id"], "accepted")) == 1

    def test_already_accepted_is_409(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        _post(client, partner, f"/{task_id}/accept")
        body = assert_problem(
            _post(client, partner, f"/{task_id}/accept"), 409, "task_already_accepted"
        )
        assert "already accepted" in body["detail"]

    def test_completed_task_is_409(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        task_id = tasks["Stitching"]["id"]
        _post(client, partner, f"/{task_id}/finish")
        assert_problem(_post(client, partner, f"/{task_id}/accept"), 409, "task_completed")

    def test_cancelled_task_is_409(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        from atelier.platform.actors import Actor
        from atelier.tasks import service

        db: Database = admin.app.state.db  # type: ignore[attr-defined]
        with db.session() as session:
            assert service.cancel_open_tasks(session, run["id"], Actor.system(), reason="x") == 4
        task_id = tasks["Cutting"]["id"]
        assert_problem(_post(client, partner, f"/{task_id}/accept"), 409, "task_cancelled")
        assert_problem(_post(client, partner, f"/{task_id}/finish"), 409, "task_cancelled")

    def test_run_no_longer_with_partner_is_409(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        # The runs core cancels open tasks on cancel; a task somehow left open on a terminal run
        # still cannot move.
        from sqlalchemy import update

        from atelier.production.models import ProductionRun

        db: Database = admin.app.state.db  # type: ignore[attr-defined]
        with db.session() as session:
            session.execute(
                update(ProductionRun)
                .where(ProductionRun.id == run["id"])
                .values(status="cancelled")
            )
        response = _post(client, partner, f"/{tasks['Cutting']['id']}/accept")
        assert_problem(response, 409, "run_not_with_partner")


class TestFinish:
    def test_finish_completes_task_and_open_subtasks(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        cutting = tasks["Cutting"]
        _post(client, partner, f"/{cutting['id']}/accept")
        response = _post(client, partner, f"/{cutting['id']}/finish")
        assert response.status_code == 200, response.text
        task = response.json()["task"]
        assert task["status"] == "completed"
        assert task["completed_at"] is not None
        assert [s["status"] for s in task["subtasks"]] == ["completed", "completed"]
        assert outbox_payloads(db, "tasks.task.updated", task_id=cutting["id"])[-1]["status"] == (
            "completed"
        )

    def test_finish_from_pending_accepts_the_run(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        response = _post(client, partner, f"/{tasks['Stitching']['id']}/finish")
        assert response.status_code == 200
        assert response.json()["task"]["accepted_at"] is not None
        assert _run(admin, run["id"])["status"] == "in_progress"

    def test_finish_twice_is_409(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        task_id = tasks["Stitching"]["id"]
        _post(client, partner, f"/{task_id}/finish")
        assert_problem(_post(client, partner, f"/{task_id}/finish"), 409, "task_completed")


class TestSubtasks:
    def test_requires_accepted_parent(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        cutting = tasks["Cutting"]
        sub = cutting["subtasks"][0]["id"]
        response = _post(client, partner, f"/{cutting['id']}/subtasks/{sub}/complete")
        assert_problem(response, 409, "task_not_accepted")

    def test_completing_subtasks_moves_and_completes_parent(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        partner: catalog.PartnerHandle,
        tasks: dict[str, Any],
    ) -> None:
        cutting = tasks["Cutting"]
        first, second = (s["id"] for s in cutting["subtasks"])
        _post(client, partner, f"/{cutting['id']}/accept")
        response = _post(client, partner, f"/{cutting['id']}/subtasks/{first}/complete")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["subtask"]["status"] == "completed"
        assert body["task"]["status"] == "in_progress"
        assert body["parent_completed"] is False
        again = _post(client, partner, f"/{cutting['id']}/subtasks/{first}/complete")
        assert_problem(again, 409, "subtask_completed")
        last = _post(client, partner, f"/{cutting['id']}/subtasks/{second}/complete").json()
        assert last["task"]["status"] == "completed"
        assert last["task"]["completed_at"] is not None
        assert last["parent_completed"] is True
        statuses = [
            p["status"] for p in outbox_payloads(db, "tasks.task.updated", task_id=cutting["id"])
        ]
        assert statuses == ["accepted", "in_progress", "completed"]
        # The parent is completed now: nothing more to complete under it.
        assert_problem(
            _post(client, partner, f"/{cutting['id']}/subtasks/{first}/complete"),
            409,
            "task_completed",
        )

    def test_subtask_of_another_task_is_404(
        self, client: TestClient, partner: catalog.PartnerHandle, tasks: dict[str, Any]
    ) -> None:
        stitching, cutting = tasks["Stitching"], tasks["Cutting"]
        _post(client, partner, f"/{stitching['id']}/accept")
        foreign_sub = cutting["subtasks"][0]["id"]
        response = _post(client, partner, f"/{stitching['id']}/subtasks/{foreign_sub}/complete")
        assert_problem(response, 404, "subtask_not_found")
        response = _post(client, partner, f"/{stitching['id']}/subtasks/task_nope/complete")
        assert_problem(response, 404, "subtask_not_found")

    def test_cancelled_subtask_is_409(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        tasks: dict[str, Any],
    ) -> None:
        from sqlalchemy import update

        from atelier.tasks.models import Task

        cutting = tasks["Cutting"]
        sub = cutting["subtasks"][0]["id"]
        db: Database = admin.app.state.db  # type: ignore[attr-defined]
        with db.session() as session:
            session.execute(update(Task).where(Task.id == sub).values(status="cancelled"))
        _post(client, partner, f"/{cutting['id']}/accept")
        response = _post(client, partner, f"/{cutting['id']}/subtasks/{sub}/complete")
        assert_problem(response, 409, "subtask_cancelled")


class TestComments:
    def test_partner_and_admin_comment(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        tasks: dict[str, Any],
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        response = _post(
            client, partner, f"/{task_id}/comments", json={"comment": "  Fabric late "}
        )
        assert response.status_code == 201, response.text
        comment = response.json()["comment"]
        assert comment["id"].startswith("tcom_")
        assert comment["body"] == "Fabric late"
        assert comment["comment"] == "Fabric late"
        assert comment["author_type"] == "partner"
        assert comment["author_id"] == partner.id
        assert comment["author_name"]
        reply = admin.post(f"/admin/tasks/{task_id}/comments", json={"comment": "Sending today"})
        assert reply.status_code == 201
        assert reply.json()["comment"]["author_type"] == "admin"
        listed = client.get(f"{BASE}/{task_id}/comments", headers=partner.headers).json()
        assert [c["body"] for c in listed["comments"]] == ["Fabric late", "Sending today"]
        assert listed["count"] == 2
        assert admin.get(f"/admin/tasks/{task_id}/comments").json()["count"] == 2
        detail = client.get(f"{BASE}/{task_id}", headers=partner.headers).json()["task"]
        assert len(detail["comments"]) == 2
        assert _run(admin, run["id"])["last_activity_at"] is not None

    def test_blank_or_oversized_comment_is_422(
        self,
        admin: TestClient,
        client: TestClient,
        partner: catalog.PartnerHandle,
        tasks: dict[str, Any],
    ) -> None:
        task_id = tasks["Cutting"]["id"]
        for body in (
            {"comment": ""},
            {"comment": "   \n\t"},
            {},
            {"comment": "x" * 5001},
            {"x": 1},
        ):
            assert_problem(_post(client, partner, f"/{task_id}/comments", json=body), 422)
        assert_problem(admin.post(f"/admin/tasks/{task_id}/comments", json={"comment": " "}), 422)
        assert (
            client.get(f"{BASE}/{task_id}/comments", headers=partner.headers).json()["count"] == 0
        )

    def test_admin_unknown_task_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/tasks/task_nope/comments"), 404, "task_not_found")
        assert_problem(admin.post("/admin/tasks/task_nope/comments", json={"comment": "x"}), 404)
        assert_problem(admin.get("/admin/tasks/task_nope"), 404)
