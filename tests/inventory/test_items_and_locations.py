from __future__ import annotations

import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import assert_problem, bearer
from tests.factories.catalog import create_partner
from tests.factories.inventory import create_item, create_location


class TestCreateItem:
    def test_creates_item(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/inventory-items",
            json={"sku": "FAB-COTTON", "title": "Cotton lawn", "unit_of_measure": "m"},
        )
        assert response.status_code == 201, response.text
        item = response.json()["inventory_item"]
        assert item["id"].startswith("iitem_")
        assert item["sku"] == "FAB-COTTON"
        assert item["title"] == "Cotton lawn"
        assert item["unit_of_measure"] == "m"
        assert item["metadata"] == {}

    def test_strips_whitespace_and_keeps_metadata(self, admin: TestClient) -> None:
        item = create_item(admin, sku="  YARN-1  ", metadata={"supplier": "Arvind"})
        assert item["sku"] == "YARN-1"
        assert item["metadata"] == {"supplier": "Arvind"}

    def test_duplicate_sku_is_409(self, admin: TestClient) -> None:
        create_item(admin, sku="DUP-1")
        response = admin.post(
            "/admin/inventory-items", json={"sku": "DUP-1", "title": "x", "unit_of_measure": "m"}
        )
        assert_problem(response, 409, "sku_taken")

    def test_concurrent_creates_of_one_sku_make_one_item(
        self, app: FastAPI, admin_token: str
    ) -> None:
        barrier = threading.Barrier(8)
        statuses: list[int] = []

        def worker() -> None:
            with TestClient(app, headers=bearer(admin_token)) as c:
                barrier.wait()
                r = c.post(
                    "/admin/inventory-items",
                    json={"sku": "RACE-1", "title": "Race", "unit_of_measure": "m"},
                )
                statuses.append(r.status_code)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [201] + [409] * 7

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"title": "x", "unit_of_measure": "m"},
            {"sku": "A", "unit_of_measure": "m"},
            {"sku": "A", "title": "x"},
            {"sku": "", "title": "x", "unit_of_measure": "m"},
            {"sku": "   ", "title": "x", "unit_of_measure": "m"},
            {"sku": "A" * 121, "title": "x", "unit_of_measure": "m"},
            {"sku": "A", "title": "x" * 201, "unit_of_measure": "m"},
            {"sku": "A", "title": "x", "unit_of_measure": "m" * 33},
            {"sku": "A\x00B", "title": "x", "unit_of_measure": "m"},
            {"sku": "A", "title": "x\x00", "unit_of_measure": "m"},
            {"sku": 12, "title": "x", "unit_of_measure": "m"},
            {"sku": ["A"], "title": "x", "unit_of_measure": "m"},
            {"sku": "A", "title": "x", "unit_of_measure": "m", "extra": 1},
            {"sku": "A", "title": "x", "unit_of_measure": "m", "metadata": "nope"},
            {"sku": "A", "title": "x", "unit_of_measure": "m", "metadata": {"k": "x" * 20000}},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, object]) -> None:
        assert_problem(admin.post("/admin/inventory-items", json=body), 422, "validation_error")

    def test_non_object_body_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.post("/admin/inventory-items", json=[1, 2]), 422)


class TestListAndGetItems:
    def test_lists_sorted_by_sku_with_pagination(self, admin: TestClient) -> None:
        for sku in ["C-3", "A-1", "B-2"]:
            create_item(admin, sku=sku)
        body = admin.get("/admin/inventory-items", params={"limit": 2}).json()
        assert [i["sku"] for i in body["inventory_items"]] == ["A-1", "B-2"]
        assert (body["count"], body["limit"], body["offset"]) == (3, 2, 0)
        page2 = admin.get("/admin/inventory-items", params={"limit": 2, "offset": 2}).json()
        assert [i["sku"] for i in page2["inventory_items"]] == ["C-3"]

    def test_q_matches_sku_or_title_case_insensitively(self, admin: TestClient) -> None:
        create_item(admin, sku="FAB-LINEN", title="Linen")
        create_item(admin, sku="BTN-1", title="Horn buttons")
        create_item(admin, sku="ZIP-1", title="Zip")
        by_sku = admin.get("/admin/inventory-items", params={"q": "fab"}).json()
        assert [i["sku"] for i in by_sku["inventory_items"]] == ["FAB-LINEN"]
        by_title = admin.get("/admin/inventory-items", params={"q": "BUTTON"}).json()
        assert [i["sku"] for i in by_title["inventory_items"]] == ["BTN-1"]
        assert by_title["count"] == 1

    def test_q_treats_wildcards_literally(self, admin: TestClient) -> None:
        create_item(admin, sku="A_1")
        create_item(admin, sku="AB1")
        body = admin.get("/admin/inventory-items", params={"q": "a_"}).json()
        assert [i["sku"] for i in body["inventory_items"]] == ["A_1"]
        assert admin.get("/admin/inventory-items", params={"q": "%"}).json()["count"] == 0

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 501},
            {"limit": "x"},
            {"offset": -1},
            {"q": "x" * 201},
            {"q": "a\x00"},
        ],
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, object]) -> None:
        assert_problem(admin.get("/admin/inventory-items", params=params), 422)

    def test_get_item_without_stock(self, admin: TestClient) -> None:
        item = create_item(admin)
        body = admin.get(f"/admin/inventory-items/{item['id']}").json()["inventory_item"]
        assert body["id"] == item["id"]
        assert body["levels"] == []
        assert body["movements"] == []

    def test_unknown_item_is_404(self, admin: TestClient) -> None:
        response = admin.get("/admin/inventory-items/iitem_nope")
        assert_problem(response, 404, "inventory_item_not_found")

    def test_oversized_or_nul_id_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/inventory-items/" + "x" * 65), 422)
        assert_problem(admin.get("/admin/inventory-items/a%00b"), 422)


