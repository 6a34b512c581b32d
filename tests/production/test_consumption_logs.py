"""Consumption logs on runs (partner and admin) and designs (admin)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog, inventory
from tests.production.lifecycle_helpers import dispatched, post_ok
from tests.production.test_completion import Setup, build


@pytest.fixture
def s(app: FastAPI, admin: TestClient, client: TestClient) -> Setup:
    setup = build(app, admin, client)
    post_ok(setup.owner, setup.run.url("/accept"))
    return setup


def body(s: Setup, **extra: Any) -> dict[str, Any]:
    return {"inventory_item_id": s.fabric["id"], "quantity": 2.5, **extra}


class TestPartnerLogs:
    def test_owner_logs_consumption(self, s: Setup) -> None:
        response = s.owner.post(
            s.run.url("/consumption-logs"),
            json=body(s, consumption_type="wastage", unit_cost="12.3400", notes="offcuts"),
        )
        assert response.status_code == 201, response.text
        entry = response.json()["consumption_log"]
        assert entry["id"].startswith("clog_")
        assert entry["production_run_id"] == s.run.id
        assert entry["design_id"] == s.run.design["id"]
        assert entry["consumed_by"] == "partner"
        assert entry["consumed_by_id"] == s.run.partner.id
        assert entry["consumption_type"] == "wastage"
        assert entry["quantity_basis"] == "total"
        assert entry["unit_of_measure"] == "m"  # the item's unit when none is given
        assert entry["unit_cost"] == "12.3400"
        assert entry["location_id"] == s.workshop["id"]
        assert entry["is_committed"] is False and entry["committed_at"] is None
        run = s.owner.get(s.run.url()).json()["production_run"]
        assert run["last_activity_at"]

    def test_logging_does_not_move_stock(self, s: Setup, admin: TestClient) -> None:
        post_ok(s.owner, s.run.url("/consumption-logs"), body(s), 201)
        assert inventory.level_at(admin, s.fabric["id"], s.workshop["id"]) == 100

    def test_before_accept_is_409(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        setup = build(app, admin, client)
        response = setup.owner.post(setup.run.url("/consumption-logs"), json=body(setup))
        assert_problem(response, 409, "invalid_status")

    def test_after_completion_is_409(self, s: Setup) -> None:
        post_ok(s.owner, s.run.url("/start"))
        post_ok(s.owner, s.run.url("/finish"))
        post_ok(s.owner, s.run.url("/complete"), {"produced_quantity": 10})
        response = s.owner.post(s.run.url("/consumption-logs"), json=body(s))
        assert_problem(response, 409, "run_terminal")

    @pytest.mark.parametrize(
        "bad",
        [
            {"quantity": 0},
            {"quantity": -1},
            {"quantity": 1e12},
            {"quantity": "lots"},
            {"consumption_type": "eaten"},
            {"quantity_basis": "per_metre"},
            {"unit_cost": "-1"},
            {"unit_cost": "1.23456"},
            {"unit_of_measure": "x" * 33},
            {"notes": "x" * 10_001},
            {"surprise": True},
        ],
    )
    def test_invalid_bodies_are_422(self, s: Setup, bad: dict[str, Any]) -> None:
        response = s.owner.post(s.run.url("/consumption-logs"), json={**body(s), **bad})
        assert_problem(response, 422, "validation_error")

    def test_unknown_item_is_404(self, s: Setup) -> None:
        response = s.owner.post(
            s.run.url("/consumption-logs"), json=body(s, inventory_item_id="iitem_nope")
        )
        assert_problem(response, 404, "inventory_item_not_found")

    def test_item_outside_the_bom_is_422(self, s: Setup, admin: TestClient) -> None:
        stray = inventory.create_item(admin)
        response = s.owner.post(
            s.run.url("/consumption-logs"), json=body(s, inventory_item_id=stray["id"])
        )
        assert_problem(response, 422, "item_not_in_bom")

    def test_any_item_when_the_design_has_no_bom(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client)
        owner = TestClient(app, headers=run.partner.headers, raise_server_exceptions=False)
        post_ok(owner, run.url("/accept"))
        item = inventory.create_item(admin)
        post_ok(
            owner,
            run.url("/consumption-logs"),
            {"inventory_item_id": item["id"], "quantity": 1},
            201,
        )

    def test_other_partner_gets_404(
        self, s: Setup, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        other = catalog.create_partner(admin, client)
        stranger = TestClient(app, headers=other.headers, raise_server_exceptions=False)
        assert_problem(stranger.post(s.run.url("/consumption-logs"), json=body(s)), 404)
        assert_problem(stranger.get(s.run.url("/consumption-logs")), 404)

    def test_list_filters_and_pagination(self, s: Setup) -> None:
        for kind in ("production", "production", "wastage"):
            post_ok(s.owner, s.run.url("/consumption-logs"), body(s, consumption_type=kind), 201)
        listing = s.owner.get(s.run.url("/consumption-logs")).json()
        assert listing["count"] == 3 and len(listing["consumption_logs"]) == 3
        assert (listing["limit"], listing["offset"]) == (50, 0)
        wastage = s.owner.get(s.run.url("/consumption-logs?consumption_type=wastage")).json()
        assert wastage["count"] == 1
        page = s.owner.get(s.run.url("/consumption-logs?limit=2&offset=2")).json()
        assert page["count"] == 3 and len(page["consumption_logs"]) == 1
        assert s.owner.get(s.run.url("/consumption-logs?committed=true")).json()["count"] == 0
        assert s.owner.get(s.run.url("/consumption-logs?committed=false")).json()["count"] == 3

    @pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "consumption_type=x"])
    def test_bad_query_is_422(self, s: Setup, query: str) -> None:
        assert_problem(s.owner.get(s.run.url(f"/consumption-logs?{query}")), 422)


class TestAdminLogs:
    def test_admin_logs_on_a_run(self, s: Setup, admin: TestClient) -> None:
        entry = post_ok(admin, s.run.admin_url("/consumption-logs"), body(s), 201)[
            "consumption_log"
        ]
        assert entry["consumed_by"] == "admin"
        assert entry["location_id"] == s.workshop["id"]
        listing = admin.get(s.run.admin_url("/consumption-logs")).json()
        assert listing["count"] == 1

    def test_admin_run_log_follows_the_lifecycle(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        setup = build(app, admin, client)
        response = admin.post(setup.run.admin_url("/consumption-logs"), json=body(setup))
        assert_problem(response, 409)

    def test_design_logs(self, s: Setup, admin: TestClient) -> None:
        design_id = s.run.design["id"]
        post_ok(s.owner, s.run.url("/consumption-logs"), body(s), 201)
        entry = post_ok(
            admin,
            f"/admin/designs/{design_id}/consumption-logs",
            body(s, consumption_type="sample"),
            201,
        )["consumption_log"]
        assert entry["production_run_id"] is None and entry["consumed_by"] == "admin"
        listing = admin.get(f"/admin/designs/{design_id}/consumption-logs").json()
        assert listing["count"] == 2
        samples = admin.get(
            f"/admin/designs/{design_id}/consumption-logs?consumption_type=sample"
        ).json()
        assert samples["count"] == 1

    def test_unknown_design_or_run_is_404(self, admin: TestClient, s: Setup) -> None:
        assert_problem(admin.get("/admin/designs/design_nope/consumption-logs"), 404)
        assert_problem(admin.post("/admin/designs/design_nope/consumption-logs", json=body(s)), 404)
        assert_problem(admin.get("/admin/production-runs/prod_run_nope/consumption-logs"), 404)

    def test_design_log_item_must_be_in_bom(self, admin: TestClient, s: Setup) -> None:
        stray = inventory.create_item(admin)
        response = admin.post(
            f"/admin/designs/{s.run.design['id']}/consumption-logs",
            json=body(s, inventory_item_id=stray["id"]),
        )
        assert_problem(response, 422, "item_not_in_bom")

    def test_partner_token_is_403(self, s: Setup) -> None:
        assert_problem(s.owner.get(s.run.admin_url("/consumption-logs")), 403)
        assert_problem(
            s.owner.post(f"/admin/designs/{s.run.design['id']}/consumption-logs", json=body(s)),
            403,
        )
