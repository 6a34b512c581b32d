"""Sample runs move their design through development; production runs leave it alone.

The design follows by subscriber (``production_run.started``/``finished``/``completed``), so
each step drains the outbox before reading the design."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.production.lifecycle_helpers import post_ok
from tests.production.test_completion import Setup, build


def design_status(admin: TestClient, design_id: str) -> str:
    response = admin.get(f"/admin/designs/{design_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["design"]["status"]
    return status


def walk(admin: TestClient, s: Setup, drain: Callable[[], int]) -> list[str]:
    """Accept, start, finish, complete; the design status after each step."""
    seen = []
    for step, body in (
        ("accept", None),
        ("start", None),
        ("finish", None),
        ("complete", {"produced_quantity": s.run.run["quantity"]}),
    ):
        post_ok(s.owner, s.run.url(f"/{step}"), body)
        drain()
        seen.append(design_status(admin, s.run.design["id"]))
    return seen


class TestSampleRun:
    def test_milestones_move_the_design(
        self, app: FastAPI, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        s = build(app, admin, client, quantity=1, run_type="sample")
        assert s.run.run["run_type"] == "sample"
        assert walk(admin, s, drain) == [
            "Conceptual",
            "In_Development",
            "Technical_Review",
            "Approved",
        ]

    @pytest.mark.parametrize("frozen", ["Rejected", "Superseded"])
    def test_rejected_or_superseded_design_never_moves(
        self,
        app: FastAPI,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        frozen: str,
    ) -> None:
        s = build(app, admin, client, quantity=1, run_type="sample", design_status=frozen)
        assert walk(admin, s, drain) == [frozen] * 4

    def test_admin_on_behalf_moves_the_design_too(
        self, app: FastAPI, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        s = build(app, admin, client, quantity=1, run_type="sample")
        post_ok(admin, s.run.admin_url("/accept"))
        post_ok(admin, s.run.admin_url("/start"))
        assert design_status(admin, s.run.design["id"]) == "Conceptual"  # not yet: a reaction
        drain()
        assert design_status(admin, s.run.design["id"]) == "In_Development"


class TestProductionRun:
    def test_milestones_leave_the_design_alone(
        self, app: FastAPI, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        s = build(app, admin, client, design_status="Commerce_Ready")
        assert walk(admin, s, drain) == ["Commerce_Ready"] * 4
