"""Partner milestones: accept, start, finish, progress (and the admin on-behalf versions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.audit.models import RunEvent
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from atelier.platform.security import issue_token
from atelier.tasks.models import Task
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.production.lifecycle_helpers import Dispatched, advance, dispatched, post_ok


@pytest.fixture
def run(admin: TestClient, client: TestClient) -> Dispatched:
    return dispatched(admin, client, tasks=2)


@pytest.fixture
def owner(app: FastAPI, run: Dispatched) -> TestClient:
    return TestClient(app, headers=run.partner.headers, raise_server_exceptions=False)


@pytest.fixture
def stranger(app: FastAPI, admin: TestClient, client: TestClient) -> TestClient:
    other = catalog.create_partner(admin, client)
    return TestClient(app, headers=other.headers, raise_server_exceptions=False)


def events(db: Database, run_id: str, kind: str) -> list[RunEvent]:
    with db.session(write=False) as s:
        return list(
            s.scalars(select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind == kind))
        )


def outbox(db: Database, name: str, run_id: str) -> list[dict[str, Any]]:
    with db.session(write=False) as s:
        rows = s.scalars(select(OutboxEvent).where(OutboxEvent.name == name))
        return [r.payload for r in rows if r.payload.get("production_run_id") == run_id]


class TestAccept:
    def test_owner_accepts(self, owner: TestClient, run: Dispatched, db: Database) -> None:
        assert run.run["status"] == "sent_to_partner"
        body = post_ok(owner, run.url("/accept"))
        assert body["message"] == "Production run accepted"
        assert body["production_run"]["status"] == "in_progress"
        assert body["production_run"]["accepted_at"]
        [event] = events(db, run.id, "accepted")
        assert (event.actor_type, event.actor_id, event.channel) == (
            "partner",
            run.partner.id,
            "api",
        )
        assert (event.from_status, event.to_status) == ("sent_to_partner", "in_progress")
        [payload] = outbox(db, "production_run.accepted", run.id)
        assert payload["actor_type"] == "partner"

    def test_twice_conflicts_with_already(self, owner: TestClient, run: Dispatched) -> None:
        post_ok(owner, run.url("/accept"))
        body = assert_problem(owner.post(run.url("/accept")), 409, "already_accepted")
        assert "already" in body["detail"]

    def test_other_partner_gets_404(self, stranger: TestClient, run: Dispatched) -> None:
        assert_problem(stranger.post(run.url("/accept")), 404, "production_run_not_found")

    def test_admin_token_is_403(self, admin: TestClient, run: Dispatched) -> None:
        assert_problem(admin.post(run.url("/accept")), 403)

    def test_anonymous_is_401(self, client: TestClient, run: Dispatched) -> None:
        assert_problem(client.post(run.url("/accept")), 401)

    def test_unknown_run_is_404(self, owner: TestClient) -> None:
        assert_problem(owner.post("/partners/production-runs/prod_run_nope/accept"), 404)

    def test_not_dispatched_is_409(
        self, admin: TestClient, client: TestClient, app: FastAPI
    ) -> None:
        from tests.factories import runs

        partner = catalog.create_partner(admin, client)
        design = catalog.create_design(admin)
        approved = runs.approved_run(admin, design_id=design["id"], partner_id=partner.id)
        me = TestClient(app, headers=partner.headers, raise_server_exceptions=False)
        url = f"/partners/production-runs/{approved['id']}/accept"
        assert_problem(me.post(url), 409, "invalid_status")

    def test_admin_accepts_on_behalf(
        self, admin: TestClient, run: Dispatched, db: Database
    ) -> None:
        body = post_ok(admin, run.admin_url("/accept"))
        assert body["production_run"]["status"] == "in_progress"
        [event] = events(db, run.id, "accepted")
        assert event.actor_type == "admin"

    def test_partner_token_on_admin_route_is_403(self, owner: TestClient, run: Dispatched) -> None:
        assert_problem(owner.post(run.admin_url("/accept")), 403)


class TestStart:
    def test_owner_starts(self, owner: TestClient, run: Dispatched, db: Database) -> None:
        post_ok(owner, run.url("/accept"))
        body = post_ok(owner, run.url("/start"))
        assert body["production_run"]["started_at"]
        assert body["production_run"]["status"] == "in_progress"
        assert body["message"] == "Production run started"
        assert len(events(db, run.id, "started")) == 1
        assert len(outbox(db, "production_run.started", run.id)) == 1

    def test_before_accept_is_409(self, owner: TestClient, run: Dispatched) -> None:
        # Still sent_to_partner: start is only allowed from in_progress.
        assert_problem(owner.post(run.url("/start")), 409, "invalid_status")

    def test_twice_conflicts(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="start")
        body = assert_problem(owner.post(run.url("/start")), 409, "already_started")
        assert "already" in body["detail"]

    def test_other_partner_gets_404(
        self, owner: TestClient, stranger: TestClient, run: Dispatched
    ) -> None:
        post_ok(owner, run.url("/accept"))
        assert_problem(stranger.post(run.url("/start")), 404)

    def test_admin_starts_on_behalf(self, admin: TestClient, run: Dispatched) -> None:
        post_ok(admin, run.admin_url("/accept"))
        assert post_ok(admin, run.admin_url("/start"))["production_run"]["started_at"]


class TestFinish:
    def test_owner_finishes_with_notes(
        self, owner: TestClient, run: Dispatched, db: Database
    ) -> None:
        advance(owner, run, to="start")
        body = post_ok(owner, run.url("/finish"), {"notes": "all stitched"})
        assert body["production_run"]["finished_at"]
        assert body["production_run"]["finish_notes"] == "all stitched"
        assert body["production_run"]["status"] == "in_progress"
        assert len(events(db, run.id, "finished")) == 1
        assert len(outbox(db, "production_run.finished", run.id)) == 1

    def test_without_body(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="start")
        assert post_ok(owner, run.url("/finish"))["production_run"]["finished_at"]

    def test_before_start_is_409(self, owner: TestClient, run: Dispatched) -> None:
        post_ok(owner, run.url("/accept"))
        assert_problem(owner.post(run.url("/finish")), 409, "not_started")

    def test_twice_conflicts(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="finish")
        body = assert_problem(owner.post(run.url("/finish")), 409, "already_finished")
        assert "already" in body["detail"]

    def test_complete_tasks_completes_open_tasks(
        self, owner: TestClient, run: Dispatched, db: Database
    ) -> None:
        advance(owner, run, to="start")
        body = post_ok(owner, run.url("/finish"), {"complete_tasks": True})
        assert "2 open task(s) completed" in body["message"]
        with db.session(write=False) as s:
            statuses = set(s.scalars(select(Task.status).where(Task.production_run_id == run.id)))
        assert statuses == {"completed"}

    def test_without_complete_tasks_leaves_tasks_open(
        self, owner: TestClient, run: Dispatched, db: Database
    ) -> None:
        advance(owner, run, to="finish")
        with db.session(write=False) as s:
            statuses = set(s.scalars(select(Task.status).where(Task.production_run_id == run.id)))
        assert "completed" not in statuses

    def test_notes_are_bounded(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="start")
        assert_problem(owner.post(run.url("/finish"), json={"notes": "x" * 10_001}), 422)

    def test_unknown_field_is_422(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="start")
        assert_problem(owner.post(run.url("/finish"), json={"note": "typo"}), 422)


class TestProgress:
    def test_records_partial_output(self, owner: TestClient, run: Dispatched, db: Database) -> None:
        post_ok(owner, run.url("/accept"))
        body = post_ok(owner, run.url("/progress"), {"produced_quantity": 4})
        assert body["production_run"]["produced_quantity"] == 4
        assert body["production_run"]["last_progress_at"]
        assert body["production_run"]["last_activity_at"]
        assert body["message"] == "Progress recorded: 4 of 10 produced"
        body = post_ok(owner, run.url("/progress"), {"produced_quantity": 7})
        [_, second] = sorted(
            events(db, run.id, "progress_updated"), key=lambda e: e.data["produced_quantity"]
        )
        assert second.data["previous_produced_quantity"] == 4
        assert len(outbox(db, "production_run.progress_updated", run.id)) == 2

    def test_before_accept_is_409(self, owner: TestClient, run: Dispatched) -> None:
        assert_problem(owner.post(run.url("/progress"), json={"produced_quantity": 1}), 409)

    @pytest.mark.parametrize("value", [-1, 1_000_000_001, "many", None])
    def test_invalid_quantity_is_422(self, owner: TestClient, run: Dispatched, value: Any) -> None:
        post_ok(owner, run.url("/accept"))
        assert_problem(owner.post(run.url("/progress"), json={"produced_quantity": value}), 422)

    def test_missing_body_is_422(self, owner: TestClient, run: Dispatched) -> None:
        post_ok(owner, run.url("/accept"))
        assert_problem(owner.post(run.url("/progress")), 422)

    def test_other_partner_gets_404(
        self, owner: TestClient, stranger: TestClient, run: Dispatched
    ) -> None:
        post_ok(owner, run.url("/accept"))
        assert_problem(stranger.post(run.url("/progress"), json={"produced_quantity": 1}), 404)

    def test_admin_records_on_behalf(self, admin: TestClient, run: Dispatched) -> None:
        post_ok(admin, run.admin_url("/accept"))
        body = post_ok(admin, run.admin_url("/progress"), {"produced_quantity": 3})
        assert body["production_run"]["produced_quantity"] == 3

    def test_after_completion_is_409(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="finish")
        post_ok(owner, run.url("/complete"), {"produced_quantity": 10})
        assert_problem(
            owner.post(run.url("/progress"), json={"produced_quantity": 1}), 409, "run_terminal"
        )


class TestOrderOfSteps:
    def test_complete_before_finish_is_409(self, owner: TestClient, run: Dispatched) -> None:
        advance(owner, run, to="start")
        assert_problem(
            owner.post(run.url("/complete"), json={"produced_quantity": 10}), 409, "not_finished"
        )

    def test_terminal_run_refuses_every_milestone(
        self, owner: TestClient, admin: TestClient, run: Dispatched
    ) -> None:
        post_ok(admin, run.admin_url("/cancel"), {"reason": "customer cancelled"})
        for step in ("accept", "start", "finish"):
            assert_problem(owner.post(run.url(f"/{step}")), 409, "run_terminal")
        assert_problem(owner.post(run.url("/complete"), json={"produced_quantity": 1}), 409)

    def test_full_walk_records_each_step_once(
        self, owner: TestClient, run: Dispatched, db: Database, drain: Callable[[], int]
    ) -> None:
        advance(owner, run, to="finish")
        post_ok(owner, run.url("/complete"), {"produced_quantity": 10})
        for kind in ("accepted", "started", "finished", "completed"):
            assert len(events(db, run.id, kind)) == 1, kind


class TestChannel:
    """The RunEvent channel comes from how the partner signed in."""

    def _token(self, settings: Any, run: Dispatched, **extra: Any) -> str:
        from atelier.platform.security import issue_token

        return issue_token(
            settings.secret_key.get_secret_value(),
            subject=run.partner.user_id,
            role="partner",
            partner_id=run.partner.id,
            ttl=settings.token_ttl,
            extra=extra or None,
        )

    def test_whatsapp_session(
        self, app: FastAPI, settings: Any, run: Dispatched, db: Database
    ) -> None:
        token = self._token(settings, run, via="whatsapp")
        phone = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        post_ok(phone, run.url("/accept"))
        [event] = events(db, run.id, "accepted")
        assert (event.actor_type, event.channel) == ("partner", "whatsapp")
        [payload] = outbox(db, "production_run.accepted", run.id)
        assert payload["channel"] == "whatsapp"

    def test_session_cookie_does_not_open_the_json_api(
        self, app: FastAPI, settings: Any, run: Dispatched, db: Database
    ) -> None:
        from atelier.platform.deps import SESSION_COOKIE
        from atelier.web.shared.session import WEB_TOKEN_TYPE

        # Cookies authenticate the web pages only; the JSON API takes bearer tokens.
        for token_type in ("access", WEB_TOKEN_TYPE):
            token = issue_token(
                settings.secret_key.get_secret_value(),
                subject=run.partner.user_id,
                role="partner",
                partner_id=run.partner.id,
                ttl=settings.token_ttl,
                token_type=token_type,
            )
            portal = TestClient(app, cookies={SESSION_COOKIE: token})
            response = portal.post(run.url("/accept"))
            assert response.status_code == 401, response.text
        assert events(db, run.id, "accepted") == []
