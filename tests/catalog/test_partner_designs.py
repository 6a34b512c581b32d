from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem, bearer
from tests.factories import catalog
from tests.factories.catalog import PartnerHandle
from tests.factories.inventory import create_item
from tests.factories.runs import split_run

HIDDEN = {"metadata", "metadata_", "output_inventory_item_id", "partners"}


def _linked_design(admin: TestClient, partner: PartnerHandle, **fields: Any) -> dict[str, Any]:
    design = catalog.create_design(admin, **fields)
    split_run(
        admin, design_id=design["id"], assignments=[{"partner_id": partner.id, "quantity": 5}]
    )
    return design


class TestPartnerDesigns:
    def test_linked_partner_reads_the_design(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        item = create_item(admin)
        design = _linked_design(
            admin,
            partner,
            specifications={"fabric": "cotton"},
            colors=["indigo"],
            sizes=["M", "L"],
            thumbnail_url="https://cdn.example/t.jpg",
            metadata={"internal_cost": 12},
        )
        catalog.set_bom(admin, design["id"], {item["id"]: 2.5})
        response = client.get(f"/partners/designs/{design['id']}", headers=partner.headers)
        assert response.status_code == 200, response.text
        body = response.json()["design"]
        assert body["name"] == design["name"]
        assert body["specifications"] == {"fabric": "cotton"}
        assert body["colors"] == ["indigo"] and body["sizes"] == ["M", "L"]
        assert body["thumbnail_url"] == "https://cdn.example/t.jpg"
        assert [(b["inventory_item_id"], b["planned_quantity"]) for b in body["bom"]] == [
            (item["id"], 2.5)
        ]
        assert not HIDDEN & set(body)

    def test_list_shows_only_linked_designs(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        mine = [_linked_design(admin, partner, name=f"Kurta {n}") for n in range(3)]
        catalog.create_design(admin, name="Kurta unlinked")
        other = catalog.create_partner(admin, client)
        _linked_design(admin, other, name="Kurta theirs")
        body = client.get("/partners/designs", headers=partner.headers).json()
        assert body["count"] == 3
        assert {d["id"] for d in body["designs"]} == {d["id"] for d in mine}
        assert [d["id"] for d in body["designs"]] == [d["id"] for d in reversed(mine)]
        assert all(not HIDDEN & set(d) for d in body["designs"])
        page = client.get(
            "/partners/designs", params={"limit": 1, "offset": 1}, headers=partner.headers
        ).json()
        assert [d["id"] for d in page["designs"]] == [mine[1]["id"]]
        assert (page["count"], page["limit"], page["offset"]) == (3, 1, 1)

    def test_filters(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        _linked_design(admin, partner, name="Block print kurta")
        approved = _linked_design(admin, partner, name="Linen shirt", status="Approved")
        by_status = client.get(
            "/partners/designs", params={"status": "Approved"}, headers=partner.headers
        ).json()
        assert [d["id"] for d in by_status["designs"]] == [approved["id"]]
        by_q = client.get("/partners/designs", params={"q": "LINEN"}, headers=partner.headers)
        assert [d["id"] for d in by_q.json()["designs"]] == [approved["id"]]
        wild = client.get("/partners/designs", params={"q": "%"}, headers=partner.headers)
        assert wild.json()["count"] == 0


class TestPartnerDesignGuards:
    def test_unlinked_or_unknown_is_404(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        other = catalog.create_partner(admin, client)
        design = _linked_design(admin, other)
        assert_problem(
            client.get(f"/partners/designs/{design['id']}", headers=partner.headers),
            404,
            "design_not_found",
        )
        assert_problem(client.get("/partners/designs/design_nope", headers=partner.headers), 404)

    def test_admin_and_anonymous(
        self, admin: TestClient, client: TestClient, admin_token: str
    ) -> None:
        partner = catalog.create_partner(admin, client)
        design = _linked_design(admin, partner)
        for path in ("/partners/designs", f"/partners/designs/{design['id']}"):
            assert_problem(client.get(path, headers=bearer(admin_token)), 403, "partner_only")
            assert_problem(client.get(path), 401, "not_authenticated")

    @pytest.mark.parametrize(
        "params", [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "Nope"}]
    )
    def test_bad_query_is_422(
        self, admin: TestClient, client: TestClient, params: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        assert_problem(client.get("/partners/designs", params=params, headers=partner.headers), 422)


class TestNoPartnerDesignWrites:
    @pytest.mark.parametrize("action", ["start", "finish", "redo", "refinish", "complete"])
    def test_legacy_actions_do_not_exist(
        self, admin: TestClient, client: TestClient, action: str
    ) -> None:
        partner = catalog.create_partner(admin, client)
        design = _linked_design(admin, partner)
        response = client.post(
            f"/partners/designs/{design['id']}/{action}", json={}, headers=partner.headers
        )
        assert response.status_code in (404, 405)
        assert_problem(response, response.status_code)

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_designs_are_read_only(
        self, admin: TestClient, client: TestClient, method: str
    ) -> None:
        partner = catalog.create_partner(admin, client)
        design = _linked_design(admin, partner)
        for path in ("/partners/designs", f"/partners/designs/{design['id']}"):
            response = client.request(method.upper(), path, json={}, headers=partner.headers)
            assert_problem(response, 405, "method_not_allowed")
