"""Completion: yield rules, consumption commit, finished-goods output, idempotency, corrections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.audit.models import RunEvent
from atelier.inventory.models import ConsumptionLog, InventoryMovement
from atelier.platform.db import Database
from atelier.production.completion import check_completion_output
from tests.conftest import assert_problem
from tests.factories import catalog, inventory
from tests.production.lifecycle_helpers import Dispatched, advance, dispatched, post_ok


@dataclass
class Setup:
    run: Dispatched
    owner: TestClient
    fabric: dict[str, Any]
    output: dict[str, Any]
    workshop: dict[str, Any]  # the partner's stock location


def build(
    app: FastAPI,
    admin: TestClient,
    client: TestClient,
    *,
    quantity: int = 10,
    output_item: bool = True,
    run_type: str = "production",
    design_status: str | None = None,
) -> Setup:
    fabric = inventory.create_item(admin, unit_of_measure="m")
    output = inventory.create_item(admin, unit_of_measure="pcs")
    fields: dict[str, Any] = {}
    if output_item:
        fields["output_inventory_item_id"] = output["id"]
    if design_status:
        fields["status"] = design_status
    design = catalog.create_design(admin, **fields)
    catalog.set_bom(admin, design["id"], {fabric["id"]: 1.2})
    partner = catalog.create_partner(admin, client)
    workshop = inventory.create_location(admin, name="Workshop", partner_id=partner.id)
    inventory.set_level(admin, fabric["id"], workshop["id"], 100.0)
    run = dispatched(
        admin, client, partner=partner, design=design, quantity=quantity, run_type=run_type
    )
    owner = TestClient(app, headers=partner.headers, raise_server_exceptions=False)
    return Setup(run, owner, fabric, output, workshop)


@pytest.fixture
def s(app: FastAPI, admin: TestClient, client: TestClient) -> Setup:
    setup = build(app, admin, client)
    advance(setup.owner, setup.run, to="finish")
    return setup


def finished_goods(admin: TestClient, item_id: str) -> float:
    levels = inventory.get_item(admin, item_id)["levels"]
    return sum(float(level["stocked_quantity"]) for level in levels)


def log(owner: TestClient, s: Setup, quantity: float, **extra: Any) -> dict[str, Any]:
    body = {"inventory_item_id": s.fabric["id"], "quantity": quantity, **extra}
    entry: dict[str, Any] = post_ok(owner, s.run.url("/consumption-logs"), body, 201)
    return entry["consumption_log"]


def kinds(db: Database, run_id: str, kind: str) -> list[RunEvent]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind == kind)
            )
        )


def movements(db: Database, run_id: str) -> list[InventoryMovement]:
    with db.session(write=False) as session:
        return list(
            session.scalars(
                select(InventoryMovement).where(InventoryMovement.production_run_id == run_id)
            )
        )


class TestCheckCompletionOutput:
    @pytest.mark.parametrize(
        ("quantity", "produced", "rejected", "allow", "why", "reason", "code"),
        [
            (10, 10, 0, False, None, None, "ok"),
            (10, 8, 2, False, None, "stitching_defect", "ok"),
            (10, 12, 0, False, None, None, "ok"),  # over-production is fine
            (None, 3, 0, False, None, None, "ok"),  # no quantity to cover
            (10, None, 0, False, None, None, "produced_quantity_required"),
            (10, -1, 0, False, None, None, "invalid_produced_quantity"),
            (10, 10, -1, False, None, None, "invalid_rejected_quantity"),
            (10, 2, 3, False, None, "other", "rejected_exceeds_produced"),
            (10, 10, 1, False, None, None, "rejection_reason_required"),
            (10, 5, 0, False, None, None, "shortfall_not_allowed"),
            (10, 5, 0, True, None, None, "shortfall_explanation_required"),
            (10, 5, 0, True, "   ", None, "shortfall_explanation_required"),
            (10, 5, 0, True, "fabric ran out", None, "ok"),
            (10, 5, 1, True, "sizing_error", "sizing_error", "ok"),
            (10, 0, 0, True, "nothing usable", None, "ok"),
        ],
    )
    def test_table(
        self,
        quantity: int | None,
        produced: int | None,
        rejected: int,
        allow: bool,
        why: str | None,
        reason: str | None,
        code: str,
    ) -> None:
        result = check_completion_output(
            quantity, produced, rejected, allow, why, rejection_reason=reason
        )
        assert result.code == code
        assert bool(result) is (code == "ok")
        if code != "ok":
            assert result.detail


class TestComplete:
    def test_owner_completes_and_inventory_moves(
        self, s: Setup, admin: TestClient, db: Database
    ) -> None:
        entry = log(s.owner, s, 12.5, consumption_type="production")
        body = post_ok(
            s.owner,
            s.run.url("/complete"),
            {
                "produced_quantity": 10,
                "rejected_quantity": 2,
                "rejection_reason": "stitching_defect",
                "rejection_notes": "two seams open",
                "notes": "done",
            },
        )
        run = body["production_run"]
        assert run["status"] == "completed" and run["completed_at"]
        assert (run["produced_quantity"], run["rejected_quantity"]) == (10, 2)
        assert run["rejection_reason"] == "stitching_defect"
        assert run["completion_notes"] == "done"
        assert body["consumptions_logged"] == 0
        assert body["consumptions_committed"] == 1
        assert "8 good" in body["message"]
        assert inventory.level_at(admin, s.fabric["id"], s.workshop["id"]) == pytest.approx(87.5)
        assert finished_goods(admin, s.output["id"]) == 8
        with db.session(write=False) as session:
            committed = session.get(ConsumptionLog, entry["id"])
            assert committed is not None and committed.is_committed and committed.committed_at
        keys = {m.idempotency_key for m in movements(db, s.run.id)}
        assert keys == {f"clog:{entry['id']}", f"run_output:{s.run.id}"}
        [event] = kinds(db, s.run.id, "completed")
        assert event.actor_type == "partner" and event.data["good_quantity"] == 8
        assert event.data["output"]["moved"] is True

    def test_produced_quantity_required_and_nothing_changes(
        self, s: Setup, admin: TestClient, db: Database
    ) -> None:
        entry = log(s.owner, s, 3)
        body = assert_problem(
            s.owner.post(s.run.url("/complete"), json={"rejected_quantity": 0}),
            422,
            "produced_quantity_required",
        )
        assert body["detail"] == "produced_quantity is required"
        run = s.owner.get(s.run.url()).json()["production_run"]
        assert run["status"] == "in_progress" and run["completed_at"] is None
        with db.session(write=False) as session:
            row = session.get(ConsumptionLog, entry["id"])
            assert row is not None and not row.is_committed
        assert movements(db, s.run.id) == []

    def test_rejected_needs_a_reason(self, s: Setup) -> None:
        response = s.owner.post(
            s.run.url("/complete"), json={"produced_quantity": 10, "rejected_quantity": 1}
        )
        assert_problem(response, 422, "rejection_reason_required")

    def test_unknown_rejection_reason_is_422(self, s: Setup) -> None:
        body = {"produced_quantity": 10, "rejected_quantity": 1, "rejection_reason": "bad luck"}
        assert_problem(s.owner.post(s.run.url("/complete"), json=body), 422, "validation_error")

    def test_rejected_above_produced_is_422(self, s: Setup) -> None:
        body = {"produced_quantity": 5, "rejected_quantity": 6, "rejection_reason": "other"}
        assert_problem(
            s.owner.post(s.run.url("/complete"), json=body), 422, "rejected_exceeds_produced"
        )

    def test_shortfall_is_refused(self, s: Setup) -> None:
        body = assert_problem(
            s.owner.post(s.run.url("/complete"), json={"produced_quantity": 6}),
            422,
            "shortfall_not_allowed",
        )
        assert "allow_shortfall" in body["detail"]

    def test_shortfall_needs_an_explanation(self, s: Setup) -> None:
        response = s.owner.post(
            s.run.url("/complete"), json={"produced_quantity": 6, "allow_shortfall": True}
        )
        assert_problem(response, 422, "shortfall_explanation_required")

    def test_explained_shortfall_completes(self, s: Setup, admin: TestClient, db: Database) -> None:
        body = post_ok(
            s.owner,
            s.run.url("/complete"),
            {"produced_quantity": 6, "allow_shortfall": True, "notes": "fabric ran short"},
        )
        assert body["production_run"]["status"] == "completed"
        assert finished_goods(admin, s.output["id"]) == 6
        [event] = kinds(db, s.run.id, "completed")
        assert event.data["shortfall"] == 4

    @pytest.mark.parametrize("value", [-1, 1_000_000_001, 1.5, "ten"])
    def test_out_of_range_quantities_are_422(self, s: Setup, value: Any) -> None:
        response = s.owner.post(s.run.url("/complete"), json={"produced_quantity": value})
        assert_problem(response, 422)

    def test_twice_is_409_and_inventory_moves_once(
        self, s: Setup, admin: TestClient, db: Database
    ) -> None:
        log(s.owner, s, 10)
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        body = assert_problem(
            s.owner.post(s.run.url("/complete"), json={"produced_quantity": 10}),
            409,
            "already_completed",
        )
        assert "already" in body["detail"]
        assert_problem(
            admin.post(s.run.admin_url("/complete"), json={"produced_quantity": 10}),
            409,
            "already_completed",
        )
        assert finished_goods(admin, s.output["id"]) == 10
        assert inventory.level_at(admin, s.fabric["id"], s.workshop["id"]) == 90
        assert len(movements(db, s.run.id)) == 2
        assert len(kinds(db, s.run.id, "completed")) == 1

    def test_consumptions_in_the_same_call(self, s: Setup, admin: TestClient, db: Database) -> None:
        log(s.owner, s, 4)
        consumptions = [
            {"inventory_item_id": s.fabric["id"], "quantity": 5, "consumption_type": "production"},
            {"inventory_item_id": s.fabric["id"], "quantity": 1, "consumption_type": "wastage"},
        ]
        body = post_ok(
            s.owner, s.run.url("/complete"), {"produced_quantity": 10, "consumptions": consumptions}
        )
        assert body["consumptions_logged"] == 2
        assert body["consumptions_committed"] == 3
        assert inventory.level_at(admin, s.fabric["id"], s.workshop["id"]) == 90
        logs = s.owner.get(s.run.url("/consumption-logs?committed=true")).json()
        assert logs["count"] == 3

    def test_bad_consumption_rolls_everything_back(
        self, s: Setup, admin: TestClient, db: Database
    ) -> None:
        stray = inventory.create_item(admin)
        consumptions = [{"inventory_item_id": stray["id"], "quantity": 1}]
        response = s.owner.post(
            s.run.url("/complete"), json={"produced_quantity": 10, "consumptions": consumptions}
        )
        assert_problem(response, 422, "item_not_in_bom")
        assert s.owner.get(s.run.url()).json()["production_run"]["status"] == "in_progress"
        assert movements(db, s.run.id) == []

    def test_per_piece_consumption_scales_with_produced(self, s: Setup, admin: TestClient) -> None:
        log(s.owner, s, 1.5, quantity_basis="per_piece")
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        assert inventory.level_at(admin, s.fabric["id"], s.workshop["id"]) == 85

    def test_other_partner_gets_404(
        self, s: Setup, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        other = catalog.create_partner(admin, client)
        stranger = TestClient(app, headers=other.headers, raise_server_exceptions=False)
        response = stranger.post(s.run.url("/complete"), json={"produced_quantity": 10})
        assert_problem(response, 404)

    def test_admin_completes_on_behalf(self, s: Setup, admin: TestClient, db: Database) -> None:
        body = post_ok(admin, s.run.admin_url("/complete"), {"produced_quantity": 10})
        assert body["production_run"]["status"] == "completed"
        [event] = kinds(db, s.run.id, "completed")
        assert event.actor_type == "admin" and event.data["source"] == "admin"


class TestOutputItem:
    def test_without_output_item_nothing_is_stocked(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        setup = build(app, admin, client, output_item=False)
        advance(setup.owner, setup.run, to="finish")
        post_ok(setup.owner, setup.run.url("/complete"), {"produced_quantity": 10})
        assert movements(db, setup.run.id) == []
        [event] = kinds(db, setup.run.id, "completed")
        assert event.data["output"]["moved"] is False
        assert "no output inventory item" in event.data["output"]["reason"]

    def test_variant_item_wins_over_design_item(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        variant_item = inventory.create_item(admin, unit_of_measure="pcs")
        fabric = inventory.create_item(admin)
        design_item = inventory.create_item(admin, unit_of_measure="pcs")
        design = catalog.create_design(admin, output_inventory_item_id=design_item["id"])
        product = catalog.create_product(
            admin,
            design_id=design["id"],
            variants=[{"title": "M", "inventory_item_id": variant_item["id"]}],
        )
        del fabric
        partner = catalog.create_partner(admin, client)
        run = dispatched(
            admin,
            client,
            partner=partner,
            design=design,
            quantity=3,
            product_id=product["id"],
            variant_id=product["variants"][0]["id"],
        )
        owner = TestClient(app, headers=partner.headers, raise_server_exceptions=False)
        advance(owner, run, to="finish")
        post_ok(owner, run.url("/complete"), {"produced_quantity": 3})
        assert finished_goods(admin, variant_item["id"]) == 3
        assert finished_goods(admin, design_item["id"]) == 0


class TestCorrections:
    def test_correction_moves_the_difference(
        self, s: Setup, admin: TestClient, db: Database
    ) -> None:
        post_ok(
            s.owner,
            s.run.url("/complete"),
            {"produced_quantity": 10, "rejected_quantity": 2, "rejection_reason": "fabric_flaw"},
        )
        body = post_ok(
            admin,
            s.run.admin_url("/corrections"),
            {"rejected_quantity": 1, "reason": "one piece was repaired"},
        )
        assert body["production_run"]["rejected_quantity"] == 1
        assert body["correction"]["before"] == {"produced_quantity": 10, "rejected_quantity": 2}
        assert body["correction"]["after"] == {"produced_quantity": 10, "rejected_quantity": 1}
        assert finished_goods(admin, s.output["id"]) == 9
        post_ok(
            admin,
            s.run.admin_url("/corrections"),
            {"produced_quantity": 7, "reason": "recount"},
        )
        assert finished_goods(admin, s.output["id"]) == 6
        events = kinds(db, s.run.id, "output_corrected")
        assert len(events) == 2
        assert {e.data["reason"] for e in events} == {"one piece was repaired", "recount"}
        keys = {m.idempotency_key for m in movements(db, s.run.id)}
        assert f"run_output_correction:{s.run.id}:1" in keys
        assert f"run_output_correction:{s.run.id}:2" in keys

    def test_unchanged_values_change_nothing(
        self, s: Setup, admin: TestClient, db: Database
    ) -> None:
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        body = post_ok(
            admin, s.run.admin_url("/corrections"), {"produced_quantity": 10, "reason": "check"}
        )
        assert body["correction"] is None
        assert kinds(db, s.run.id, "output_corrected") == []

    def test_reason_is_required(self, s: Setup, admin: TestClient) -> None:
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        url = s.run.admin_url("/corrections")
        assert_problem(admin.post(url, json={"produced_quantity": 9}), 422)
        assert_problem(admin.post(url, json={"produced_quantity": 9, "reason": "  "}), 422)
        assert_problem(admin.post(url, json={"reason": "nothing given"}), 422)

    def test_not_completed_is_409(self, s: Setup, admin: TestClient) -> None:
        response = admin.post(
            s.run.admin_url("/corrections"), json={"produced_quantity": 9, "reason": "early"}
        )
        assert_problem(response, 409, "not_completed")

    def test_rejected_above_produced_is_422(self, s: Setup, admin: TestClient) -> None:
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        response = admin.post(
            s.run.admin_url("/corrections"),
            json={"rejected_quantity": 11, "rejection_reason": "other", "reason": "x"},
        )
        assert_problem(response, 422, "rejected_exceeds_produced")

    def test_partner_cannot_correct(self, s: Setup) -> None:
        response = s.owner.post(
            s.run.admin_url("/corrections"), json={"produced_quantity": 9, "reason": "x"}
        )
        assert_problem(response, 403)


class TestMissingBody:
    def test_no_body_is_the_same_clear_422(self, s: Setup, admin: TestClient) -> None:
        body = assert_problem(
            s.owner.post(s.run.url("/complete")), 422, "produced_quantity_required"
        )
        assert body["detail"] == "produced_quantity is required"
        assert_problem(admin.post(s.run.admin_url("/complete")), 422, "produced_quantity_required")


class TestTaskDrivenCompletion:
    """``complete_run(source="tasks")`` through the real task API and outbox delivery."""

    def _finish_tasks(self, setup: Setup) -> None:
        detail = setup.owner.get(setup.run.url()).json()["production_run"]
        for task in detail["tasks"]:
            post_ok(setup.owner, f"/partners/assigned-tasks/{task['id']}/finish")

    def test_uses_the_last_reported_progress(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database, drain: Any
    ) -> None:
        setup = build(app, admin, client)
        post_ok(setup.owner, setup.run.url("/accept"))
        post_ok(setup.owner, setup.run.url("/progress"), {"produced_quantity": 7})
        self._finish_tasks(setup)
        drain()
        run = setup.owner.get(setup.run.url()).json()["production_run"]
        assert run["status"] == "completed"
        assert run["produced_quantity"] == 7
        assert run["started_at"] and run["finished_at"]
        assert finished_goods(admin, setup.output["id"]) == 7
        [event] = kinds(db, setup.run.id, "completed")
        assert event.data["source"] == "tasks" and event.data["shortfall"] == 3

    def test_without_progress_uses_the_run_quantity(
        self, app: FastAPI, admin: TestClient, client: TestClient, drain: Any
    ) -> None:
        setup = build(app, admin, client, quantity=4)
        self._finish_tasks(setup)
        drain()
        run = setup.owner.get(setup.run.url()).json()["production_run"]
        assert run["status"] == "completed" and run["produced_quantity"] == 4
        assert run["accepted_at"] and run["started_at"] and run["finished_at"]
        assert finished_goods(admin, setup.output["id"]) == 4

    def test_commits_logged_consumption(
        self, app: FastAPI, admin: TestClient, client: TestClient, drain: Any
    ) -> None:
        setup = build(app, admin, client)
        post_ok(setup.owner, setup.run.url("/accept"))
        log(setup.owner, setup, 6)
        self._finish_tasks(setup)
        drain()
        assert inventory.level_at(admin, setup.fabric["id"], setup.workshop["id"]) == 94

    def test_finish_with_complete_tasks_waits_for_the_partners_yield(
        self, app: FastAPI, admin: TestClient, client: TestClient, drain: Any
    ) -> None:
        setup = build(app, admin, client)
        advance(setup.owner, setup.run, to="start")
        post_ok(setup.owner, setup.run.url("/finish"), {"complete_tasks": True})
        drain()
        run = setup.owner.get(setup.run.url()).json()["production_run"]
        # An explicit finish makes /complete the gate: the yield is the partner's, not a guess.
        assert run["status"] == "in_progress" and run["finished_at"]
        assert run["progress"]["completed"] == run["progress"]["total"]
        body = post_ok(setup.owner, setup.run.url("/complete"), {"produced_quantity": 10})
        assert body["production_run"]["status"] == "completed"
        assert finished_goods(admin, setup.output["id"]) == 10

    def test_already_completed_reports_already(self, s: Setup, db: Database) -> None:
        from atelier.platform.actors import Actor
        from atelier.production import completion, transitions

        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        with db.session() as session:
            run = transitions.get_run(session, s.run.id)
            result = completion.complete_run(
                session, run, actor=Actor.system(), produced_quantity=None, source="tasks"
            )
            assert result.already is True and result.message == "Already completed"
        assert len(kinds(db, s.run.id, "completed")) == 1


class TestRedoBlocksCompletion:
    def _add_redo(self, admin: TestClient, s: Setup) -> str:
        from tests.factories.tasks import create_template

        create_template(admin, "Redo inspect")
        body = post_ok(admin, s.run.admin_url("/tasks"), {"template_names": ["Redo inspect"]}, 201)
        task_id: str = body["tasks"][0]["id"]
        return task_id

    def test_open_redo_task_refuses_complete(self, admin: TestClient, s: Setup) -> None:
        task_id = self._add_redo(admin, s)
        response = s.owner.post(s.run.url("/complete"), json={"produced_quantity": 10})
        body = assert_problem(response, 409, "redo_tasks_open")
        assert body["open_task_ids"] == [task_id]
        run = s.owner.get(s.run.url()).json()["production_run"]
        assert run["status"] == "in_progress"

    def test_admin_on_behalf_is_refused_too(self, admin: TestClient, s: Setup) -> None:
        self._add_redo(admin, s)
        response = admin.post(s.run.admin_url("/complete"), json={"produced_quantity": 10})
        assert_problem(response, 409, "redo_tasks_open")

    def test_completes_once_redo_is_done(self, admin: TestClient, s: Setup) -> None:
        task_id = self._add_redo(admin, s)
        post_ok(s.owner, f"/partners/assigned-tasks/{task_id}/accept")
        post_ok(s.owner, f"/partners/assigned-tasks/{task_id}/finish")
        body = post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        assert body["production_run"]["status"] == "completed"


class TestExplicitFinishIsTheGate:
    def test_tasks_finished_after_run_finish_do_not_complete_it(
        self, admin: TestClient, s: Setup, drain: Any
    ) -> None:
        tasks = s.owner.get("/partners/assigned-tasks", params={"production_run_id": s.run.id})
        assert tasks.json()["tasks"], "the dispatched run has tasks"
        for task in tasks.json()["tasks"]:
            if task["status"] == "pending":
                post_ok(s.owner, f"/partners/assigned-tasks/{task['id']}/accept")
            post_ok(s.owner, f"/partners/assigned-tasks/{task['id']}/finish")
        drain()
        run = s.owner.get(s.run.url()).json()["production_run"]
        assert run["status"] == "in_progress" and run["completed_at"] is None
        body = post_ok(
            s.owner,
            s.run.url("/complete"),
            {"produced_quantity": 9, "rejected_quantity": 1, "rejection_reason": "fabric_flaw"},
        )
        assert body["production_run"]["produced_quantity"] == 9
