"""order.placed → pending_review runs: provenance, skipped lines, redelivery, concurrency,
and auto-approval (+ dispatch) when the policy's rules pass."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.platform import clock
from atelier.platform.db import Database
from atelier.platform.outbox import Event
from atelier.production.subscribers import runs_from_order
from tests.factories import catalog, orders
from tests.factories.runs import approve, create_run, get_run
from tests.factories.tasks import ensure_templates


def _runs_for(admin: TestClient, order_id: str) -> list[dict[str, Any]]:
    response = admin.get(
        "/admin/production-runs", params={"order_id": order_id, "sort": "created_at"}
    )
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()["production_runs"]
    return runs


def _event(order: dict[str, Any]) -> Event:
    payload = {
        "order_id": order["id"],
        "external_id": order.get("external_id"),
        "items": [
            {
                "id": item["id"],
                "product_id": item["product_id"],
                "variant_id": item.get("variant_id"),
                "quantity": item["quantity"],
            }
            for item in order["items"]
        ],
    }
    return Event("evt_test", "order.placed", payload, clock.now(), 0)


@pytest.fixture
def catalogue(admin: TestClient) -> dict[str, Any]:
    kurta = catalog.create_design(admin, name="Kurta")
    special = catalog.create_design(admin, name="Kurta (festive)")
    product = catalog.create_product(
        admin,
        design_id=kurta["id"],
        variants=[
            {"title": "Plain", "sku": "K-PLAIN"},
            {"title": "Festive", "sku": "K-FEST", "design_id": special["id"]},
        ],
    )
    unlinked = catalog.create_product(admin)
    return {"kurta": kurta, "special": special, "product": product, "unlinked": unlinked}


class TestOrderPlaced:
    def test_one_pending_run_per_resolvable_line(
        self,
        admin: TestClient,
        drain: Callable[[], int],
        catalogue: dict[str, Any],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        product, unlinked = catalogue["product"], catalogue["unlinked"]
        plain, festive = product["variants"]
        order = orders.create_order(
            admin,
            external_id="shop-1001",
            items=[
                {"product_id": product["id"], "variant_id": plain["id"], "quantity": 3},
                {"product_id": product["id"], "variant_id": festive["id"], "quantity": 2},
                {"product_id": unlinked["id"], "quantity": 7},
            ],
        )
        with caplog.at_level(logging.INFO, logger="atelier.production.subscribers"):
            drain()
        runs = _runs_for(admin, order["id"])
        assert len(runs) == 2
        by_line = {r["order_line_item_id"]: r for r in runs}
        first = by_line[order["items"][0]["id"]]
        assert first["status"] == "pending_review"
        assert first["design_id"] == catalogue["kurta"]["id"]  # product-level link
        assert (first["product_id"], first["variant_id"], first["quantity"]) == (
            product["id"],
            plain["id"],
            3,
        )
        assert first["metadata"]["source"] == "order.placed"
        assert first["snapshot"]["name"] == "Kurta"
        second = by_line[order["items"][1]["id"]]
        assert second["design_id"] == catalogue["special"]["id"]  # the variant link wins
        skipped = [r for r in caplog.records if "no design" in r.getMessage()]
        assert len(skipped) == 1
        record: Any = skipped[0]
        assert record.order_line_item_id == order["items"][2]["id"]
        assert record.product_id == unlinked["id"]
        assert record.variant_id is None

    def test_redelivery_creates_no_duplicate(
        self, admin: TestClient, db: Database, drain: Callable[[], int], catalogue: dict[str, Any]
    ) -> None:
        product = catalogue["product"]
        order = orders.create_order(admin, items=[{"product_id": product["id"], "quantity": 1}])
        drain()
        for _ in range(2):
            with db.session() as session:
                runs_from_order(session, _event(order))
        assert len(_runs_for(admin, order["id"])) == 1

    def test_fifty_concurrent_deliveries_make_one_run_per_line(
        self, admin: TestClient, db: Database, catalogue: dict[str, Any]
    ) -> None:
        product = catalogue["product"]
        plain, festive = product["variants"]
        order = orders.create_order(
            admin,
            items=[
                {"product_id": product["id"], "variant_id": plain["id"], "quantity": 4},
                {"product_id": product["id"], "variant_id": festive["id"], "quantity": 5},
            ],
        )
        event = _event(order)
        barrier = threading.Barrier(50)
        errors: list[BaseException] = []

        def deliver() -> None:
            barrier.wait()
            session = db.new_session(write=True)
            try:
                runs_from_order(session, event)
                session.commit()
            except BaseException as exc:
                session.rollback()
                errors.append(exc)
            finally:
                session.close()

        threads = [threading.Thread(target=deliver) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        runs = _runs_for(admin, order["id"])
        assert sorted(r["order_line_item_id"] for r in runs) == sorted(
            i["id"] for i in order["items"]
        )
        created_events = 0
        for run in runs:
            kinds = [
                e["kind"]
                for e in admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
            ]
            created_events += kinds.count("created")
        assert created_events == 2


@pytest.fixture
def routed(admin: TestClient, client: TestClient) -> dict[str, Any]:
    """A Commerce_Ready design with one linked partner and default templates."""
    ensure_templates(admin, ["Cutting", "Stitching"])
    partner = catalog.create_partner(admin, client)
    design = catalog.create_design(
        admin,
        status="Commerce_Ready",
        metadata={"default_templates": ["Cutting", "Stitching"]},
    )
    linker = create_run(admin, design_id=design["id"], quantity=1)
    approve(admin, linker["id"], assignments=[{"partner_id": partner.id, "quantity": 1}])
    product = catalog.create_product(admin, design_id=design["id"])
    return {"partner": partner, "design": design, "product": product}


class TestAutoApproval:
    def test_deterministic_route_is_approved_and_dispatched(
        self, admin: TestClient, drain: Callable[[], int], routed: dict[str, Any]
    ) -> None:
        order = orders.create_order(
            admin, items=[{"product_id": routed["product"]["id"], "quantity": 6}]
        )
        drain()
        (run,) = _runs_for(admin, order["id"])
        detail = get_run(admin, run["id"])
        assert detail["status"] == "sent_to_partner"
        assert detail["partner_id"] == routed["partner"].id
        assert detail["dispatch_template_names"] == ["Cutting", "Stitching"]
        assert detail["metadata"]["auto_approved"] is True
        assert len(detail["tasks"]) == 2
        kinds = [
            e["kind"]
            for e in admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        ]
        assert "approved" in kinds and "created" in kinds

    def test_disabled_rules_leave_the_run_waiting(
        self, admin: TestClient, drain: Callable[[], int], routed: dict[str, Any]
    ) -> None:
        put = admin.put("/admin/production-run-policy", json={"auto_approval": {"enabled": False}})
        assert put.status_code == 200, put.text
        order = orders.create_order(
            admin, items=[{"product_id": routed["product"]["id"], "quantity": 6}]
        )
        drain()
        (run,) = _runs_for(admin, order["id"])
        detail = get_run(admin, run["id"])
        assert detail["status"] == "pending_review"
        assert detail["policy"]["reasons"] == ["auto-approval is disabled by policy"]

    def test_unknown_template_leaves_the_run_waiting(
        self, admin: TestClient, drain: Callable[[], int], routed: dict[str, Any]
    ) -> None:
        admin.post(
            f"/admin/designs/{routed['design']['id']}",
            json={"metadata": {"default_templates": ["Embroidery"]}},
        )
        order = orders.create_order(
            admin, items=[{"product_id": routed["product"]["id"], "quantity": 6}]
        )
        drain()
        (run,) = _runs_for(admin, order["id"])
        detail = get_run(admin, run["id"])
        assert detail["status"] == "pending_review"
        assert any("Embroidery" in r for r in detail["policy"]["reasons"])
