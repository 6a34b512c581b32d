from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import MakeItem
from tests.conftest import assert_problem
from tests.factories.catalog import create_design, create_partner


class TestCreateDesign:
    def test_minimal_body_defaults(self, admin: TestClient) -> None:
        response = admin.post("/admin/designs", json={"name": "  Indigo kurta  "})
        assert response.status_code == 201, response.text
        design = response.json()["design"]
        assert design["id"].startswith("design_")
        assert design["name"] == "Indigo kurta"
        assert design["status"] == "Conceptual"
        assert design["specifications"] == {}
        assert design["colors"] == [] and design["sizes"] == [] and design["media_files"] == []
        assert design["moodboard"] == {} and design["metadata"] == {}
        assert design["bom"] == [] and design["partners"] == []

    def test_all_fields_round_trip(self, admin: TestClient) -> None:
        body: dict[str, Any] = {
            "name": "Block-print dress",
            "description": "Hand block printed, A-line",
            "status": "Sample_Production",
            "specifications": {"fabric": "cotton", "gsm": 140},
            "colors": ["indigo", "madder"],
            "sizes": ["S", "M", "L"],
            "thumbnail_url": "https://cdn.example/t.jpg",
            "media_files": [{"url": "https://cdn.example/a.jpg", "kind": "image"}],
            "moodboard": {"board": "summer"},
            "metadata": {"collection": "SS27"},
        }
        design = admin.post("/admin/designs", json=body).json()["design"]
        fetched = admin.get(f"/admin/designs/{design['id']}").json()["design"]
        for key, value in body.items():
            assert fetched[key] == value, key

    def test_every_status_is_accepted(self, admin: TestClient) -> None:
        for status in (
            "Conceptual",
            "In_Development",
            "Technical_Review",
            "Sample_Production",
            "Revision",
            "Approved",
            "Rejected",
            "On_Hold",
            "Commerce_Ready",
            "Superseded",
        ):
            assert create_design(admin, status=status)["status"] == status

    def test_thumbnail_may_be_a_local_media_path(self, admin: TestClient) -> None:
        design = create_design(admin, thumbnail_url="/media/designs/t.png")
        assert design["thumbnail_url"] == "/media/designs/t.png"

    def test_output_inventory_item_is_checked(self, admin: TestClient, make_item: MakeItem) -> None:
        item_id = make_item()
        design = create_design(admin, output_inventory_item_id=item_id)
        assert design["output_inventory_item_id"] == item_id
        response = admin.post(
            "/admin/designs", json={"name": "x", "output_inventory_item_id": "iitem_nope"}
        )
        assert_problem(response, 404, "inventory_item_not_found")


class TestCreateDesignBadInput:
    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"description": "no name"},
            {"name": ""},
            {"name": "   "},
            {"name": 42},
            {"name": ["a"]},
            {"name": "x" * 10_000},
            {"name": "a\x00b"},
            {"name": "ok", "description": "d" * 10_001},
            {"name": "ok", "description": "a\x00b"},
            {"name": "ok", "status": "Shipped"},
            {"name": "ok", "status": "conceptual"},
            {"name": "ok", "specifications": ["not", "an", "object"]},
            {"name": "ok", "specifications": {"k": "v" * 20_000}},
            {"name": "ok", "specifications": {"k": "a\x00b"}},
            {"name": "ok", "colors": "red"},
            {"name": "ok", "sizes": {"a": 1}},
            {"name": "ok", "media_files": [{}] * 201},
            {"name": "ok", "thumbnail_url": "https://x.test/" + "u" * 3000},
            {"name": "ok", "thumbnail_url": "javascript:alert(1)"},
            {"name": "ok", "thumbnail_url": "//evil.test/a.png"},
            {"name": "ok", "metadata": "x"},
            {"name": "ok", "unknown": 1},
            {"name": "ok", "output_inventory_item_id": "i" * 65},
        ],
    )
    def test_is_422(self, admin: TestClient, body: dict[str, Any]) -> None:
        assert_problem(admin.post("/admin/designs", json=body), 422, "validation_error")

    def test_body_not_an_object_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.post("/admin/designs", json=["name"]), 422)

    def test_nothing_is_stored(self, admin: TestClient) -> None:
        admin.post("/admin/designs", json={"name": "x" * 10_000})
        assert admin.get("/admin/designs").json()["count"] == 0


