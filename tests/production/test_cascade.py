"""Cascade: children drive their parent; completed runs release their dependants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from tests.factories import catalog
from tests.factories.runs import split_run
from tests.factories.tasks import (
    create_template,
    event_kinds,
    finish_all_tasks,
    outbox_payloads,
    run_events,
    run_tasks,
)


@pytest.fixture
def design(admin: TestClient) -> dict[str, Any]:
    create_template(admin, "Cutting")
    create_template(admin, "Stitching")
    return catalog.create_design(admin)


@pytest.fixture
def cutter(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


@pytest.fixture
def tailor(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


def _run(admin: TestClient, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = admin.get(f"/admin/production-runs/{run_id}").json()["production_run"]
    return run


def _split(
    admin: TestClient,
    design: dict[str, Any],
    first: catalog.PartnerHandle,
    second: catalog.PartnerHandle,
    *,
    ordered: bool = True,
    second_templates: list[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    second_assignment: dict[str, Any] = {"partner_id": second.id, "quantity": 4}
    if second_templates is not None:
        second_assignment["template_names"] = second_templates
    if ordered:
        second_assignment["order"] = 2
    result = split_run(
        admin,
        design_id=design["id"],
        quantity=10,
        assignments=[
            {"partner_id": first.id, "quantity": 6, "order": 1, "template_names": ["Cutting"]},
            second_assignment,
        ],
    )
    children = {c["partner_id"]: c for c in result["children"]}
    return result["production_run"], children[first.id], children[second.id]


class TestChildAccepted:
    def test_accepting_a_child_moves_the_parent_to_in_progress(
        self,
        admin: TestClient,
        client: TestClient,
        design: dict[str, Any],
        cutter: catalog.PartnerHandle,
        tailor: catalog.PartnerHandle,
    ) -> None:
        parent, first, _second = _split(
            admin, design, cutter, tailor, second_templates=["Stitching"]
        )
        assert _run(admin, parent["id"])["status"] == "approved"
        task = run_tasks(admin, first["id"])[0]
        response = client.post(
            f"/partners/assigned-tasks/{task['id']}/accept", headers=cutter.headers
        )
        assert response.status_code == 200
        assert _run(admin, first["id"])["status"] == "in_progress"
        assert _run(admin, parent["id"])["status"] == "in_progress"
        moved = run_events(admin, parent["id"], "child_accepted")
        assert len(moved) == 1
        assert (moved[0]["from_status"], moved[0]["to_status"]) == ("approved", "in_progress")
        assert moved[0]["data"]["child_run_id"] == first["id"]


class TestRunCompleted:
    def test_completion_dispatches_dependant_then_completes_parent(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
        design: dict[str, Any],
        cutter: catalog.PartnerHandle,
        tailor: catalog.PartnerHandle,
    ) -> None:
        parent, first, second = _split(
            admin, design, cutter, tailor, second_templates=["Stitching"]
        )
        assert _run(admin, second["id"])["status"] == "approved"
        finish_all_tasks(client, cutter.headers, run_tasks(admin, first["id"]))
        drain()
        assert _run(admin, first["id"])["status"] == "completed"
        dependant = _run(admin, second["id"])
        assert dependant["status"] == "sent_to_partner"
        assert [t["title"] for t in run_tasks(admin, second["id"])] == ["Stitching"]
        sent = run_events(admin, second["id"], "sent_to_partner")
        assert len(sent) == 1 and sent[0]["actor_type"] == "system"
        assert _run(admin, parent["id"])["status"] == "in_progress"

        finish_all_tasks(client, tailor.headers, run_tasks(admin, second["id"]))
        drain()
        assert _run(admin, second["id"])["status"] == "completed"
        done = _run(admin, parent["id"])
        assert done["status"] == "completed"
        assert done["completed_at"] is not None
        completed = run_events(admin, parent["id"], "completed")
        assert len(completed) == 1
        assert completed[0]["data"]["via"] == "children"
        parent_events = outbox_payloads(
            db, "production_run.completed", production_run_id=parent["id"]
        )
        assert len(parent_events) == 1

    def test_dependant_without_intent_needs_manual_dispatch(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        design: dict[str, Any],
        cutter: catalog.PartnerHandle,
        tailor: catalog.PartnerHandle,
    ) -> None:
        _parent, first, second = _split(admin, design, cutter, tailor)
        finish_all_tasks(client, cutter.headers, run_tasks(admin, first["id"]))
        drain()
        assert _run(admin, first["id"])["status"] == "completed"
        assert _run(admin, second["id"])["status"] == "approved"
        flagged = run_events(admin, second["id"], "manual_dispatch_required")
        assert len(flagged) == 1
        assert flagged[0]["data"]["released_by_run_id"] == first["id"]
        # The admin dispatches it by hand now that nothing blocks it.
        response = admin.post(
            f"/admin/production-runs/{second['id']}/send-to-production",
            json={"template_names": ["Stitching"]},
        )
        assert response.status_code == 200, response.text

    def test_dependant_whose_templates_vanished_needs_manual_dispatch(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        design: dict[str, Any],
        cutter: catalog.PartnerHandle,
        tailor: catalog.PartnerHandle,
    ) -> None:
        _parent, first, second = _split(
            admin, design, cutter, tailor, second_templates=["Stitching"]
        )
        templates = admin.get("/admin/task-templates", params={"name": "Stitching"}).json()
        admin.delete(f"/admin/task-templates/{templates['task_templates'][0]['id']}")
        finish_all_tasks(client, cutter.headers, run_tasks(admin, first["id"]))
        drain()
        assert _run(admin, first["id"])["status"] == "completed"
        assert _run(admin, second["id"])["status"] == "approved"
        assert run_tasks(admin, second["id"]) == []
        flagged = run_events(admin, second["id"], "manual_dispatch_required")
        assert flagged[0]["data"]["code"] == "unknown_templates"
        assert "sent_to_partner" not in event_kinds(admin, second["id"])

    def test_parent_waits_for_every_child(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        design: dict[str, Any],
        cutter: catalog.PartnerHandle,
        tailor: catalog.PartnerHandle,
    ) -> None:
        parent, first, second = _split(
            admin, design, cutter, tailor, ordered=False, second_templates=["Stitching"]
        )
        assert _run(admin, second["id"])["status"] == "sent_to_partner"
        finish_all_tasks(client, cutter.headers, run_tasks(admin, first["id"]))
        drain()
        assert _run(admin, first["id"])["status"] == "completed"
        assert _run(admin, parent["id"])["status"] == "in_progress"
        finish_all_tasks(client, tailor.headers, run_tasks(admin, second["id"]))
        drain()
        assert _run(admin, parent["id"])["status"] == "completed"

    def test_cancelled_sibling_does_not_block_the_parent(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        design: dict[str, Any],
        cutter: catalog.PartnerHandle,
        tailor: catalog.PartnerHandle,
    ) -> None:
        parent, first, second = _split(
            admin, design, cutter, tailor, ordered=False, second_templates=["Stitching"]
        )
        cancelled = admin.post(
            f"/admin/production-runs/{second['id']}/cancel", json={"reason": "partner closed"}
        )
        assert cancelled.status_code == 200, cancelled.text
        finish_all_tasks(client, cutter.headers, run_tasks(admin, first["id"]))
        drain()
        assert _run(admin, parent["id"])["status"] == "completed"
