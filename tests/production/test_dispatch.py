"""Dispatch: pause in awaiting_templates, confirm, send-to-production, guards."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from tests.conftest import assert_problem, bearer
from tests.factories import catalog
from tests.factories.runs import split_run
from tests.factories.tasks import (
    approved_run_without_intent,
    create_template,
    event_kinds,
    outbox_payloads,
    run_events,
    run_tasks,
)
from tests.live import LiveServer, together


@pytest.fixture
def partner(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


@pytest.fixture
def design(admin: TestClient) -> dict[str, Any]:
    return catalog.create_design(admin)


@pytest.fixture
def templates(admin: TestClient) -> dict[str, dict[str, Any]]:
    return {
        "Cutting": create_template(
            admin, "Cutting", category="Cut & sew", subtasks=["Mark", "Cut"]
        ),
        "Stitching": create_template(admin, "Stitching", category="Cut & sew", priority="high"),
        "Pressing": create_template(admin, "Pressing", category="Finishing"),
    }


@pytest.fixture
def run(
    admin: TestClient,
    partner: catalog.PartnerHandle,
    design: dict[str, Any],
    templates: dict[str, Any],
) -> dict[str, Any]:
    return approved_run_without_intent(admin, partner=partner, design_id=design["id"])


def _dispatch(admin: TestClient, run_id: str) -> Any:
    return admin.post(f"/admin/production-runs/{run_id}/dispatch")


def _confirm(admin: TestClient, run_id: str, **body: Any) -> Any:
    return admin.post(f"/admin/production-runs/{run_id}/dispatch/confirm", json=body)


class TestDispatchPause:
    def test_dispatch_waits_for_templates(self, admin: TestClient, run: dict[str, Any]) -> None:
        response = _dispatch(admin, run["id"])
        assert response.status_code == 202, response.text
        paused = response.json()["production_run"]
        assert paused["status"] == "approved"
        assert paused["dispatch_state"] == "awaiting_templates"
        assert paused["dispatch_started_at"] is not None
        assert "dispatch_started" in event_kinds(admin, run["id"])

    def test_second_dispatch_while_waiting_is_409(
        self, admin: TestClient, run: dict[str, Any]
    ) -> None:
        _dispatch(admin, run["id"])
        assert_problem(_dispatch(admin, run["id"]), 409, "dispatch_pending")

    def test_pending_review_run_is_409(
        self, admin: TestClient, partner: catalog.PartnerHandle, design: dict[str, Any]
    ) -> None:
        created = admin.post(
            "/admin/production-runs", json={"design_id": design["id"], "partner_id": partner.id}
        ).json()["production_run"]
        body = assert_problem(_dispatch(admin, created["id"]), 409, "invalid_status")
        assert "pending_review" in body["detail"]

    def test_run_without_partner_is_409(self, admin: TestClient, design: dict[str, Any]) -> None:
        created = admin.post("/admin/production-runs", json={"design_id": design["id"]}).json()
        run_id = created["production_run"]["id"]
        admin.post(f"/admin/production-runs/{run_id}/approve", json={})
        assert_problem(_dispatch(admin, run_id), 409, "partner_required")

    def test_unknown_run_is_404(self, admin: TestClient) -> None:
        assert_problem(_dispatch(admin, "prod_run_nope"), 404, "production_run_not_found")
        assert_problem(_confirm(admin, "prod_run_nope", template_names=["x"]), 404)
        assert_problem(
            admin.post("/admin/production-runs/prod_run_nope/send-to-production", json={}), 404
        )

    def test_waiting_on_dependencies_is_409_naming_them(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        first, second = catalog.create_partner(admin, client), catalog.create_partner(admin, client)
        result = split_run(
            admin,
            design_id=design["id"],
            quantity=10,
            assignments=[
                {"partner_id": first.id, "quantity": 5, "order": 1},
                {"partner_id": second.id, "quantity": 5, "order": 2},
            ],
        )
        children = {c["partner_id"]: c for c in result["children"]}
        body = assert_problem(
            _dispatch(admin, children[second.id]["id"]), 409, "dependencies_pending"
        )
        assert children[first.id]["id"] in body["detail"]

    def test_cancelled_run_is_409(self, admin: TestClient, run: dict[str, Any]) -> None:
        admin.post(f"/admin/production-runs/{run['id']}/cancel", json={"reason": "no"})
        assert_problem(_dispatch(admin, run["id"]), 409, "run_terminal")

    def test_cancel_pending_dispatch(self, admin: TestClient, run: dict[str, Any]) -> None:
        _dispatch(admin, run["id"])
        response = admin.post(f"/admin/production-runs/{run['id']}/dispatch/cancel")
        assert response.status_code == 200
        assert response.json()["production_run"]["dispatch_state"] == "idle"
        assert _dispatch(admin, run["id"]).status_code == 202
        admin.post(f"/admin/production-runs/{run['id']}/dispatch/cancel")
        assert_problem(
            admin.post(f"/admin/production-runs/{run['id']}/dispatch/cancel"),
            409,
            "dispatch_not_pending",
        )

    def test_partner_token_is_403(
        self, client: TestClient, partner: catalog.PartnerHandle, run: dict[str, Any]
    ) -> None:
        response = client.post(
            f"/admin/production-runs/{run['id']}/dispatch", headers=partner.headers
        )
        assert_problem(response, 403)
        assert_problem(client.post(f"/admin/production-runs/{run['id']}/dispatch"), 401)


class TestConfirm:
    def test_creates_tasks_and_sends_to_partner(
        self,
        admin: TestClient,
        db: Database,
        run: dict[str, Any],
        partner: catalog.PartnerHandle,
        design: dict[str, Any],
        templates: dict[str, Any],
    ) -> None:
        _dispatch(admin, run["id"])
        response = _confirm(admin, run["id"], template_names=["Stitching", "Cutting"])
        assert response.status_code == 200, response.text
        body = response.json()
        sent = body["production_run"]
        assert sent["status"] == "sent_to_partner"
        assert sent["dispatch_state"] == "completed"
        assert sent["dispatch_completed_at"] is not None
        assert sent["dispatched_template_ids"] == [
            templates["Stitching"]["id"],
            templates["Cutting"]["id"],
        ]
        assert sent["current_gate"] == "accept"
        tasks = body["tasks"]
        assert [t["title"] for t in tasks] == ["Stitching", "Cutting"]
        assert [t["position"] for t in tasks] == [0, 1]
        assert tasks[0]["priority"] == "high"
        for task in tasks:
            assert task["status"] == "pending"
            assert task["production_run_id"] == run["id"]
            assert task["partner_id"] == partner.id
            assert task["design_id"] == design["id"]
            assert task["is_redo"] is False
        assert tasks[0]["template_id"] == templates["Stitching"]["id"]
        subtasks = tasks[1]["subtasks"]
        assert [s["title"] for s in subtasks] == ["Mark", "Cut"]
        assert all(s["parent_task_id"] == tasks[1]["id"] for s in subtasks)
        assert all(s["partner_id"] == partner.id for s in subtasks)
        assert [t["id"] for t in run_tasks(admin, run["id"])] == [t["id"] for t in tasks]

        sent_events = run_events(admin, run["id"], "sent_to_partner")
        assert len(sent_events) == 1
        assert sent_events[0]["from_status"] == "approved"
        assert sent_events[0]["to_status"] == "sent_to_partner"
        assert sent_events[0]["actor_type"] == "admin"
        emitted = outbox_payloads(db, "production_run.sent_to_partner", production_run_id=run["id"])
        assert len(emitted) == 1
        assert emitted[0]["partner_id"] == partner.id

    def test_by_template_ids(
        self, admin: TestClient, run: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        _dispatch(admin, run["id"])
        ids = [templates["Pressing"]["id"], templates["Cutting"]["id"]]
        body = _confirm(admin, run["id"], template_ids=ids).json()
        assert body["production_run"]["dispatched_template_ids"] == ids
        assert [t["title"] for t in body["tasks"]] == ["Pressing", "Cutting"]

    def test_by_category_takes_all_its_templates(
        self, admin: TestClient, run: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        _dispatch(admin, run["id"])
        body = _confirm(admin, run["id"], category="cut & sew").json()
        assert sorted(t["title"] for t in body["tasks"]) == ["Cutting", "Stitching"]

    def test_category_by_id(
        self, admin: TestClient, run: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        _dispatch(admin, run["id"])
        category_id = templates["Pressing"]["category"]["id"]
        body = _confirm(admin, run["id"], category=category_id).json()
        assert [t["title"] for t in body["tasks"]] == ["Pressing"]

    def test_unknown_template_is_422_and_nothing_is_created(
        self, admin: TestClient, run: dict[str, Any]
    ) -> None:
        _dispatch(admin, run["id"])
        body = assert_problem(
            _confirm(admin, run["id"], template_names=["Cutting", "Embroidery", "Dyeing"]),
            422,
            "unknown_templates",
        )
        assert "Embroidery" in body["detail"] and "Dyeing" in body["detail"]
        assert body["unknown"] == ["Embroidery", "Dyeing"]
        assert run_tasks(admin, run["id"]) == []
        after = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]
        assert after["status"] == "approved"
        assert after["dispatch_state"] == "awaiting_templates"

    def test_unknown_template_id_is_422(self, admin: TestClient, run: dict[str, Any]) -> None:
        _dispatch(admin, run["id"])
        body = assert_problem(
            _confirm(admin, run["id"], template_ids=["ttpl_nope"]), 422, "unknown_templates"
        )
        assert "ttpl_nope" in body["detail"]

    def test_ambiguous_name_is_422(self, admin: TestClient, run: dict[str, Any]) -> None:
        # Names are unique ignoring case through the API; an imported/legacy pair can still
        # differ only by case, and a name matching both is refused rather than guessed.
        from atelier.tasks.models import TaskTemplate

        db: Database = admin.app.state.db  # type: ignore[attr-defined]
        with db.session() as session:
            session.add_all([TaskTemplate(name="Dyeing"), TaskTemplate(name="DYEING")])
        _dispatch(admin, run["id"])
        body = assert_problem(
            _confirm(admin, run["id"], template_names=["dyeing"]), 422, "ambiguous_templates"
        )
        assert "Dyeing" in body["detail"] and "DYEING" in body["detail"]
        assert run_tasks(admin, run["id"]) == []
        # An exact match is not ambiguous.
        assert _confirm(admin, run["id"], template_names=["Dyeing"]).status_code == 200

    def test_unknown_or_empty_category_is_422(
        self, admin: TestClient, run: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        _dispatch(admin, run["id"])
        assert_problem(_confirm(admin, run["id"], category="Nope"), 422, "unknown_category")
        admin.post("/admin/task-templates/categories", json={"name": "Empty"})
        assert_problem(_confirm(admin, run["id"], category="Empty"), 422, "empty_category")

    def test_body_must_name_exactly_one_kind(self, admin: TestClient, run: dict[str, Any]) -> None:
        _dispatch(admin, run["id"])
        assert_problem(_confirm(admin, run["id"]), 422, "templates_required")
        assert_problem(
            _confirm(admin, run["id"], template_names=["Cutting"], category="Cut & sew"), 422
        )
        assert_problem(_confirm(admin, run["id"], template_names=[]), 422)
        assert_problem(_confirm(admin, run["id"], template_names=["x"] * 51), 422)
        assert_problem(_confirm(admin, run["id"], template_names=[""]), 422)

    def test_confirm_when_not_waiting_is_409(self, admin: TestClient, run: dict[str, Any]) -> None:
        assert_problem(
            _confirm(admin, run["id"], template_names=["Cutting"]), 409, "dispatch_not_pending"
        )
        _dispatch(admin, run["id"])
        assert _confirm(admin, run["id"], template_names=["Cutting"]).status_code == 200
        assert_problem(
            _confirm(admin, run["id"], template_names=["Cutting"]), 409, "already_dispatched"
        )
        assert len(run_tasks(admin, run["id"])) == 1

    def test_duplicate_names_create_one_task(self, admin: TestClient, run: dict[str, Any]) -> None:
        _dispatch(admin, run["id"])
        body = _confirm(admin, run["id"], template_names=["Cutting", "cutting", "Cutting"]).json()
        assert [t["title"] for t in body["tasks"]] == ["Cutting"]


class TestConcurrentConfirm:
    def test_a_hundred_simultaneous_confirms_dispatch_once(
        self,
        admin: TestClient,
        admin_token: str,
        db: Database,
        run: dict[str, Any],
        templates: dict[str, Any],
        live: LiveServer,
    ) -> None:
        """100 callers through a served app (one event loop, one worker pool)."""
        assert _dispatch(admin, run["id"]).status_code == 202
        url = f"/admin/production-runs/{run['id']}/dispatch/confirm"

        def confirm(_: int) -> int:
            with live.client(bearer(admin_token)) as c:
                return c.post(url, json={"template_names": ["Stitching"]}).status_code

        statuses = together(100, confirm)
        assert Counter(statuses) == {200: 1, 409: 99}, Counter(map(str, statuses))
        assert [t["title"] for t in run_tasks(admin, run["id"])] == ["Stitching"]
        assert len(run_events(admin, run["id"], "sent_to_partner")) == 1
        emitted = outbox_payloads(db, "production_run.sent_to_partner", production_run_id=run["id"])
        assert len(emitted) == 1


class TestSendToProduction:
    def test_dispatches_in_one_call(
        self, admin: TestClient, run: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        response = admin.post(
            f"/admin/production-runs/{run['id']}/send-to-production",
            json={"template_names": ["Cutting"]},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["production_run"]["status"] == "sent_to_partner"
        assert body["production_run"]["dispatch_started_at"] is not None
        assert [t["title"] for t in body["tasks"]] == ["Cutting"]

    def test_also_confirms_a_paused_dispatch(self, admin: TestClient, run: dict[str, Any]) -> None:
        _dispatch(admin, run["id"])
        response = admin.post(
            f"/admin/production-runs/{run['id']}/send-to-production", json={"category": "Finishing"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["production_run"]["dispatch_state"] == "completed"

    def test_falls_back_to_template_intent(
        self,
        admin: TestClient,
        partner: catalog.PartnerHandle,
        design: dict[str, Any],
        templates: dict[str, Any],
    ) -> None:
        created = admin.post(
            "/admin/production-runs", json={"design_id": design["id"], "partner_id": partner.id}
        ).json()["production_run"]
        # Approving with intent dispatches at once; cancel that path by approving a run whose
        # intent names a template that does not exist yet, then create it.
        approved = admin.post(
            f"/admin/production-runs/{created['id']}/approve",
            json={"template_names": ["Embroidery"]},
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["dispatch"]["failed"]
        create_template(admin, "Embroidery")
        response = admin.post(f"/admin/production-runs/{created['id']}/send-to-production")
        assert response.status_code == 200, response.text
        assert [t["title"] for t in response.json()["tasks"]] == ["Embroidery"]

    def test_no_templates_at_all_is_422(self, admin: TestClient, run: dict[str, Any]) -> None:
        response = admin.post(f"/admin/production-runs/{run['id']}/send-to-production", json={})
        assert_problem(response, 422, "templates_required")
        assert_problem(
            admin.post(f"/admin/production-runs/{run['id']}/send-to-production"),
            422,
            "templates_required",
        )

    def test_already_sent_is_409(self, admin: TestClient, run: dict[str, Any]) -> None:
        url = f"/admin/production-runs/{run['id']}/send-to-production"
        assert admin.post(url, json={"template_names": ["Cutting"]}).status_code == 200
        assert_problem(
            admin.post(url, json={"template_names": ["Cutting"]}), 409, "already_dispatched"
        )
        assert_problem(_dispatch(admin, run["id"]), 409, "already_dispatched")


class TestApprovalWithIntent:
    def test_approve_with_templates_dispatches(
        self,
        admin: TestClient,
        partner: catalog.PartnerHandle,
        design: dict[str, Any],
        templates: dict[str, Any],
    ) -> None:
        created = admin.post(
            "/admin/production-runs", json={"design_id": design["id"], "partner_id": partner.id}
        ).json()["production_run"]
        result = admin.post(
            f"/admin/production-runs/{created['id']}/approve",
            json={"template_names": ["Cutting", "Pressing"]},
        ).json()
        assert result["dispatch"]["dispatched"] == [created["id"]]
        tasks = run_tasks(admin, created["id"])
        assert [t["title"] for t in tasks] == ["Cutting", "Pressing"]

    def test_split_dispatches_first_group_and_defers_the_rest(
        self,
        admin: TestClient,
        client: TestClient,
        design: dict[str, Any],
        templates: dict[str, Any],
    ) -> None:
        first, second = catalog.create_partner(admin, client), catalog.create_partner(admin, client)
        result = split_run(
            admin,
            design_id=design["id"],
            quantity=10,
            assignments=[
                {"partner_id": first.id, "quantity": 5, "order": 1, "template_names": ["Cutting"]},
                {
                    "partner_id": second.id,
                    "quantity": 5,
                    "order": 2,
                    "template_names": ["Pressing"],
                },
            ],
        )
        children = {c["partner_id"]: c for c in result["children"]}
        assert result["dispatch"]["dispatched"] == [children[first.id]["id"]]
        assert result["dispatch"]["deferred_for_ordering"] is True
        assert run_tasks(admin, children[second.id]["id"]) == []
