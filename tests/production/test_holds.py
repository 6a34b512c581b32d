"""Admin holds: a held run waits on the brand — no reminders, and its gate deadline pauses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.settings import Settings
from atelier.production.jobs import sweep_overdue_gates
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.runs import get_run
from tests.factories.tasks import dispatched_run


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests walk weeks of time: the admin token must outlive that."""
    return settings.model_copy(update={"token_ttl": timedelta(days=400)})


@pytest.fixture
def sent(admin: TestClient, client: TestClient) -> dict:  # type: ignore[type-arg]
    partner = catalog.create_partner(admin, client)
    design = catalog.create_design(admin)
    return dispatched_run(admin, partner=partner, design_id=design["id"])


def sweep(db: Database, at: datetime) -> int:
    with db.session() as session:
        return sweep_overdue_gates(session, at)


class TestHold:
    def test_hold_and_release_are_audited(self, admin: TestClient, sent: dict) -> None:  # type: ignore[type-arg]
        response = admin.post(
            f"/admin/production-runs/{sent['id']}/hold", json={"reason": "materials not yet sent"}
        )
        assert response.status_code == 200, response.text
        held = response.json()["production_run"]
        assert held["on_hold"] is True
        assert held["hold_reason"] == "materials not yet sent"
        assert held["held_at"]
        assert held["status"] == "sent_to_partner"  # a hold is not a status
        released = admin.post(f"/admin/production-runs/{sent['id']}/release").json()[
            "production_run"
        ]
        assert released["on_hold"] is False and released["hold_reason"] is None
        events = admin.get(f"/admin/production-runs/{sent['id']}/events").json()["events"]
        kinds = [e["kind"] for e in events]
        assert kinds[:2] == ["released", "held"]
        assert events[1]["data"] == {"reason": "materials not yet sent"}
        assert events[1]["actor_type"] == "admin"

    def test_guards(self, admin: TestClient, sent: dict) -> None:  # type: ignore[type-arg]
        path = f"/admin/production-runs/{sent['id']}"
        assert_problem(admin.post(f"{path}/release"), 409, "not_on_hold")
        assert admin.post(f"{path}/hold", json={"reason": "x"}).status_code == 200
        assert_problem(admin.post(f"{path}/hold", json={"reason": "y"}), 409, "already_on_hold")
        assert get_run(admin, sent["id"])["hold_reason"] == "x"
        assert_problem(admin.post(f"{path}/hold", json={}), 422)
        assert_problem(admin.post(f"{path}/hold", json={"reason": "  "}), 422)
        assert_problem(admin.post(f"{path}/hold", json={"reason": "x" * 501}), 422)
        admin.post(f"{path}/cancel", json={"reason": "no longer needed"})
        assert_problem(admin.post(f"{path}/release"), 409, "run_terminal")

    def test_unknown_run_is_404(self, admin: TestClient) -> None:
        assert_problem(
            admin.post("/admin/production-runs/prod_run_x/hold", json={"reason": "r"}), 404
        )
        assert_problem(admin.post("/admin/production-runs/prod_run_x/release"), 404)

    def test_access(self, admin: TestClient, client: TestClient, sent: dict) -> None:  # type: ignore[type-arg]
        path = f"/admin/production-runs/{sent['id']}/hold"
        assert_problem(client.post(path, json={"reason": "r"}), 401)
        owner = catalog.create_partner(admin, client)
        assert_problem(client.post(path, json={"reason": "r"}, headers=owner.headers), 403)


class TestGateDeadlinePauses:
    def test_a_held_run_is_not_flagged_and_its_deadline_moves_on_release(
        self,
        admin: TestClient,
        sent: dict,
        db: Database,
        clock: FrozenClock,  # type: ignore[type-arg]
    ) -> None:
        deadline = datetime.fromisoformat(sent["gate_deadline_at"])
        assert sent["current_gate"] == "accept"
        clock.advance(timedelta(days=3))
        admin.post(f"/admin/production-runs/{sent['id']}/hold", json={"reason": "materials"})
        # Long past the original deadline while held: never flagged overdue.
        clock.advance(timedelta(days=30))
        assert sweep(db, clock.now()) == 0
        released = admin.post(f"/admin/production-runs/{sent['id']}/release").json()[
            "production_run"
        ]
        new_deadline = datetime.fromisoformat(released["gate_deadline_at"])
        assert new_deadline == deadline + timedelta(days=30)
        assert sweep(db, clock.now()) == 0
        assert sweep(db, new_deadline + timedelta(minutes=1)) == 1

    def test_the_pause_belongs_to_the_gate(
        self,
        admin: TestClient,
        sent: dict,
        clock: FrozenClock,  # type: ignore[type-arg]
    ) -> None:
        admin.post(f"/admin/production-runs/{sent['id']}/hold", json={"reason": "materials"})
        clock.advance(timedelta(days=5))
        admin.post(f"/admin/production-runs/{sent['id']}/release")
        clock.advance(timedelta(days=1))
        accepted = admin.post(f"/admin/production-runs/{sent['id']}/accept").json()[
            "production_run"
        ]
        # The start gate counts from acceptance with no carried-over pause.
        assert accepted["current_gate"] == "start"
        assert datetime.fromisoformat(accepted["gate_deadline_at"]) == clock.now() + timedelta(
            days=23
        )
