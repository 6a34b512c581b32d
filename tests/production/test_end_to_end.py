"""The whole path through the API: order → run → split with ordering → dispatch → partner task
work → task-driven completion → dependant auto-dispatch → parent completion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from atelier.platform.db import Database
from tests.factories import catalog
from tests.factories.orders import create_order
from tests.factories.tasks import create_template, event_kinds, outbox_payloads, run_tasks

TASKS = "/partners/assigned-tasks"


def _run(admin: TestClient, run_id: str) -> dict[str, Any]:
    response = admin.get(f"/admin/production-runs/{run_id}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()["production_run"]
    return run


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


class TestOrderToCompletedParent:
    def test_full_path(
        self, admin: TestClient, client: TestClient, db: Database, drain: Callable[[], int]
    ) -> None:
        # Setup the brand needs: templates, a design sold as a product, two workshops.
        create_template(admin, "Cutting", category="Cut & sew", subtasks=["Mark", "Cut"])
        create_template(admin, "Stitching", category="Cut & sew")
        create_template(admin, "Finishing", category="Finishing")
        design = catalog.create_design(admin, name="Kurta")
        product = catalog.create_product(admin, design_id=design["id"])
        cutter = catalog.create_partner(admin, client, name="Cutter")
        tailor = catalog.create_partner(admin, client, name="Tailor")

        # 1. An order arrives; the order.placed subscriber creates a pending run.
        order = create_order(admin, items=[{"product_id": product["id"], "quantity": 10}])
        drain()
        listed = _ok(admin.get("/admin/production-runs", params={"order_id": order["id"]}))
        assert listed["count"] == 1
        parent = listed["production_runs"][0]
        assert parent["status"] == "pending_review"
        assert parent["order_line_item_id"] == order["items"][0]["id"]
        assert parent["metadata"]["source"] == "order.placed"

        # 2. Approve with two partners and an ordering: the cutter first, then the tailor.
        approval = _ok(
            admin.post(
                f"/admin/production-runs/{parent['id']}/approve",
                json={
                    "assignments": [
                        {"partner_id": cutter.id, "role": "cutting", "quantity": 5, "order": 1},
                        {
                            "partner_id": tailor.id,
                            "role": "stitching",
                            "quantity": 5,
                            "order": 2,
                            "template_names": ["Stitching", "Finishing"],
                        },
                    ]
                },
            )
        )
        children = {c["partner_id"]: c for c in approval["children"]}
        first, second = children[cutter.id], children[tailor.id]
        assert second["depends_on_run_ids"] == [first["id"]]
        assert approval["dispatch"]["dispatched"] == []
        assert approval["dispatch"]["deferred_for_ordering"] is True

        # 3. Dispatch the first child: pause, then confirm the templates.
        paused = _ok(admin.post(f"/admin/production-runs/{first['id']}/dispatch"), 202)
        assert paused["production_run"]["dispatch_state"] == "awaiting_templates"
        confirmed = _ok(
            admin.post(
                f"/admin/production-runs/{first['id']}/dispatch/confirm",
                json={"template_names": ["Cutting"]},
            )
        )
        assert confirmed["production_run"]["status"] == "sent_to_partner"
        (cutting,) = confirmed["tasks"]

        # 4. The cutter sees its task, accepts it, ticks the subtasks.
        mine = _ok(client.get(TASKS, headers=cutter.headers))
        assert [t["id"] for t in mine["tasks"]] == [cutting["id"]]
        assert _ok(client.get(TASKS, headers=tailor.headers))["count"] == 0
        _ok(client.post(f"{TASKS}/{cutting['id']}/accept", headers=cutter.headers))
        assert _run(admin, first["id"])["status"] == "in_progress"
        assert _run(admin, parent["id"])["status"] == "in_progress"
        _ok(
            client.post(
                f"{TASKS}/{cutting['id']}/comments",
                json={"comment": "Cutting started"},
                headers=cutter.headers,
            ),
            201,
        )
        for sub in cutting["subtasks"]:
            _ok(
                client.post(
                    f"{TASKS}/{cutting['id']}/subtasks/{sub['id']}/complete",
                    headers=cutter.headers,
                )
            )

        # 5. The last subtask completed the task; the subscriber completes the first child, and
        #    the cascade dispatches the second with its template intent.
        drain()
        assert _run(admin, first["id"])["status"] == "completed"
        released = _run(admin, second["id"])
        assert released["status"] == "sent_to_partner"
        tailor_tasks = run_tasks(admin, second["id"])
        assert [t["title"] for t in tailor_tasks] == ["Stitching", "Finishing"]
        assert _run(admin, parent["id"])["status"] == "in_progress"

        # 6. The tailor accepts and finishes its tasks.
        for task in tailor_tasks:
            _ok(client.post(f"{TASKS}/{task['id']}/accept", headers=tailor.headers))
            _ok(client.post(f"{TASKS}/{task['id']}/finish", headers=tailor.headers))
        drain()
        assert _run(admin, second["id"])["status"] == "completed"

        # 7. Both children done: the parent is completed.
        done = _run(admin, parent["id"])
        assert done["status"] == "completed"
        assert done["completed_at"] is not None

        # A RunEvent for every step.
        assert event_kinds(admin, parent["id"]) == [
            "created",
            "approved",
            "child_accepted",
            "completed",
        ]
        first_kinds = event_kinds(admin, first["id"])
        for kind in ("created", "dispatch_started", "sent_to_partner", "accepted", "completed"):
            assert kind in first_kinds, first_kinds
        assert first_kinds.index("sent_to_partner") < first_kinds.index("accepted")
        assert first_kinds.index("accepted") < first_kinds.index("completed")
        second_kinds = event_kinds(admin, second["id"])
        for kind in ("created", "sent_to_partner", "accepted", "completed"):
            assert kind in second_kinds, second_kinds
        for run_id in (parent["id"], first["id"], second["id"]):
            completed = outbox_payloads(db, "production_run.completed", production_run_id=run_id)
            assert len(completed) == 1, run_id
        sent = outbox_payloads(db, "production_run.sent_to_partner")
        assert sorted(p["production_run_id"] for p in sent) == sorted([first["id"], second["id"]])
