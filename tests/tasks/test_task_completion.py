"""Task-driven run completion: exactly once, cancelled tasks don't block, redo tasks do."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform.actors import Actor
from atelier.platform.db import Database
from atelier.production.subscribers import complete_run_if_tasks_done
from atelier.tasks import service
from tests.factories import catalog
from tests.factories.tasks import (
    create_template,
    dispatched_run,
    finish_all_tasks,
    outbox_payloads,
    run_events,
    run_tasks,
)
from tests.live import LiveServer, together

BASE = "/partners/assigned-tasks"


@pytest.fixture
def partner(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


@pytest.fixture
def run(admin: TestClient, partner: catalog.PartnerHandle) -> dict[str, Any]:
    create_template(admin, "Cutting", subtasks=["Mark", "Cut"])
    create_template(admin, "Stitching")
    create_template(admin, "Redo fix")
    design = catalog.create_design(admin)
    return dispatched_run(
        admin, partner=partner, design_id=design["id"], templates=["Cutting", "Stitching"]
    )


def _status(admin: TestClient, run_id: str) -> str:
    status: str = admin.get(f"/admin/production-runs/{run_id}").json()["production_run"]["status"]
    return status


def _completed_events(db: Database, run_id: str) -> list[dict[str, Any]]:
    return outbox_payloads(db, "production_run.completed", production_run_id=run_id)


class TestCompletion:
    def test_last_task_completes_the_run_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        tasks = run_tasks(admin, run["id"])
        finish_all_tasks(client, partner.headers, tasks[:1])
        drain()
        assert _status(admin, run["id"]) == "in_progress"
        finish_all_tasks(client, partner.headers, tasks[1:])
        drain()
        after = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]
        assert after["status"] == "completed"
        assert after["completed_at"] is not None
        assert after["produced_quantity"] == run["quantity"]
        completed = run_events(admin, run["id"], "completed")
        assert len(completed) == 1
        assert completed[0]["actor_type"] == "system"
        assert completed[0]["data"]["source"] == "tasks"
        assert len(_completed_events(db, run["id"])) == 1
        # Redelivery and a late re-check change nothing.
        with db.session() as session:
            assert complete_run_if_tasks_done(session, run["id"]) is False
        drain()
        assert len(_completed_events(db, run["id"])) == 1

    def test_completing_the_last_subtask_completes_the_run(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        cutting, stitching = run_tasks(admin, run["id"])
        finish_all_tasks(client, partner.headers, [stitching])
        client.post(f"{BASE}/{cutting['id']}/accept", headers=partner.headers)
        for sub in cutting["subtasks"]:
            response = client.post(
                f"{BASE}/{cutting['id']}/subtasks/{sub['id']}/complete", headers=partner.headers
            )
            assert response.status_code == 200
        drain()
        assert _status(admin, run["id"]) == "completed"

    def test_cancelled_tasks_do_not_block(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        cutting, stitching = run_tasks(admin, run["id"])
        finish_all_tasks(client, partner.headers, [stitching])
        drain()
        assert _status(admin, run["id"]) == "in_progress"
        with db.session() as session:
            from sqlalchemy import update

            from atelier.tasks.models import Task

            session.execute(
                update(Task)
                .where((Task.id == cutting["id"]) | (Task.parent_task_id == cutting["id"]))
                .values(status="cancelled")
            )
            service.emit_task_updated(session, session.get(Task, cutting["id"]), Actor.system())  # type: ignore[arg-type]
        drain()
        assert _status(admin, run["id"]) == "completed"

    def test_all_cancelled_does_not_complete(
        self, admin: TestClient, db: Database, drain: Callable[[], int], run: dict[str, Any]
    ) -> None:
        with db.session() as session:
            service.cancel_open_tasks(session, run["id"], Actor.system(), reason="test")
        drain()
        assert _status(admin, run["id"]) == "sent_to_partner"

    def test_redo_tasks_block_until_done(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        cutting, stitching = run_tasks(admin, run["id"])
        finish_all_tasks(client, partner.headers, [cutting])
        drain()
        added = admin.post(
            f"/admin/production-runs/{run['id']}/tasks", json={"template_names": ["Redo fix"]}
        )
        assert added.status_code == 201, added.text
        finish_all_tasks(client, partner.headers, [stitching])
        drain()
        assert _status(admin, run["id"]) == "in_progress"
        finish_all_tasks(client, partner.headers, added.json()["tasks"])
        drain()
        assert _status(admin, run["id"]) == "completed"
        assert len(_completed_events(db, run["id"])) == 1


class TestConcurrency:
    def test_last_two_tasks_finishing_together_complete_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        tasks = run_tasks(admin, run["id"])
        for task in tasks:
            client.post(f"{BASE}/{task['id']}/accept", headers=partner.headers)
        barrier = threading.Barrier(len(tasks))
        statuses: list[int] = []

        def finish(task_id: str) -> None:
            barrier.wait()
            response = client.post(f"{BASE}/{task_id}/finish", headers=partner.headers)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=finish, args=(t["id"],)) for t in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200, 200]
        drain()
        assert _status(admin, run["id"]) == "completed"
        assert len(_completed_events(db, run["id"])) == 1
        assert len(run_events(admin, run["id"], "completed")) == 1

    def test_concurrent_deliveries_complete_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        finish_all_tasks(client, partner.headers, run_tasks(admin, run["id"]))
        workers = 6
        barrier = threading.Barrier(workers)
        results: list[bool] = []
        errors: list[BaseException] = []

        def deliver() -> None:
            try:
                barrier.wait()
                session = db.new_session(write=True)
                try:
                    results.append(complete_run_if_tasks_done(session, run["id"]))
                    session.commit()
                finally:
                    session.close()
            except BaseException as exc:  # pragma: no cover - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=deliver) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results) == [False] * (workers - 1) + [True]
        assert len(_completed_events(db, run["id"])) == 1
        assert len(run_events(admin, run["id"], "completed")) == 1

    def test_a_hundred_callers_racing_the_last_finish_complete_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
        live: LiveServer,
    ) -> None:
        """50 partners' finish of the last task (through a served app) race 50 deliveries of
        the task-driven completion check; the run completes exactly once."""
        tasks = run_tasks(admin, run["id"])
        finish_all_tasks(client, partner.headers, tasks[:-1])
        last = tasks[-1]
        client.post(f"{BASE}/{last['id']}/accept", headers=partner.headers)

        def call(i: int) -> int | bool:
            if i % 2 == 0:
                with live.client(partner.headers) as c:
                    return c.post(f"{BASE}/{last['id']}/finish").status_code
            with db.session() as session:
                return complete_run_if_tasks_done(session, run["id"])

        results = together(100, call)
        finishes, deliveries = results[0::2], results[1::2]
        assert Counter(finishes) == {200: 1, 409: 49}, Counter(map(str, finishes))
        assert all(isinstance(r, bool) for r in deliveries), deliveries
        assert deliveries.count(True) <= 1
        drain()
        assert _status(admin, run["id"]) == "completed"
        assert len(_completed_events(db, run["id"])) == 1
        assert len(run_events(admin, run["id"], "completed")) == 1

    def test_concurrent_accepts_of_one_task_accept_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        task_id = run_tasks(admin, run["id"])[0]["id"]
        workers = 4
        barrier = threading.Barrier(workers)
        statuses: list[int] = []

        def accept() -> None:
            barrier.wait()
            statuses.append(
                client.post(f"{BASE}/{task_id}/accept", headers=partner.headers).status_code
            )

        threads = [threading.Thread(target=accept) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200] + [409] * (workers - 1)
        accepted = [
            p
            for p in outbox_payloads(db, "tasks.task.updated", task_id=task_id)
            if p["status"] == "accepted"
        ]
        assert len(accepted) == 1
        assert len(run_events(admin, run["id"], "accepted")) == 1

    def test_last_two_subtasks_completing_together_complete_the_parent_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        partner: catalog.PartnerHandle,
        run: dict[str, Any],
    ) -> None:
        cutting = run_tasks(admin, run["id"])[0]
        client.post(f"{BASE}/{cutting['id']}/accept", headers=partner.headers)
        barrier = threading.Barrier(2)
        bodies: list[dict[str, Any]] = []

        def complete(sub_id: str) -> None:
            barrier.wait()
            response = client.post(
                f"{BASE}/{cutting['id']}/subtasks/{sub_id}/complete", headers=partner.headers
            )
            assert response.status_code == 200, response.text
            bodies.append(response.json())

        threads = [threading.Thread(target=complete, args=(s["id"],)) for s in cutting["subtasks"]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(b["parent_completed"] for b in bodies) == [False, True]
        completions = [
            p
            for p in outbox_payloads(db, "tasks.task.updated", task_id=cutting["id"])
            if p["status"] == "completed"
        ]
        assert len(completions) == 1