class TestGetDesign:
    def test_unknown_id_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/designs/design_nope"), 404, "design_not_found")

    def test_oversized_id_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get(f"/admin/designs/{'d' * 65}"), 422)

    def test_nul_in_id_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/designs/design_%00"), 422)

    def test_includes_bom_and_linked_partners(
        self, admin: TestClient, client: TestClient, make_item: MakeItem, db: Any
    ) -> None:
        from atelier.catalog import service

        item_id = make_item(sku="TWILL-1", title="Twill", unit="m")
        design = create_design(admin)
        admin.post(
            f"/admin/designs/{design['id']}/inventory",
            json={"items": [{"inventory_item_id": item_id, "planned_quantity": 2.5}]},
        )
        partner = create_partner(admin, client, name="Kalamkari Works")
        with db.session() as session:
            assert service.link_partner(session, design["id"], partner.id)
        fetched = admin.get(f"/admin/designs/{design['id']}").json()["design"]
        [line] = fetched["bom"]
        assert line["inventory_item_id"] == item_id
        assert (line["sku"], line["title"], line["unit_of_measure"]) == ("TWILL-1", "Twill", "m")
        assert line["planned_quantity"] == 2.5
        assert fetched["partners"] == [
            {"id": partner.id, "name": "Kalamkari Works", "handle": partner.handle}
        ]


class TestListDesigns:
    def test_envelope_and_newest_first(self, admin: TestClient) -> None:
        first = create_design(admin, name="First")
        second = create_design(admin, name="Second")
        body = admin.get("/admin/designs").json()
        assert (body["count"], body["limit"], body["offset"]) == (2, 50, 0)
        assert [d["id"] for d in body["designs"]] == [second["id"], first["id"]]
        assert "bom" not in body["designs"][0]

    def test_filter_by_status(self, admin: TestClient) -> None:
        create_design(admin, status="Approved")
        create_design(admin)
        body = admin.get("/admin/designs", params={"status": "Approved"}).json()
        assert body["count"] == 1
        assert body["designs"][0]["status"] == "Approved"

    def test_filter_by_linked_partner(self, admin: TestClient, client: TestClient, db: Any) -> None:
        from atelier.catalog import service

        linked, other = create_design(admin), create_design(admin)
        partner = create_partner(admin, client)
        with db.session() as session:
            service.link_partner(session, linked["id"], partner.id)
            designs, count = service.partner_designs(session, partner.id)
            assert (count, [d.id for d in designs]) == (1, [linked["id"]])
        body = admin.get("/admin/designs", params={"partner_id": partner.id}).json()
        assert [d["id"] for d in body["designs"]] == [linked["id"]]
        assert other["id"] not in {d["id"] for d in body["designs"]}
        empty = admin.get("/admin/designs", params={"partner_id": "partner_nope"}).json()
        assert empty["count"] == 0

    def test_search_name_case_insensitive(self, admin: TestClient) -> None:
        create_design(admin, name="Indigo Kurta")
        create_design(admin, name="Madder Dress")
        body = admin.get("/admin/designs", params={"q": "kURT"}).json()
        assert [d["name"] for d in body["designs"]] == ["Indigo Kurta"]

    def test_search_wildcards_are_literal(self, admin: TestClient) -> None:
        create_design(admin, name="100% cotton")
        create_design(admin, name="1000 cotton")
        create_design(admin, name="a_b")
        create_design(admin, name="axb")
        assert admin.get("/admin/designs", params={"q": "0%"}).json()["count"] == 1
        assert admin.get("/admin/designs", params={"q": "a_"}).json()["count"] == 1

    def test_pagination(self, admin: TestClient) -> None:
        ids = [create_design(admin)["id"] for _ in range(5)]
        body = admin.get("/admin/designs", params={"limit": 2, "offset": 2}).json()
        assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == 2
        assert [d["id"] for d in body["designs"]] == list(reversed(ids))[2:4]

    def test_sort_by_name(self, admin: TestClient) -> None:
        for name in ("b", "c", "a"):
            create_design(admin, name=name)
        body = admin.get("/admin/designs", params={"sort": "name"}).json()
        assert [d["name"] for d in body["designs"]] == ["a", "b", "c"]
        body = admin.get("/admin/designs", params={"sort": "-name"}).json()
        assert [d["name"] for d in body["designs"]] == ["c", "b", "a"]

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 501},
            {"limit": "ten"},
            {"offset": -1},
            {"offset": 10_000_001},
            {"status": "Shipped"},
            {"sort": "colour"},
            {"q": "x" * 201},
            {"q": "a\x00b"},
            {"partner_id": "p" * 65},
        ],
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, Any]) -> None:
        assert_problem(admin.get("/admin/designs", params=params), 422, "validation_error")


