"""POST /admin/production-runs/:id/cancel: children, parents, tasks, idempotency, concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.audit.models import RunEvent
from atelier.platform.db import Database
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.runs import approve, create_run, get_run
from tests.factories.tasks import dispatched_run, run_tasks


@pytest.fixture
def design(admin: TestClient) -> dict[str, Any]:
    return catalog.create_design(admin)


def _cancel(admin: TestClient, run_id: str, **body: Any) -> Any:
    return admin.post(f"/admin/production-runs/{run_id}/cancel", json=body)


def _complete(admin: TestClient, run_id: str, quantity: int) -> None:
    base = f"/admin/production-runs/{run_id}"
    for step, body in (("accept", {}), ("start", {}), ("finish", {})):
        response = admin.post(f"{base}/{step}", json=body)
        assert response.status_code == 200, (step, response.text)
    response = admin.post(f"{base}/complete", json={"produced_quantity": quantity})
    assert response.status_code == 200, response.text


class TestCancel:
    def test_pending_run_is_cancelled_with_reason(
        self, admin: TestClient, design: dict[str, Any]
    ) -> None:
        run = create_run(admin, design_id=design["id"])
        response = _cancel(admin, run["id"], reason="customer changed mind")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["production_run"]["status"] == "cancelled"
        assert body["production_run"]["cancelled_reason"] == "customer changed mind"
        assert body["production_run"]["cancelled_at"]
        assert body["cancelled_children"] == []
        event = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"][0]
        assert (event["kind"], event["from_status"], event["to_status"]) == (
            "cancelled",
            "pending_review",
            "cancelled",
        )
        assert event["data"]["reason"] == "customer changed mind"

    def test_without_body(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"])
        response = admin.post(f"/admin/production-runs/{run['id']}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["production_run"]["cancelled_reason"] is None

    def test_twice_is_200_already_cancelled(
        self, admin: TestClient, design: dict[str, Any]
    ) -> None:
        run = create_run(admin, design_id=design["id"])
        _cancel(admin, run["id"])
        again = _cancel(admin, run["id"])
        assert again.status_code == 200
        assert again.json()["message"] == "Already cancelled"
        kinds = [
            e["kind"]
            for e in admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        ]
        assert kinds.count("cancelled") == 1

    def test_sent_run_cancels_open_tasks(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert run_tasks(admin, run["id"])
        response = _cancel(admin, run["id"], reason="stop")
        assert response.status_code == 200, response.text
        assert {t["status"] for t in run_tasks(admin, run["id"])} == {"cancelled"}

    def test_completed_run_is_409(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=partner, design_id=design["id"], quantity=2)
        _complete(admin, run["id"], 2)
        body = assert_problem(_cancel(admin, run["id"]), 409, "run_terminal")
        assert "completed" in body["detail"]

    def test_unknown_run_is_404(self, admin: TestClient) -> None:
        assert_problem(_cancel(admin, "prod_run_missing"), 404, "production_run_not_found")

    def test_reason_is_bounded(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"])
        assert_problem(_cancel(admin, run["id"], reason="x" * 501), 422)


class TestCancelSplits:
    def _split(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], n: int = 2
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        partners = [catalog.create_partner(admin, client) for _ in range(n)]
        run = create_run(admin, design_id=design["id"], quantity=n)
        body = approve(
            admin, run["id"], assignments=[{"partner_id": p.id, "quantity": 1} for p in partners]
        )
        return body["production_run"], body["children"]

    def test_parent_cancels_unfinished_children(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        parent, children = self._split(admin, client, design)
        body = _cancel(admin, parent["id"], reason="order void").json()
        assert sorted(c["id"] for c in body["cancelled_children"]) == sorted(
            c["id"] for c in children
        )
        for child in children:
            fetched = get_run(admin, child["id"])
            assert fetched["status"] == "cancelled"
            assert fetched["cancelled_reason"] == "parent run cancelled"

    def test_last_child_cancelled_cancels_parent(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        parent, (first, second) = self._split(admin, client, design)
        _cancel(admin, first["id"])
        assert get_run(admin, parent["id"])["status"] == "approved"
        _cancel(admin, second["id"])
        fetched = get_run(admin, parent["id"])
        assert fetched["status"] == "cancelled"
        assert fetched["cancelled_reason"] == "all child runs cancelled"

    def test_parent_completes_when_the_rest_completed_before(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner_a = catalog.create_partner(admin, client)
        partner_b = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], quantity=2)
        from tests.factories.tasks import ensure_templates

        ensure_templates(admin, ["Cutting"])
        body = approve(
            admin,
            run["id"],
            assignments=[
                {"partner_id": partner_a.id, "quantity": 1, "template_names": ["Cutting"]},
                {"partner_id": partner_b.id, "quantity": 1},
            ],
        )
        done, other = body["children"]
        _complete(admin, done["id"], 1)
        assert get_run(admin, run["id"])["status"] != "completed"  # the other child is open
        _cancel(admin, other["id"])
        # The split ended mixed: nothing is left to make, and what was made is done.
        fetched = get_run(admin, run["id"])
        assert fetched["status"] == "completed"
        assert fetched["cancelled_at"] is None


class TestConcurrentCancel:
    def test_fifty_simultaneous_cancels_make_one_transition(
        self, admin: TestClient, db: Database, design: dict[str, Any]
    ) -> None:
        run = create_run(admin, design_id=design["id"])
        url = f"/admin/production-runs/{run['id']}/cancel"
        barrier = threading.Barrier(50)
        results: list[tuple[int, dict[str, Any]]] = []
        lock = threading.Lock()

        def worker() -> None:
            barrier.wait()
            response = admin.post(url, json={"reason": "race"})
            with lock:
                results.append((response.status_code, response.json()))

        threads = [threading.Thread(target=worker) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [status for status, _ in results] == [200] * 50
        messages = [body.get("message") for _, body in results]
        assert messages.count("Already cancelled") == 49
        with db.session(write=False) as session:
            cancelled_events = session.scalar(
                select(func.count())
                .select_from(RunEvent)
                .where(RunEvent.run_id == run["id"], RunEvent.kind == "cancelled")
            )
        assert cancelled_events == 1