class TestStockLocations:
    def test_creates_warehouse_by_default(self, admin: TestClient) -> None:
        response = admin.post("/admin/stock-locations", json={"name": "Main warehouse"})
        assert response.status_code == 201, response.text
        location = response.json()["stock_location"]
        assert location["id"].startswith("sloc_")
        assert location["kind"] == "warehouse"
        assert location["partner_id"] is None

    def test_partner_location(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client)
        location = create_location(admin, name="Tailor shelf", partner_id=partner.id)
        assert location["kind"] == "partner"
        assert location["partner_id"] == partner.id
        assert location["code"] == f"partner:{partner.id}"
        second = create_location(admin, name="Second shelf", partner_id=partner.id)
        assert second["code"] is None

    def test_unknown_partner_is_404(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/stock-locations", json={"name": "x", "partner_id": "partner_nope"}
        )
        assert_problem(response, 404, "partner_not_found")

    def test_partner_kind_needs_partner(self, admin: TestClient) -> None:
        response = admin.post("/admin/stock-locations", json={"name": "x", "kind": "partner"})
        assert_problem(response, 422, "partner_required")

    def test_partner_id_needs_partner_kind(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client)
        response = admin.post(
            "/admin/stock-locations",
            json={"name": "x", "partner_id": partner.id, "kind": "warehouse"},
        )
        assert_problem(response, 422, "invalid_kind")

    def test_one_finished_goods_location(self, admin: TestClient) -> None:
        fg = create_location(admin, name="Finished", kind="finished_goods")
        assert fg["code"] == "finished_goods"
        again = admin.post(
            "/admin/stock-locations", json={"name": "Other", "kind": "finished_goods"}
        )
        assert_problem(again, 409, "finished_goods_location_exists")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "x" * 201},
            {"name": "a\x00"},
            {"name": 5},
            {"name": "x", "kind": "moon"},
            {"name": "x", "partner_id": "p" * 65},
            {"name": "x", "other": True},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, object]) -> None:
        assert_problem(admin.post("/admin/stock-locations", json=body), 422, "validation_error")

    def test_list_filters_and_paginates(self, admin: TestClient, client: TestClient) -> None:
        partner = create_partner(admin, client)
        create_location(admin, name="B warehouse")
        create_location(admin, name="A warehouse")
        create_location(admin, name="C partner", partner_id=partner.id)
        body = admin.get("/admin/stock-locations").json()
        assert [loc["name"] for loc in body["stock_locations"]] == [
            "A warehouse",
            "B warehouse",
            "C partner",
        ]
        assert body["count"] == 3
        partners = admin.get("/admin/stock-locations", params={"kind": "partner"}).json()
        assert [loc["name"] for loc in partners["stock_locations"]] == ["C partner"]
        mine = admin.get("/admin/stock-locations", params={"partner_id": partner.id}).json()
        assert mine["count"] == 1
        paged = admin.get("/admin/stock-locations", params={"limit": 1, "offset": 1}).json()
        assert [loc["name"] for loc in paged["stock_locations"]] == ["B warehouse"]
        assert_problem(admin.get("/admin/stock-locations", params={"kind": "moon"}), 422)
        assert_problem(admin.get("/admin/stock-locations", params={"limit": 0}), 422)

    def test_get_location(self, admin: TestClient) -> None:
        location = create_location(admin, name="Main")
        body = admin.get(f"/admin/stock-locations/{location['id']}").json()
        assert body["stock_location"]["name"] == "Main"
        assert_problem(
            admin.get("/admin/stock-locations/sloc_nope"), 404, "stock_location_not_found"
        )


