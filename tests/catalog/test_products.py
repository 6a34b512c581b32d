from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import MakeItem
from tests.conftest import assert_problem
from tests.factories.catalog import create_design, create_product


class TestCreateProduct:
    def test_product_with_variants(self, admin: TestClient, make_item: MakeItem) -> None:
        design = create_design(admin)
        other = create_design(admin)
        item_id = make_item()
        body = {
            "title": "Kurta",
            "design_id": design["id"],
            "metadata": {"shop": "main"},
            "variants": [
                {"title": "S", "sku": "KUR-S"},
                {"title": "M", "sku": "KUR-M", "design_id": other["id"]},
                {"title": "L", "inventory_item_id": item_id},
            ],
        }
        response = admin.post("/admin/products", json=body)
        assert response.status_code == 201, response.text
        product = response.json()["product"]
        assert product["id"].startswith("product_")
        assert product["design_id"] == design["id"] and product["metadata"] == {"shop": "main"}
        variants = product["variants"]
        assert [v["title"] for v in variants] == ["S", "M", "L"]
        assert all(v["id"].startswith("variant_") for v in variants)
        assert all(v["product_id"] == product["id"] for v in variants)
        assert variants[1]["design_id"] == other["id"]
        assert variants[2]["inventory_item_id"] == item_id and variants[2]["sku"] is None

    def test_without_variants_or_design(self, admin: TestClient) -> None:
        product = create_product(admin, variants=[])
        assert product["variants"] == [] and product["design_id"] is None

    def test_unknown_product_design_is_404(self, admin: TestClient) -> None:
        response = admin.post("/admin/products", json={"title": "x", "design_id": "design_nope"})
        assert_problem(response, 404, "design_not_found")

    def test_unknown_variant_design_is_404(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/products",
            json={"title": "x", "variants": [{"title": "v", "design_id": "design_nope"}]},
        )
        body = assert_problem(response, 404, "design_not_found")
        assert "design_nope" in body["detail"]

    def test_unknown_inventory_item_is_404(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/products",
            json={"title": "x", "variants": [{"title": "v", "inventory_item_id": "iitem_no"}]},
        )
        assert_problem(response, 404, "inventory_item_not_found")
        assert admin.get("/admin/products").json()["count"] == 0

    def test_duplicate_sku_is_409(self, admin: TestClient) -> None:
        create_product(admin, variants=[{"title": "S", "sku": "DUP-1"}])
        response = admin.post(
            "/admin/products", json={"title": "x", "variants": [{"title": "S", "sku": "DUP-1"}]}
        )
        assert_problem(response, 409, "sku_taken")
        assert admin.get("/admin/products").json()["count"] == 1

    def test_duplicate_sku_within_request_is_422(self, admin: TestClient) -> None:
        variants = [{"title": "S", "sku": "SAME"}, {"title": "M", "sku": "SAME"}]
        response = admin.post("/admin/products", json={"title": "x", "variants": variants})
        assert_problem(response, 422, "validation_error")

    def test_concurrent_creates_with_one_sku_one_wins(self, admin: TestClient) -> None:
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def create() -> None:
            barrier.wait()
            response = admin.post(
                "/admin/products", json={"title": "x", "variants": [{"title": "S", "sku": "RACE"}]}
            )
            statuses.append(response.status_code)

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [201, 409]
        assert admin.get("/admin/products").json()["count"] == 1

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"variants": []},
            {"title": ""},
            {"title": 5},
            {"title": "t" * 10_000},
            {"title": "a\x00b"},
            {"title": "x", "variants": "S"},
            {"title": "x", "variants": [{}]},
            {"title": "x", "variants": [{"title": "S", "sku": "s" * 121}]},
            {"title": "x", "variants": [{"title": "S", "sku": ""}]},
            {"title": "x", "variants": [{"title": "S", "sku": "a\x00"}]},
            {"title": "x", "variants": [{"title": "S", "design_id": 7}]},
            {"title": "x", "variants": [{"title": "S", "colour": "red"}]},
            {"title": "x", "variants": [{"title": f"v{n}"} for n in range(101)]},
            {"title": "x", "design_id": "d" * 65},
            {"title": "x", "extra": True},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, Any]) -> None:
        assert_problem(admin.post("/admin/products", json=body), 422, "validation_error")


class TestReadProducts:
    def test_get_with_variants(self, admin: TestClient) -> None:
        product = create_product(admin)
        response = admin.get(f"/admin/products/{product['id']}")
        assert response.status_code == 200
        assert response.json()["product"] == product

    def test_unknown_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/products/product_nope"), 404, "product_not_found")

    def test_list_filters_and_paginates(self, admin: TestClient) -> None:
        design = create_design(admin)
        linked = [create_product(admin, design_id=design["id"]) for _ in range(3)]
        create_product(admin, title="Unlinked scarf")
        body = admin.get("/admin/products", params={"design_id": design["id"], "limit": 2}).json()
        assert (body["count"], body["limit"], body["offset"]) == (3, 2, 0)
        assert [p["id"] for p in body["products"]] == [linked[2]["id"], linked[1]["id"]]
        assert body["products"][0]["variants"]
        searched = admin.get("/admin/products", params={"q": "scarf"}).json()
        assert [p["title"] for p in searched["products"]] == ["Unlinked scarf"]

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 1000}, {"offset": -5}, {"q": "q" * 201}]
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, Any]) -> None:
        assert_problem(admin.get("/admin/products", params=params), 422)
