from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.conftest import MakeItem
from tests.conftest import assert_problem
from tests.factories.catalog import create_design


def _bom(admin: TestClient, design_id: str, *lines: tuple[str, Any]) -> Any:
    items = [{"inventory_item_id": i, "planned_quantity": q} for i, q in lines]
    return admin.post(f"/admin/designs/{design_id}/inventory", json={"items": items})


class TestUpsertBom:
    def test_adds_lines_in_order(self, admin: TestClient, make_item: MakeItem) -> None:
        fabric, thread = make_item(sku="FAB"), make_item(sku="THR", unit="spool")
        design = create_design(admin)
        response = _bom(admin, design["id"], (fabric, 2.5), (thread, 1))
        assert response.status_code == 200, response.text
        bom = response.json()["design"]["bom"]
        assert [(b["sku"], b["planned_quantity"]) for b in bom] == [("FAB", 2.5), ("THR", 1.0)]
        assert bom[1]["unit_of_measure"] == "spool"

    def test_existing_line_is_updated_not_duplicated(
        self, admin: TestClient, make_item: MakeItem
    ) -> None:
        fabric, thread = make_item(), make_item()
        design = create_design(admin)
        _bom(admin, design["id"], (fabric, 2))
        bom = _bom(admin, design["id"], (fabric, 3.25), (thread, 4)).json()["design"]["bom"]
        assert [(b["inventory_item_id"], b["planned_quantity"]) for b in bom] == [
            (fabric, 3.25),
            (thread, 4),
        ]

    def test_unknown_item_is_404_naming_it_and_nothing_written(
        self, admin: TestClient, make_item: MakeItem
    ) -> None:
        fabric = make_item()
        design = create_design(admin)
        response = _bom(admin, design["id"], (fabric, 2), ("iitem_ghost", 1))
        body = assert_problem(response, 404, "inventory_item_not_found")
        assert "iitem_ghost" in body["detail"]
        assert body["missing_inventory_item_ids"] == ["iitem_ghost"]
        assert admin.get(f"/admin/designs/{design['id']}").json()["design"]["bom"] == []

    def test_unknown_design_is_404(self, admin: TestClient, make_item: MakeItem) -> None:
        response = _bom(admin, "design_nope", (make_item(), 1))
        assert_problem(response, 404, "design_not_found")

    def test_duplicate_items_in_one_request_are_422(
        self, admin: TestClient, make_item: MakeItem
    ) -> None:
        fabric = make_item()
        design = create_design(admin)
        assert_problem(_bom(admin, design["id"], (fabric, 1), (fabric, 2)), 422)
        assert admin.get(f"/admin/designs/{design['id']}").json()["design"]["bom"] == []

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"items": []},
            {"items": "x"},
            {"items": [{"inventory_item_id": "iitem_1"}]},
            {"items": [{"planned_quantity": 1}]},
            {"items": [{"inventory_item_id": "iitem_1", "planned_quantity": 0}]},
            {"items": [{"inventory_item_id": "iitem_1", "planned_quantity": -1}]},
            {"items": [{"inventory_item_id": "iitem_1", "planned_quantity": "two"}]},
            {"items": [{"inventory_item_id": "iitem_1", "planned_quantity": 1e12}]},
            {"items": [{"inventory_item_id": "i" * 65, "planned_quantity": 1}]},
            {"items": [{"inventory_item_id": "a\x00", "planned_quantity": 1}]},
            {"items": [{"inventory_item_id": "iitem_1", "planned_quantity": 1, "x": 1}]},
            {"items": [{"inventory_item_id": f"i{n}", "planned_quantity": 1} for n in range(201)]},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, Any]) -> None:
        design = create_design(admin)
        response = admin.post(f"/admin/designs/{design['id']}/inventory", json=body)
        assert_problem(response, 422, "validation_error")

    def test_non_finite_quantity_is_422(self, admin: TestClient) -> None:
        design = create_design(admin)
        raw = b'{"items": [{"inventory_item_id": "iitem_1", "planned_quantity": NaN}]}'
        response = admin.post(
            f"/admin/designs/{design['id']}/inventory",
            content=raw,
            headers={"content-type": "application/json"},
        )
        assert_problem(response, 422)

    def test_concurrent_upserts_of_the_same_item_keep_one_line(
        self, admin: TestClient, make_item: MakeItem
    ) -> None:
        fabric = make_item()
        design = create_design(admin)
        barrier = threading.Barrier(4)
        statuses: list[int] = []

        def upsert(quantity: int) -> None:
            barrier.wait()
            statuses.append(_bom(admin, design["id"], (fabric, quantity)).status_code)

        threads = [threading.Thread(target=upsert, args=(q,)) for q in (1, 2, 3, 4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200, 200, 200, 200]
        bom = admin.get(f"/admin/designs/{design['id']}").json()["design"]["bom"]
        assert len(bom) == 1 and bom[0]["planned_quantity"] in {1, 2, 3, 4}


class TestRemoveBomLine:
    def test_removes_the_line(self, admin: TestClient, make_item: MakeItem) -> None:
        fabric, thread = make_item(), make_item()
        design = create_design(admin)
        _bom(admin, design["id"], (fabric, 1), (thread, 2))
        response = admin.delete(f"/admin/designs/{design['id']}/inventory/{fabric}")
        assert response.status_code == 200, response.text
        bom = response.json()["design"]["bom"]
        assert [b["inventory_item_id"] for b in bom] == [thread]

    def test_missing_line_is_404(self, admin: TestClient, make_item: MakeItem) -> None:
        design = create_design(admin)
        response = admin.delete(f"/admin/designs/{design['id']}/inventory/{make_item()}")
        assert_problem(response, 404, "bom_line_not_found")

    def test_unknown_design_is_404(self, admin: TestClient) -> None:
        response = admin.delete("/admin/designs/design_nope/inventory/iitem_x")
        assert_problem(response, 404, "design_not_found")

    def test_oversized_item_id_is_422(self, admin: TestClient) -> None:
        design = create_design(admin)
        response = admin.delete(f"/admin/designs/{design['id']}/inventory/{'i' * 65}")
        assert_problem(response, 422)