class TestAuth:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "/admin/inventory-items"),
            ("post", "/admin/inventory-items"),
            ("get", "/admin/inventory-items/iitem_x"),
            ("post", "/admin/inventory-items/iitem_x/levels"),
            ("get", "/admin/stock-locations"),
            ("post", "/admin/stock-locations"),
            ("get", "/admin/stock-locations/sloc_x"),
            ("get", "/admin/inventory-movements"),
            ("get", "/admin/inventory-levels"),
            ("post", "/admin/inventory-items/iitem_x"),
        ],
    )
    def test_anonymous_401_and_partner_403(
        self, admin: TestClient, client: TestClient, method: str, path: str
    ) -> None:
        partner = create_partner(admin, client)
        assert_problem(getattr(client, method)(path), 401, "not_authenticated")
        assert_problem(getattr(client, method)(path, headers=partner.headers), 403, "admin_only")


class TestUpdateItem:
    def test_updates_fields(self, admin: TestClient) -> None:
        item = create_item(admin, sku="OLD-1")
        response = admin.post(
            f"/admin/inventory-items/{item['id']}",
            json={
                "sku": "NEW-1",
                "title": "Renamed",
                "unit_of_measure": "kg",
                "metadata": {"a": 1},
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()["inventory_item"]
        assert (body["sku"], body["title"], body["unit_of_measure"]) == ("NEW-1", "Renamed", "kg")
        assert body["metadata"] == {"a": 1}
        assert body["levels"] == []

    def test_partial_update_keeps_other_fields(self, admin: TestClient) -> None:
        item = create_item(admin, sku="KEEP-1", title="Keep")
        body = admin.post(f"/admin/inventory-items/{item['id']}", json={"unit_of_measure": "pcs"})
        assert body.json()["inventory_item"]["title"] == "Keep"
        assert body.json()["inventory_item"]["sku"] == "KEEP-1"

    def test_taken_sku_is_409(self, admin: TestClient) -> None:
        create_item(admin, sku="TAKEN")
        item = create_item(admin)
        response = admin.post(f"/admin/inventory-items/{item['id']}", json={"sku": "TAKEN"})
        assert_problem(response, 409, "sku_taken")

    def test_unknown_item_is_404(self, admin: TestClient) -> None:
        response = admin.post("/admin/inventory-items/iitem_nope", json={"title": "x"})
        assert_problem(response, 404, "inventory_item_not_found")

    @pytest.mark.parametrize(
        "body",
        [
            {"title": None},
            {"sku": None},
            {"sku": ""},
            {"title": "x" * 201},
            {"unit_of_measure": "u\x00"},
            {"metadata": None},
            {"metadata": [1]},
            {"stocked_quantity": 3},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, object]) -> None:
        item = create_item(admin)
        response = admin.post(f"/admin/inventory-items/{item['id']}", json=body)
        assert_problem(response, 422, "validation_error")


class TestLevelsList:
    def test_lists_levels_with_item_and_location(self, admin: TestClient) -> None:
        from tests.factories.inventory import set_level

        a_item = create_item(admin, sku="A-ITEM", title="A")
        b_item = create_item(admin, sku="B-ITEM", title="B")
        shelf = create_location(admin, name="Shelf")
        attic = create_location(admin, name="Attic")
        set_level(admin, b_item["id"], shelf["id"], 2)
        set_level(admin, a_item["id"], shelf["id"], 1)
        set_level(admin, a_item["id"], attic["id"], 3)
        body = admin.get("/admin/inventory-levels").json()
        assert [
            (lv["location_name"], lv["sku"], lv["stocked_quantity"])
            for lv in body["inventory_levels"]
        ] == [
            ("Attic", "A-ITEM", 3),
            ("Shelf", "A-ITEM", 1),
            ("Shelf", "B-ITEM", 2),
        ]
        on_shelf = admin.get("/admin/inventory-levels", params={"location_id": shelf["id"]}).json()
        assert on_shelf["count"] == 2
        of_a = admin.get(
            "/admin/inventory-levels", params={"inventory_item_id": a_item["id"]}
        ).json()
        assert of_a["count"] == 2
        page = admin.get("/admin/inventory-levels", params={"limit": 1, "offset": 2}).json()
        assert [lv["sku"] for lv in page["inventory_levels"]] == ["B-ITEM"]
        assert page["inventory_levels"][0]["unit_of_measure"] == "m"

    @pytest.mark.parametrize("params", [{"limit": 0}, {"offset": -1}, {"location_id": "x" * 65}])
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, object]) -> None:
        assert_problem(admin.get("/admin/inventory-levels", params=params), 422)