class TestUpdateDesign:
    def test_partial_update_keeps_other_fields(self, admin: TestClient) -> None:
        design = create_design(admin, name="Old", colors=["red"], description="keep")
        response = admin.post(
            f"/admin/designs/{design['id']}", json={"name": "New", "status": "Revision"}
        )
        assert response.status_code == 200, response.text
        updated = response.json()["design"]
        assert (updated["name"], updated["status"]) == ("New", "Revision")
        assert updated["colors"] == ["red"] and updated["description"] == "keep"

    def test_null_clears_optional_fields(self, admin: TestClient) -> None:
        design = create_design(
            admin, description="d", colors=["red"], thumbnail_url="https://x.test/a.png"
        )
        updated = admin.post(
            f"/admin/designs/{design['id']}",
            json={"description": None, "colors": None, "thumbnail_url": None, "metadata": None},
        ).json()["design"]
        assert updated["description"] is None and updated["thumbnail_url"] is None
        assert updated["colors"] == [] and updated["metadata"] == {}

    def test_empty_body_changes_nothing(self, admin: TestClient) -> None:
        design = create_design(admin, name="Same")
        updated = admin.post(f"/admin/designs/{design['id']}", json={}).json()["design"]
        assert updated["name"] == "Same"

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "Shipped"},
            {"status": None},
            {"name": None},
            {"name": ""},
            {"name": "n" * 10_000},
            {"name": "a\x00"},
            {"colors": "red"},
            {"thumbnail_url": "data:text/html,hi"},
            {"id": "design_other"},
            {"created_at": "2020-01-01T00:00:00Z"},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, Any]) -> None:
        design = create_design(admin, name="Unchanged")
        assert_problem(admin.post(f"/admin/designs/{design['id']}", json=body), 422)
        assert admin.get(f"/admin/designs/{design['id']}").json()["design"]["name"] == "Unchanged"

    def test_unknown_design_is_404(self, admin: TestClient) -> None:
        response = admin.post("/admin/designs/design_nope", json={"name": "x"})
        assert_problem(response, 404, "design_not_found")

    def test_unknown_output_item_is_404(self, admin: TestClient) -> None:
        design = create_design(admin)
        response = admin.post(
            f"/admin/designs/{design['id']}", json={"output_inventory_item_id": "iitem_nope"}
        )
        assert_problem(response, 404, "inventory_item_not_found")


ADMIN_DESIGN_ROUTES = [
    ("GET", "/admin/designs", None),
    ("POST", "/admin/designs", {"name": "x"}),
    ("GET", "/admin/designs/design_x", None),
    ("POST", "/admin/designs/design_x", {"name": "x"}),
    (
        "POST",
        "/admin/designs/design_x/inventory",
        {"items": [{"inventory_item_id": "i", "planned_quantity": 1}]},
    ),
    ("DELETE", "/admin/designs/design_x/inventory/iitem_x", None),
    ("GET", "/admin/products", None),
    ("POST", "/admin/products", {"title": "x"}),
    ("GET", "/admin/products/product_x", None),
]


class TestCatalogAuth:
    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_DESIGN_ROUTES)
    def test_anonymous_is_401(
        self, client: TestClient, method: str, path: str, body: dict[str, Any] | None
    ) -> None:
        response = client.request(method, path, json=body)
        assert_problem(response, 401, "not_authenticated")

    @pytest.mark.parametrize(("method", "path", "body"), ADMIN_DESIGN_ROUTES)
    def test_partner_token_is_403(
        self,
        admin: TestClient,
        client: TestClient,
        method: str,
        path: str,
        body: dict[str, Any] | None,
    ) -> None:
        partner = create_partner(admin, client)
        response = client.request(method, path, json=body, headers=partner.headers)
        assert_problem(response, 403, "admin_only")
