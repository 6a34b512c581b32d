"""Decline (partner hands a run back): service-level rules and the partner API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform.actors import Actor, ActorType
from atelier.platform.db import Database
from atelier.platform.errors import Conflict, Invalid, NotFound
from atelier.production import service
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.runs import approve, create_run, get_run
from tests.factories.tasks import dispatched_run, run_tasks


@pytest.fixture
def design(admin: TestClient) -> dict[str, Any]:
    return catalog.create_design(admin)


@pytest.fixture
def partner(admin: TestClient, client: TestClient) -> catalog.PartnerHandle:
    return catalog.create_partner(admin, client)


def _decline(client: TestClient, partner: catalog.PartnerHandle, run_id: str, **body: Any) -> Any:
    payload = {"reason": "capacity", **body}
    return client.post(
        f"/partners/production-runs/{run_id}/decline", json=payload, headers=partner.headers
    )


def _actor(partner_id: str) -> Actor:
    return Actor(ActorType.PARTNER, partner_id)


class TestDeclineService:
    def _approved(self, admin: TestClient, design_id: str, partner_id: str) -> str:
        run = create_run(admin, design_id=design_id, partner_id=partner_id)
        approve(admin, run["id"])
        run_id: str = run["id"]
        return run_id

    def test_moves_to_awaiting_reassignment(
        self, admin: TestClient, db: Database, design: dict[str, Any], partner: Any
    ) -> None:
        run_id = self._approved(admin, design["id"], partner.id)
        with db.session() as session:
            run, message = service.decline_run(
                session,
                run_id,
                partner_id=partner.id,
                reason="materials_unavailable",
                notes="no silk",
                actor=_actor(partner.id),
            )
            assert run.status == "awaiting_reassignment"
            assert "reassignment" in message
        fetched = get_run(admin, run_id)
        assert fetched["partner_id"] is None
        assert fetched["previous_partner_id"] == partner.id
        assert fetched["dispatch_state"] == "idle"
        event = admin.get(f"/admin/production-runs/{run_id}/events").json()["events"][0]
        assert event["kind"] == "declined"
        assert event["data"]["reason"] == "materials_unavailable"
        assert event["data"]["notes"] == "no silk"
        assert event["actor_type"] == "partner"

    def test_twice_by_same_partner_is_already_queued(
        self, admin: TestClient, db: Database, design: dict[str, Any], partner: Any
    ) -> None:
        run_id = self._approved(admin, design["id"], partner.id)
        kwargs: dict[str, Any] = {
            "partner_id": partner.id,
            "reason": "capacity",
            "notes": None,
            "actor": _actor(partner.id),
        }
        with db.session() as session:
            service.decline_run(session, run_id, **kwargs)
        with db.session() as session:
            run, message = service.decline_run(session, run_id, **kwargs)
            assert message == service.ALREADY_QUEUED
            assert run.status == "awaiting_reassignment"

    def test_other_partner_gets_not_found(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        design: dict[str, Any],
        partner: Any,
    ) -> None:
        other = catalog.create_partner(admin, client)
        run_id = self._approved(admin, design["id"], partner.id)
        with db.session() as session, pytest.raises(NotFound):
            service.decline_run(
                session,
                run_id,
                partner_id=other.id,
                reason="capacity",
                notes=None,
                actor=_actor(other.id),
            )

    def test_unknown_reason_is_invalid(
        self, admin: TestClient, db: Database, design: dict[str, Any], partner: Any
    ) -> None:
        run_id = self._approved(admin, design["id"], partner.id)
        with db.session() as session, pytest.raises(Invalid):
            service.decline_run(
                session,
                run_id,
                partner_id=partner.id,
                reason="bored",
                notes=None,
                actor=_actor(partner.id),
            )

    def test_started_run_is_refused(
        self, admin: TestClient, db: Database, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        for step in ("accept", "start"):
            response = admin.post(f"/admin/production-runs/{run['id']}/{step}", json={})
            assert response.status_code == 200, response.text
        with db.session() as session, pytest.raises(Conflict) as raised:
            service.decline_run(
                session,
                run["id"],
                partner_id=partner.id,
                reason="capacity",
                notes=None,
                actor=_actor(partner.id),
            )
        assert raised.value.code == "already_started"


class TestDeclineApi:
    def test_partner_declines_sent_run_and_tasks_are_cancelled(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        response = _decline(
            client, partner, run["id"], reason="scheduling_conflict", notes="Diwali"
        )
        assert response.status_code == 200, response.text
        assert response.json()["production_run"]["status"] == "awaiting_reassignment"
        assert {t["status"] for t in run_tasks(admin, run["id"])} == {"cancelled"}
        fetched = get_run(admin, run["id"])
        assert fetched["partner_id"] is None
        assert fetched["previous_partner_id"] == partner.id
        assert fetched["dispatch_state"] == "idle"
        assert fetched["current_gate"] is None

    def test_accepted_but_not_started_can_decline(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert admin.post(f"/admin/production-runs/{run['id']}/accept", json={}).status_code == 200
        response = _decline(client, partner, run["id"])
        assert response.status_code == 200, response.text
        assert get_run(admin, run["id"])["accepted_at"] is None

    def test_twice_is_200_already_queued(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert _decline(client, partner, run["id"]).status_code == 200
        again = _decline(client, partner, run["id"])
        assert again.status_code == 200, again.text
        assert "already queued" in again.json()["message"]

    def test_after_start_is_409(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        for step in ("accept", "start"):
            assert (
                admin.post(f"/admin/production-runs/{run['id']}/{step}", json={}).status_code == 200
            )
        body = assert_problem(_decline(client, partner, run["id"]), 409, "already_started")
        assert "started" in body["detail"]

    def test_pending_review_run_cannot_be_declined(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = create_run(admin, design_id=design["id"], partner_id=partner.id)
        body = assert_problem(_decline(client, partner, run["id"]), 409, "invalid_status")
        assert "pending_review" in body["detail"]

    def test_other_partner_gets_404(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        other = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert_problem(_decline(client, other, run["id"]), 404)
        assert get_run(admin, run["id"])["status"] == "sent_to_partner"

    def test_bad_reason_is_422(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert_problem(_decline(client, partner, run["id"], reason="bored"), 422)

    def test_admin_token_is_403_and_anonymous_401(
        self, admin: TestClient, client: TestClient, design: dict[str, Any], partner: Any
    ) -> None:
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        url = f"/partners/production-runs/{run['id']}/decline"
        assert_problem(admin.post(url, json={"reason": "capacity"}), 403)
        assert_problem(client.post(url, json={"reason": "capacity"}), 401)
