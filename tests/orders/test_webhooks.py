from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from tests.conftest import assert_problem
from tests.factories.catalog import create_product
from tests.live import LiveServer, together
from tests.orders.test_admin_orders import order_count, placed_events

SECRET = "test-webhook-secret"  # the ``settings`` fixture's webhook secret


def atelier_sig(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shopify_sig(body: bytes, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def post_signed(
    client: TestClient, payload: Any, path: str = "/webhooks/orders", **params: str
) -> Any:
    raw = json.dumps(payload).encode()
    return client.post(
        path,
        content=raw,
        params=params,
        headers={"content-type": "application/json", "X-Atelier-Signature": atelier_sig(raw)},
    )


def post_shopify(client: TestClient, payload: Any, path: str = "/webhooks/orders/shopify") -> Any:
    raw = json.dumps(payload).encode()
    return client.post(
        path,
        content=raw,
        headers={"content-type": "application/json", "X-Shopify-Hmac-Sha256": shopify_sig(raw)},
    )


class TestGenericWebhook:
    def test_signed_order_is_created_and_announced(
        self, client: TestClient, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        response = post_signed(
            client,
            {
                "external_id": "wh-1",
                "email": "a@b.co",
                "items": [{"product_id": product["id"], "quantity": 2}],
            },
        )
        assert response.status_code == 201, response.text
        order = response.json()["order"]
        assert order["external_id"] == "wh-1"
        assert order["source"] == "webhook:generic"
        assert order["items"][0]["quantity"] == 2
        events = placed_events(db)
        assert [e["order_id"] for e in events] == [order["id"]]

    def test_replayed_delivery_is_200_and_creates_nothing(
        self, client: TestClient, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        payload = {"external_id": "wh-2", "items": [{"product_id": product["id"], "quantity": 1}]}
        first = post_signed(client, payload)
        again = post_signed(client, payload)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["order"]["id"] == first.json()["order"]["id"]
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1

    def test_webhook_and_admin_share_external_ids(
        self, client: TestClient, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        payload = {"external_id": "both", "items": [{"product_id": product["id"], "quantity": 1}]}
        assert admin.post("/admin/orders", json=payload).status_code == 201
        assert post_signed(client, payload).status_code == 200
        assert order_count(db) == 1

    def test_unknown_product_is_kept_and_recorded(
        self, client: TestClient, db: Database, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="atelier.orders.service")
        response = post_signed(
            client, {"items": [{"product_id": "product_gone", "variant_id": "v1", "quantity": 1}]}
        )
        assert response.status_code == 201
        order = response.json()["order"]
        assert order["items"][0]["product_id"] == "product_gone"
        assert order["metadata"]["unmapped_lines"] == [
            {
                "position": 0,
                "product_id": "product_gone",
                "variant_id": "v1",
                "problem": "unknown_product",
            }
        ]
        assert len(placed_events(db)) == 1
        assert any("no known product" in r.getMessage() for r in caplog.records)

    def test_missing_signature_is_401_and_stores_nothing(
        self, client: TestClient, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        response = client.post(
            "/webhooks/orders", json={"items": [{"product_id": product["id"], "quantity": 1}]}
        )
        assert_problem(response, 401, "signature_missing")
        assert order_count(db) == 0
        assert placed_events(db) == []

    @pytest.mark.parametrize(
        "signature",
        [
            "sha256=" + "0" * 64,
            "sha256=",
            "md5=abc",
            "garbage",
            "sha256=zz",
            b"sha256=" + b"\xe9" * 10,
        ],
    )
    def test_bad_signature_is_401_and_stores_nothing(
        self, client: TestClient, admin: TestClient, db: Database, signature: str | bytes
    ) -> None:
        product = create_product(admin)
        raw = json.dumps({"items": [{"product_id": product["id"], "quantity": 1}]}).encode()
        response = client.post(
            "/webhooks/orders",
            content=raw,
            headers={"content-type": "application/json", "X-Atelier-Signature": signature},
        )
        assert_problem(response, 401, "signature_invalid")
        assert order_count(db) == 0

    def test_signature_with_another_secret_is_401(self, client: TestClient, db: Database) -> None:
        raw = json.dumps({"items": [{"product_id": "p", "quantity": 1}]}).encode()
        response = client.post(
            "/webhooks/orders",
            content=raw,
            headers={"X-Atelier-Signature": atelier_sig(raw, "other-secret")},
        )
        assert_problem(response, 401, "signature_invalid")
        assert order_count(db) == 0

    def test_body_changed_after_signing_is_401(self, client: TestClient, db: Database) -> None:
        raw = json.dumps({"items": [{"product_id": "p", "quantity": 1}]}).encode()
        tampered = raw.replace(b"1}", b"9}")
        response = client.post(
            "/webhooks/orders", content=tampered, headers={"X-Atelier-Signature": atelier_sig(raw)}
        )
        assert_problem(response, 401, "signature_invalid")

    def test_uppercase_hex_signature_is_accepted(self, client: TestClient) -> None:
        raw = json.dumps({"items": [{"product_id": "p", "quantity": 1}]}).encode()
        response = client.post(
            "/webhooks/orders",
            content=raw,
            headers={"X-Atelier-Signature": "SHA256=" + atelier_sig(raw)[7:].upper()},
        )
        assert response.status_code == 201

    def test_secret_and_signature_are_never_logged(
        self, client: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        raw = json.dumps({"items": [{"product_id": "p", "quantity": 1}]}).encode()
        sig = atelier_sig(raw)
        client.post("/webhooks/orders", content=raw, headers={"X-Atelier-Signature": sig})
        client.post("/webhooks/orders", content=raw, headers={"X-Atelier-Signature": sig + "0"})
        text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
        assert SECRET not in text
        assert sig[7:] not in text

    def test_oversized_body_is_413(self, client: TestClient, db: Database) -> None:
        raw = b'{"items": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
        response = client.post(
            "/webhooks/orders", content=raw, headers={"X-Atelier-Signature": atelier_sig(raw)}
        )
        assert_problem(response, 413)
        assert order_count(db) == 0

    @pytest.mark.parametrize(
        "raw",
        [
            b"{",
            b"[]",
            b'"x"',
            b"{}",
            b'{"items": []}',
            b'{"items": [{"product_id": "p", "quantity": 0}]}',
            b'{"items": [{"product_id": "p\\u0000", "quantity": 1}]}',
            b'{"items": [{"product_id": "p", "quantity": 1}], "x": 1}',
            b"\xff\xfe",
        ],
    )
    def test_signed_bad_body_is_422(self, client: TestClient, db: Database, raw: bytes) -> None:
        response = client.post(
            "/webhooks/orders", content=raw, headers={"X-Atelier-Signature": atelier_sig(raw)}
        )
        assert_problem(response, 422)
        assert order_count(db) == 0

    def test_unknown_source_is_422(self, client: TestClient) -> None:
        raw = b"{}"
        response = client.post(
            "/webhooks/orders?source=etsy",
            content=raw,
            headers={"X-Atelier-Signature": atelier_sig(raw)},
        )
        assert_problem(response, 422)

    def test_concurrent_replays_make_one_order_and_one_event(
        self, app: FastAPI, admin: TestClient, db: Database
    ) -> None:
        product = create_product(admin)
        payload = {
            "external_id": "wh-race",
            "items": [{"product_id": product["id"], "quantity": 1}],
        }
        n = 50
        barrier = threading.Barrier(n)
        statuses: list[int] = []

        def deliver() -> None:
            c = TestClient(app, raise_server_exceptions=False)
            barrier.wait()
            statuses.append(post_signed(c, payload).status_code)

        threads = [threading.Thread(target=deliver) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] * (n - 1) + [201]
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1

    def test_a_hundred_simultaneous_redeliveries_make_one_order(
        self, admin: TestClient, db: Database, live: LiveServer
    ) -> None:
        """100 callers through a served app (one event loop, one worker pool)."""
        product = create_product(admin)
        payload = {
            "external_id": "wh-burst",
            "items": [{"product_id": product["id"], "quantity": 2}],
        }

        def deliver(_: int) -> int:
            with live.client() as c:
                return int(post_signed(c, payload).status_code)

        statuses = together(100, deliver)
        assert Counter(statuses) == {201: 1, 200: 99}, Counter(map(str, statuses))
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1


def shopify_order(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 820982911946154508,
        "email": "jon@example.com",
        "currency": "INR",
        "line_items": [
            {
                "id": 466157049,
                "product_id": 632910392,
                "variant_id": 39072856,
                "sku": "IPOD2008GREEN",
                "quantity": 1,
                "title": "IPod Nano - 8gb",
                "price": "199.00",
            }
        ],
    }
    body.update(overrides)
    return body


class TestShopify:
    def test_maps_variant_by_sku(self, client: TestClient, admin: TestClient, db: Database) -> None:
        product = create_product(admin, variants=[{"title": "Green", "sku": "IPOD2008GREEN"}])
        response = post_shopify(client, shopify_order())
        assert response.status_code == 201, response.text
        order = response.json()["order"]
        assert order["external_id"] == "shopify:820982911946154508"
        assert order["source"] == "webhook:shopify"
        assert order["email"] == "jon@example.com"
        line = order["items"][0]
        assert (line["product_id"], line["variant_id"]) == (
            product["id"],
            product["variants"][0]["id"],
        )
        assert order["metadata"]["shopify_line_item_ids"] == ["466157049"]
        assert "unmapped_lines" not in order["metadata"]
        assert placed_events(db)[0]["items"][0]["product_id"] == product["id"]

    def test_maps_product_by_stored_shopify_id(self, client: TestClient, admin: TestClient) -> None:
        product = create_product(admin, metadata={"shopify_product_id": "632910392"}, variants=[])
        order = post_shopify(client, shopify_order()).json()["order"]
        assert order["items"][0]["product_id"] == product["id"]
        assert order["items"][0]["variant_id"] is None

    def test_maps_product_by_numeric_shopify_id(
        self, client: TestClient, admin: TestClient
    ) -> None:
        product = create_product(admin, metadata={"shopify_product_id": 632910392}, variants=[])
        order = post_shopify(client, shopify_order()).json()["order"]
        assert order["items"][0]["product_id"] == product["id"]

    def test_unmapped_line_keeps_shopify_ids(self, client: TestClient, db: Database) -> None:
        response = post_shopify(client, shopify_order())
        assert response.status_code == 201
        order = response.json()["order"]
        assert (order["items"][0]["product_id"], order["items"][0]["variant_id"]) == (
            "632910392",
            "39072856",
        )
        assert order["metadata"]["unmapped_lines"][0]["problem"] == "unknown_product"
        assert len(placed_events(db)) == 1

    def test_detected_by_header_on_generic_path(self, client: TestClient) -> None:
        response = post_shopify(client, shopify_order(), path="/webhooks/orders")
        assert response.status_code == 201
        assert response.json()["order"]["source"] == "webhook:shopify"

    def test_replay_is_200(self, client: TestClient, db: Database) -> None:
        assert post_shopify(client, shopify_order()).status_code == 201
        assert post_shopify(client, shopify_order()).status_code == 200
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1

    def test_bad_or_missing_hmac_is_401(self, client: TestClient, db: Database) -> None:
        raw = json.dumps(shopify_order()).encode()
        missing = client.post("/webhooks/orders/shopify", content=raw)
        assert_problem(missing, 401, "signature_missing")
        wrong = client.post(
            "/webhooks/orders/shopify",
            content=raw,
            headers={"X-Shopify-Hmac-Sha256": shopify_sig(raw, "nope")},
        )
        assert_problem(wrong, 401, "signature_invalid")
        atelier_header = client.post(
            "/webhooks/orders/shopify",
            content=raw,
            headers={"X-Atelier-Signature": atelier_sig(raw)},
        )
        assert_problem(atelier_header, 401, "signature_missing")
        assert order_count(db) == 0

    @pytest.mark.parametrize(
        "payload",
        [
            {"email": "x@y.z", "line_items": [{"quantity": 1}]},
            shopify_order(line_items=[]),
            shopify_order(line_items=[{"product_id": 1, "quantity": 0}]),
            shopify_order(line_items=[{"product_id": 1}]),
            shopify_order(line_items=[{"product_id": 2**70, "quantity": 1}]),
            shopify_order(line_items=[{"product_id": True, "quantity": 1}]),
            shopify_order(line_items=[{"product_id": 1, "quantity": 1, "title": "t" * 501}]),
            shopify_order(id=None),
            shopify_order(id="a\x00"),
            shopify_order(line_items="nope"),
        ],
    )
    def test_bad_payload_is_422(self, client: TestClient, db: Database, payload: Any) -> None:
        assert_problem(post_shopify(client, payload), 422)
        assert order_count(db) == 0


def medusa_order(product_id: str = "prod_medusa_1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "order_01MEDUSA",
        "email": "buyer@shop.test",
        "items": [
            {
                "id": "item_1",
                "product_id": product_id,
                "variant_id": "variant_medusa_1",
                "variant_sku": "M-SKU-1",
                "quantity": 2,
                "title": "Shirt",
            }
        ],
    }
    body.update(overrides)
    return body


class TestMedusa:
    def test_event_envelope_with_order(self, client: TestClient, admin: TestClient) -> None:
        product = create_product(admin, variants=[{"title": "M", "sku": "M-SKU-1"}])
        response = post_signed(client, {"data": medusa_order()}, path="/webhooks/orders/medusa")
        assert response.status_code == 201, response.text
        order = response.json()["order"]
        assert order["external_id"] == "medusa:order_01MEDUSA"
        assert order["source"] == "webhook:medusa"
        assert order["items"][0]["product_id"] == product["id"]
        assert order["items"][0]["variant_id"] == product["variants"][0]["id"]
        assert order["items"][0]["quantity"] == 2

    def test_bare_order_via_source_param(self, client: TestClient, admin: TestClient) -> None:
        product = create_product(admin, variants=[])
        payload = medusa_order(product_id=product["id"])
        response = post_signed(client, payload, source="medusa")
        assert response.status_code == 201, response.text
        assert response.json()["order"]["items"][0]["product_id"] == product["id"]

    def test_maps_product_by_stored_medusa_id(self, client: TestClient, admin: TestClient) -> None:
        product = create_product(
            admin, metadata={"medusa_product_id": "prod_medusa_1"}, variants=[]
        )
        response = post_signed(client, medusa_order(), path="/webhooks/orders/medusa")
        assert response.json()["order"]["items"][0]["product_id"] == product["id"]

    def test_event_with_only_an_id_is_422(self, client: TestClient, db: Database) -> None:
        response = post_signed(client, {"data": {"id": "order_1"}}, path="/webhooks/orders/medusa")
        assert_problem(response, 422, "medusa_items_missing")
        assert order_count(db) == 0

    def test_replay_is_200(self, client: TestClient, db: Database) -> None:
        path = "/webhooks/orders/medusa"
        assert post_signed(client, {"data": medusa_order()}, path=path).status_code == 201
        assert post_signed(client, medusa_order(), path=path).status_code == 200
        assert order_count(db) == 1

    def test_unsigned_is_401(self, client: TestClient, db: Database) -> None:
        response = client.post("/webhooks/orders/medusa", json=medusa_order())
        assert_problem(response, 401, "signature_missing")
        assert order_count(db) == 0

    @pytest.mark.parametrize(
        "payload",
        [
            [],
            {"data": "x"},
            medusa_order(items=[]),
            medusa_order(items=[{"product_id": "p", "quantity": -1}]),
            medusa_order(id=""),
            medusa_order(email=123),
        ],
    )
    def test_bad_payload_is_422(self, client: TestClient, db: Database, payload: Any) -> None:
        assert_problem(post_signed(client, payload, path="/webhooks/orders/medusa"), 422)
        assert order_count(db) == 0
