from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.orders.models import Order
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from tests.conftest import assert_problem, bearer
from tests.factories.catalog import create_partner, create_product
from tests.factories.orders import create_order


def placed_events(db: Database) -> list[dict[str, Any]]:
    with db.session(write=False) as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "order.placed").order_by(OutboxEvent.id)
        )
        return [row.payload for row in rows]


def order_count(db: Database) -> int:
    with db.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Order)) or 0


class TestCreateOrder:
    def test_creates_order_and_emits_order_placed(self, admin: TestClient, db: Database) -> None:
        product = create_product(admin)
        variant = product["variants"][0]
        other = create_product(admin)
        response = admin.post(
            "/admin/orders",
            json={
                "external_id": "shop-1001",
                "email": "Buyer@Example.com",
                "items": [
                    {"product_id": product["id"], "variant_id": variant["id"], "quantity": 3},
                    {"product_id": other["id"], "quantity": 1, "title": "Kurta, indigo"},
                ],
            },
        )
        assert response.status_code == 201, response.text
        order = response.json()["order"]
        assert order["id"].startswith("order_")
        assert order["external_id"] == "shop-1001"
        assert order["email"] == "buyer@example.com"
        assert order["source"] == "admin"
        assert [i["position"] for i in order["items"]] == [0, 1]
        assert all(i["id"].startswith("oli_") for i in order["items"])
        assert order["items"][0]["variant_id"] == variant["id"]
        assert order["items"][1]["title"] == "Kurta, indigo"
        assert placed_events(db) == [
            {
                "order_id": order["id"],
                "external_id": "shop-1001",
                "items": [
                    {
                        "id": order["items"][0]["id"],
                        "product_id": product["id"],
                        "variant_id": variant["id"],
                        "quantity": 3,
                    },
                    {
                        "id": order["items"][1]["id"],
                        "product_id": other["id"],
                        "variant_id": None,
                        "quantity": 1,
                    },
                ],
            }
        ]

    def test_without_external_id_every_post_is_a_new_order(
        self, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        items = [{"product_id": product["id"], "quantity": 1}]
        first = create_order(admin, items=items)
        second = create_order(admin, items=items)
        assert first["id"] != second["id"]
        assert first["external_id"] is None
        assert len(placed_events(db)) == 2

    def test_known_external_id_returns_existing_order_without_event(
        self, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        body = {"external_id": "ext-9", "items": [{"product_id": product["id"], "quantity": 2}]}
        first = admin.post("/admin/orders", json=body)
        assert first.status_code == 201
        again = admin.post(
            "/admin/orders",
            json={"external_id": "ext-9", "items": [{"product_id": product["id"], "quantity": 5}]},
        )
        assert again.status_code == 200
        assert again.json()["order"] == first.json()["order"]
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1

    def test_unknown_product_is_404_naming_it(self, admin: TestClient, db: Database) -> None:
        product = create_product(admin)
        response = admin.post(
            "/admin/orders",
            json={
                "items": [
                    {"product_id": product["id"], "quantity": 1},
                    {"product_id": "product_missing", "quantity": 1},
                ]
            },
        )
        body = assert_problem(response, 404, "product_not_found")
        assert "product_missing" in body["detail"]
        assert body["line"] == 1
        assert order_count(db) == 0
        assert placed_events(db) == []

    def test_unknown_variant_is_404(self, admin: TestClient) -> None:
        product = create_product(admin)
        response = admin.post(
            "/admin/orders",
            json={
                "items": [{"product_id": product["id"], "variant_id": "variant_x", "quantity": 1}]
            },
        )
        assert_problem(response, 404, "variant_not_found")

    def test_variant_of_another_product_is_422(self, admin: TestClient, db: Database) -> None:
        product = create_product(admin)
        other = create_product(admin)
        response = admin.post(
            "/admin/orders",
            json={
                "items": [
                    {
                        "product_id": product["id"],
                        "variant_id": other["variants"][0]["id"],
                        "quantity": 1,
                    }
                ]
            },
        )
        assert_problem(response, 422, "variant_product_mismatch")
        assert order_count(db) == 0

    def test_accepts_500_items_and_refuses_501(self, admin: TestClient) -> None:
        product = create_product(admin)
        line = {"product_id": product["id"], "quantity": 1}
        ok = admin.post("/admin/orders", json={"items": [line] * 500})
        assert ok.status_code == 201
        assert len(ok.json()["order"]["items"]) == 500
        assert_problem(admin.post("/admin/orders", json={"items": [line] * 501}), 422)

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"items": []},
            {"items": "x"},
            {"items": [{}]},
            {"items": [{"product_id": "product_x"}]},
            {"items": [{"quantity": 1}]},
            {"items": [{"product_id": "product_x", "quantity": 0}]},
            {"items": [{"product_id": "product_x", "quantity": -2}]},
            {"items": [{"product_id": "product_x", "quantity": 1.5}]},
            {"items": [{"product_id": "product_x", "quantity": "two"}]},
            {"items": [{"product_id": "product_x", "quantity": 10**10}]},
            {"items": [{"product_id": "p" * 65, "quantity": 1}]},
            {"items": [{"product_id": "p\x00", "quantity": 1}]},
            {"items": [{"product_id": "product_x", "quantity": 1, "title": "t" * 501}]},
            {"items": [{"product_id": "product_x", "quantity": 1, "price": 3}]},
            {"items": [{"product_id": 12, "quantity": 1}]},
            {"external_id": "", "items": [{"product_id": "product_x", "quantity": 1}]},
            {"external_id": "e" * 201, "items": [{"product_id": "product_x", "quantity": 1}]},
            {"external_id": "e\x00", "items": [{"product_id": "product_x", "quantity": 1}]},
            {"email": "not-an-email", "items": [{"product_id": "product_x", "quantity": 1}]},
            {"unknown": 1, "items": [{"product_id": "product_x", "quantity": 1}]},
        ],
    )
    def test_bad_input_is_422(
        self, admin: TestClient, db: Database, body: dict[str, object]
    ) -> None:
        assert_problem(admin.post("/admin/orders", json=body), 422, "validation_error")
        assert order_count(db) == 0

    def test_malformed_json_is_422(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/orders", content=b"{", headers={"content-type": "application/json"}
        )
        assert_problem(response, 422)


class TestConcurrentDeliveries:
    def test_fifty_concurrent_posts_of_one_order_make_one_order_and_one_event(
        self, app: FastAPI, admin: TestClient, admin_token: str, db: Database
    ) -> None:
        product = create_product(admin)
        body = {"external_id": "race-1", "items": [{"product_id": product["id"], "quantity": 1}]}
        n = 50
        barrier = threading.Barrier(n)
        statuses: list[int] = []
        order_ids: set[str] = set()
        lock = threading.Lock()

        def deliver() -> None:
            client = TestClient(app, headers=bearer(admin_token), raise_server_exceptions=False)
            barrier.wait()
            response = client.post("/admin/orders", json=body)
            with lock:
                statuses.append(response.status_code)
                if response.status_code in (200, 201):
                    order_ids.add(response.json()["order"]["id"])

        threads = [threading.Thread(target=deliver) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] * (n - 1) + [201]
        assert len(order_ids) == 1
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1


class TestReadOrders:
    def test_get_order_with_items(self, admin: TestClient) -> None:
        product = create_product(admin)
        order = create_order(admin, items=[{"product_id": product["id"], "quantity": 4}])
        response = admin.get(f"/admin/orders/{order['id']}")
        assert response.status_code == 200
        assert response.json()["order"] == order

    def test_unknown_order_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/orders/order_nope"), 404, "order_not_found")
        assert_problem(admin.get("/admin/orders/" + "o" * 65), 422)

    def test_list_newest_first_with_filters_and_pagination(self, admin: TestClient) -> None:
        product = create_product(admin)
        items = [{"product_id": product["id"], "quantity": 1}]
        a = create_order(admin, items=items, external_id="A", email="a@x.test")
        b = create_order(admin, items=items, external_id="B")
        c = create_order(admin, items=items)
        body = admin.get("/admin/orders").json()
        assert [o["id"] for o in body["orders"]] == [c["id"], b["id"], a["id"]]
        assert body["count"] == 3
        assert body["orders"][0]["items"][0]["product_id"] == product["id"]
        only = admin.get("/admin/orders", params={"external_id": "B"}).json()
        assert [o["id"] for o in only["orders"]] == [b["id"]]
        assert only["count"] == 1
        by_email = admin.get("/admin/orders", params={"email": "A@X.test"}).json()
        assert [o["id"] for o in by_email["orders"]] == [a["id"]]
        page = admin.get("/admin/orders", params={"limit": 1, "offset": 1}).json()
        assert [o["id"] for o in page["orders"]] == [b["id"]]
        assert (page["count"], page["limit"], page["offset"]) == (3, 1, 1)

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 501},
            {"offset": -1},
            {"external_id": "x" * 201},
            {"email": "a\x00"},
        ],
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, object]) -> None:
        assert_problem(admin.get("/admin/orders", params=params), 422)


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("get", "/admin/orders"), ("post", "/admin/orders"), ("get", "/admin/orders/order_x")],
    )
    def test_anonymous_401_and_partner_403(
        self, admin: TestClient, client: TestClient, method: str, path: str
    ) -> None:
        partner = create_partner(admin, client)
        assert_problem(getattr(client, method)(path), 401, "not_authenticated")
        assert_problem(getattr(client, method)(path, headers=partner.headers), 403, "admin_only")
