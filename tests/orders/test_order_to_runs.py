from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.factories.catalog import create_design, create_product
from tests.orders.test_webhooks import post_shopify, shopify_order


class TestOrderPlacedIsDelivered:
    def test_webhook_order_becomes_runs_once(
        self, client: TestClient, admin: TestClient, drain: Callable[[], int]
    ) -> None:
        design = create_design(admin)
        product = create_product(
            admin, design_id=design["id"], variants=[{"title": "G", "sku": "IPOD2008GREEN"}]
        )
        order = post_shopify(client, shopify_order()).json()["order"]
        drain()
        assert post_shopify(client, shopify_order()).status_code == 200
        drain()
        runs = admin.get("/admin/production-runs", params={"order_id": order["id"]}).json()
        assert runs["count"] == 1
        run = runs["production_runs"][0]
        assert run["order_line_item_id"] == order["items"][0]["id"]
        assert run["product_id"] == product["id"]
        assert run["status"] == "pending_review"
