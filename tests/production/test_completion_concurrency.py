"""Concurrent completions move inventory exactly once (real threads; SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.audit.models import RunEvent
from atelier.inventory.models import InventoryMovement
from atelier.platform.actors import Actor
from atelier.platform.db import Database
from atelier.production import completion, transitions
from atelier.tasks.models import Task
from tests.live import LiveServer, together
from tests.production.lifecycle_helpers import advance, post_ok
from tests.production.test_completion import Setup, build, finished_goods


def _together(workers: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = workers[i]()
        except Exception as exc:  # surfaced through the results list
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _state(db: Database, run_id: str) -> tuple[int, list[str | None]]:
    with db.session(write=False) as session:
        completed = session.scalars(
            select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind == "completed")
        ).all()
        keys = session.scalars(
            select(InventoryMovement.idempotency_key).where(
                InventoryMovement.production_run_id == run_id
            )
        ).all()
    return len(completed), list(keys)


def _setup(app: FastAPI, admin: TestClient, client: TestClient) -> Setup:
    s = build(app, admin, client)
    advance(s.owner, s.run, to="finish")
    body = {"inventory_item_id": s.fabric["id"], "quantity": 7}
    post_ok(s.owner, s.run.url("/consumption-logs"), body, 201)
    return s


class TestConcurrentCompletes:
    def test_many_simultaneous_completes_move_inventory_once(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        s = _setup(app, admin, client)
        callers = [
            TestClient(app, headers=s.run.partner.headers, raise_server_exceptions=False)
            for _ in range(6)
        ]

        def complete(c: TestClient) -> int:
            response = c.post(s.run.url("/complete"), json={"produced_quantity": 10})
            return response.status_code

        statuses = _together([lambda c=c: complete(c) for c in callers])
        assert sorted(statuses) == [200, 409, 409, 409, 409, 409], statuses
        count, keys = _state(db, s.run.id)
        assert count == 1
        assert f"run_output:{s.run.id}" in keys
        assert len(keys) == 2
        assert finished_goods(admin, s.output["id"]) == 10
        assert finished_goods(admin, s.fabric["id"]) == 93

    def test_service_level_race_with_task_driven_completion(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        """The API complete and ``complete_run(source="tasks")`` in separate transactions."""
        s = _setup(app, admin, client)

        def tasks_path() -> bool:
            with db.session() as session:
                run = transitions.get_run(session, s.run.id)
                result = completion.complete_run(
                    session, run, actor=Actor.system(), produced_quantity=None, source="tasks"
                )
                return result.already

        def api_path() -> int:
            c = TestClient(app, headers=s.run.partner.headers, raise_server_exceptions=False)
            return c.post(s.run.url("/complete"), json={"produced_quantity": 10}).status_code

        results = _together([tasks_path, api_path, tasks_path])
        assert not any(isinstance(r, Exception) for r in results), results
        count, keys = _state(db, s.run.id)
        assert count == 1
        assert len(keys) == 2
        assert finished_goods(admin, s.output["id"]) == 10

    def test_complete_racing_the_last_task_finish(
        self,
        app: FastAPI,
        admin: TestClient,
        client: TestClient,
        db: Database,
        drain: Callable[[], int],
    ) -> None:
        s = _setup(app, admin, client)
        with db.session(write=False) as session:
            task_ids = list(
                session.scalars(
                    select(Task.id).where(
                        Task.production_run_id == s.run.id, Task.parent_task_id.is_(None)
                    )
                )
            )
        for task_id in task_ids:
            post_ok(s.owner, f"/partners/assigned-tasks/{task_id}/finish")

        def api_path() -> int:
            c = TestClient(app, headers=s.run.partner.headers, raise_server_exceptions=False)
            return c.post(s.run.url("/complete"), json={"produced_quantity": 10}).status_code

        results = _together([drain, api_path])
        assert not any(isinstance(r, Exception) for r in results), results
        assert results[1] in (200, 409)
        drain()
        count, keys = _state(db, s.run.id)
        assert count == 1
        assert len(keys) == 2
        assert finished_goods(admin, s.output["id"]) == 10
        assert finished_goods(admin, s.fabric["id"]) == 93


class TestHundredCallers:
    """100 simultaneous callers through a served app (one event loop, one worker pool)."""

    def test_a_hundred_simultaneous_completes_move_inventory_once(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database, live: LiveServer
    ) -> None:
        s = _setup(app, admin, client)

        def complete(_: int) -> int:
            with live.client(s.run.partner.headers) as c:
                return c.post(s.run.url("/complete"), json={"produced_quantity": 10}).status_code

        statuses = together(100, complete)
        assert Counter(statuses) == {200: 1, 409: 99}, Counter(map(str, statuses))
        count, keys = _state(db, s.run.id)
        assert count == 1
        assert f"run_output:{s.run.id}" in keys
        assert len(keys) == 2
        assert finished_goods(admin, s.output["id"]) == 10
        assert finished_goods(admin, s.fabric["id"]) == 93


class TestLogRacingCompletion:
    def test_a_log_is_committed_or_refused_never_left_behind(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        s = _setup(app, admin, client)

        def log_one() -> int:
            c = TestClient(app, headers=s.run.partner.headers, raise_server_exceptions=False)
            body = {"inventory_item_id": s.fabric["id"], "quantity": 2}
            return c.post(s.run.url("/consumption-logs"), json=body).status_code

        def complete() -> int:
            c = TestClient(app, headers=s.run.partner.headers, raise_server_exceptions=False)
            return c.post(s.run.url("/complete"), json={"produced_quantity": 10}).status_code

        results = _together([log_one, complete, log_one])
        assert results[1] == 200, results
        assert all(r in (201, 409) for r in (results[0], results[2])), results
        logged = 1 + sum(1 for r in (results[0], results[2]) if r == 201)
        with db.session(write=False) as session:
            from atelier.inventory.models import ConsumptionLog

            logs = session.scalars(
                select(ConsumptionLog).where(ConsumptionLog.production_run_id == s.run.id)
            ).all()
        assert len(logs) == logged
        if any(not entry.is_committed for entry in logs):
            # Only possible for a log written after completion — which the lifecycle refuses.
            raise AssertionError("an uncommitted log was left on a completed run")
        _count, keys = _state(db, s.run.id)
        assert len(keys) == logged + 1


class TestConcurrentMilestones:
    def test_simultaneous_accepts_accept_once(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        s = build(app, admin, client)

        def accept() -> int:
            c = TestClient(app, headers=s.run.partner.headers, raise_server_exceptions=False)
            return c.post(s.run.url("/accept")).status_code

        statuses = _together([accept for _ in range(5)])
        assert sorted(statuses) == [200, 409, 409, 409, 409], statuses
        with db.session(write=False) as session:
            accepted = session.scalars(
                select(RunEvent).where(RunEvent.run_id == s.run.id, RunEvent.kind == "accepted")
            ).all()
        assert len(accepted) == 1

    def test_simultaneous_corrections_keep_the_ledger_consistent(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        s = _setup(app, admin, client)
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})

        def correct(rejected: int) -> int:
            body = {"rejected_quantity": rejected, "rejection_reason": "other", "reason": "qc"}
            return admin.post(s.run.admin_url("/corrections"), json=body).status_code

        statuses = _together([lambda r=r: correct(r) for r in (1, 2, 3, 4)])
        assert statuses == [200, 200, 200, 200], statuses
        run = admin.get(s.run.admin_url()).json()["production_run"]
        good = run["produced_quantity"] - run["rejected_quantity"]
        assert finished_goods(admin, s.output["id"]) == good
        with db.session(write=False) as session:
            corrected = session.scalars(
                select(RunEvent).where(
                    RunEvent.run_id == s.run.id, RunEvent.kind == "output_corrected"
                )
            ).all()
        numbers = sorted(e.data["number"] for e in corrected)
        assert numbers == list(range(1, len(corrected) + 1))
