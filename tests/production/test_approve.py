"""Approval, multi-partner splits and POST /admin/designs/:id/production-runs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog, orders
from tests.factories.runs import approve, create_run, get_run, split_run
from tests.factories.tasks import ensure_templates


@pytest.fixture
def design(admin: TestClient) -> dict[str, Any]:
    return catalog.create_design(admin, name="Anarkali", colors=["red"])


def _count(admin: TestClient, **params: Any) -> int:
    count: int = admin.get("/admin/production-runs", params=params).json()["count"]
    return count


class TestApproveWithoutAssignments:
    def test_pending_run_is_approved(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"], quantity=5)
        body = approve(admin, run["id"])
        assert body["production_run"]["status"] == "approved"
        assert body["children"] == []
        assert body["dispatch"]["deferred_for_ordering"] is False
        events = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        assert events[0]["kind"] == "approved"
        assert (events[0]["from_status"], events[0]["to_status"]) == ("pending_review", "approved")

    def test_twice_is_409_already_approved(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"])
        approve(admin, run["id"])
        response = admin.post(f"/admin/production-runs/{run['id']}/approve", json={})
        body = assert_problem(response, 409, "already_approved")
        assert "already approved" in body["detail"]

    def test_without_body(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"])
        response = admin.post(f"/admin/production-runs/{run['id']}/approve")
        assert response.status_code == 200, response.text

    def test_cancelled_run_cannot_be_approved(
        self, admin: TestClient, design: dict[str, Any]
    ) -> None:
        run = create_run(admin, design_id=design["id"])
        admin.post(f"/admin/production-runs/{run['id']}/cancel", json={})
        response = admin.post(f"/admin/production-runs/{run['id']}/approve", json={})
        body = assert_problem(response, 409, "run_terminal")
        assert "cancelled" in body["detail"]

    def test_awaiting_reassignment_cannot_be_approved(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], partner_id=partner.id)
        approve(admin, run["id"])
        declined = client.post(
            f"/partners/production-runs/{run['id']}/decline",
            json={"reason": "capacity"},
            headers=partner.headers,
        )
        assert declined.status_code == 200, declined.text
        response = admin.post(f"/admin/production-runs/{run['id']}/approve", json={})
        body = assert_problem(response, 409, "invalid_status")
        assert "awaiting_reassignment" in body["detail"]

    def test_with_template_intent_dispatches(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        ensure_templates(admin, ["Cutting"])
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], partner_id=partner.id, quantity=3)
        body = approve(admin, run["id"], template_names=["Cutting"])
        assert body["dispatch"]["dispatched"] == [run["id"]]
        assert get_run(admin, run["id"])["status"] == "sent_to_partner"

    def test_intent_without_partner_is_skipped(
        self, admin: TestClient, design: dict[str, Any]
    ) -> None:
        run = create_run(admin, design_id=design["id"])
        body = approve(admin, run["id"], template_names=["Cutting"])
        assert body["production_run"]["status"] == "approved"
        assert body["dispatch"]["skipped"] == [
            {"production_run_id": run["id"], "reason": "no partner"}
        ]

    def test_unknown_run_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.post("/admin/production-runs/prod_run_x/approve", json={}), 404)


class TestApproveWithAssignments:
    def test_children_are_approved_with_provenance(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        cutter = catalog.create_partner(admin, client)
        tailor = catalog.create_partner(admin, client)
        product = catalog.create_product(admin, design_id=design["id"])
        order = orders.create_order(admin, items=[{"product_id": product["id"], "quantity": 10}])
        parent = create_run(
            admin,
            design_id=design["id"],
            quantity=10,
            order_id=order["id"],
            order_line_item_id=order["items"][0]["id"],
            product_id=product["id"],
            run_type="production",
        )
        body = approve(
            admin,
            parent["id"],
            assignments=[
                {"partner_id": cutter.id, "role": "cutting", "quantity": 4},
                {"partner_id": tailor.id, "role": "stitching", "quantity": 6},
            ],
        )
        assert body["production_run"]["status"] == "approved"
        children = body["children"]
        assert [(c["partner_id"], c["role"], c["quantity"]) for c in children] == [
            (cutter.id, "cutting", 4),
            (tailor.id, "stitching", 6),
        ]
        for child in children:
            assert child["status"] == "approved"
            assert child["parent_run_id"] == parent["id"]
            assert child["design_id"] == design["id"]
            assert child["order_id"] == order["id"]
            assert child["product_id"] == product["id"]
            assert child["order_line_item_id"] is None  # unique per line: only the parent has it
            assert child["metadata"]["order_line_item_id"] == order["items"][0]["id"]
            assert child["run_type"] == "production"
            assert child["snapshot"]["name"] == "Anarkali"
            assert child["captured_at"]
            assert child["depends_on_run_ids"] == []
        detail = get_run(admin, parent["id"])
        assert [c["id"] for c in detail["children"]] == [c["id"] for c in children]
        assert detail["children"][0]["partner_name"]
        child_detail = get_run(admin, children[0]["id"])
        assert child_detail["parent"]["id"] == parent["id"]

    def test_design_is_linked_to_each_partner_once(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], quantity=4)
        approve(
            admin,
            run["id"],
            assignments=[
                {"partner_id": partner.id, "quantity": 2},
                {"partner_id": partner.id, "quantity": 2, "role": "finishing"},
            ],
        )
        linked = admin.get(f"/admin/designs/{design['id']}").json()["design"]["partners"]
        assert [p["id"] for p in linked] == [partner.id]

    def test_quantities_must_add_up(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], quantity=10)
        response = admin.post(
            f"/admin/production-runs/{run['id']}/approve",
            json={"assignments": [{"partner_id": partner.id, "quantity": 7}]},
        )
        body = assert_problem(response, 422, "assignment_quantity_mismatch")
        assert "7" in body["detail"] and "10" in body["detail"]
        assert get_run(admin, run["id"])["status"] == "pending_review"
        assert _count(admin, include_children="true") == 1
        assert admin.get(f"/admin/designs/{design['id']}").json()["design"]["partners"] == []

    def test_omitted_parent_quantity_becomes_the_sum(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"])
        body = approve(
            admin,
            run["id"],
            assignments=[
                {"partner_id": partner.id, "quantity": 3},
                {"partner_id": partner.id, "quantity": 5},
            ],
        )
        assert body["production_run"]["quantity"] == 8

    def test_unknown_partner_is_404_and_nothing_written(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], quantity=4)
        response = admin.post(
            f"/admin/production-runs/{run['id']}/approve",
            json={
                "assignments": [
                    {"partner_id": partner.id, "quantity": 2},
                    {"partner_id": "partner_ghost", "quantity": 2},
                ]
            },
        )
        assert_problem(response, 404, "partner_not_found")
        assert get_run(admin, run["id"])["status"] == "pending_review"
        assert _count(admin, include_children="true") == 1
        kinds = [
            e["kind"]
            for e in admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        ]
        assert kinds == ["created"]

    def test_order_groups_make_later_children_depend_on_earlier(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        a, b, c = (catalog.create_partner(admin, client) for _ in range(3))
        run = create_run(admin, design_id=design["id"], quantity=9)
        body = approve(
            admin,
            run["id"],
            assignments=[
                {"partner_id": a.id, "quantity": 3, "order": 1},
                {"partner_id": b.id, "quantity": 3, "order": 1},
                {"partner_id": c.id, "quantity": 3, "order": 2},
            ],
        )
        first, second, third = body["children"]
        assert first["depends_on_run_ids"] == []
        assert second["depends_on_run_ids"] == []
        assert sorted(third["depends_on_run_ids"]) == sorted([first["id"], second["id"]])
        assert body["dispatch"]["deferred_for_ordering"] is True
        detail = get_run(admin, third["id"])
        assert sorted(detail["waiting_on"]) == sorted([first["id"], second["id"]])

    def test_children_with_intent_are_dispatched_later_groups_deferred(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        ensure_templates(admin, ["Cutting", "Pressing"])
        a, b = catalog.create_partner(admin, client), catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], quantity=4)
        body = approve(
            admin,
            run["id"],
            assignments=[
                {"partner_id": a.id, "quantity": 2, "order": 1, "template_names": ["Cutting"]},
                {"partner_id": b.id, "quantity": 2, "order": 2, "template_names": ["Pressing"]},
            ],
        )
        first, second = body["children"]
        assert first["dispatch_template_names"] == ["Cutting"]
        assert body["dispatch"]["dispatched"] == [first["id"]]
        assert body["dispatch"]["deferred_for_ordering"] is True
        assert get_run(admin, first["id"])["status"] == "sent_to_partner"
        assert get_run(admin, second["id"])["status"] == "approved"

    def test_failed_dispatch_keeps_the_approval(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        ensure_templates(admin, ["Cutting"])
        a, b = catalog.create_partner(admin, client), catalog.create_partner(admin, client)
        run = create_run(admin, design_id=design["id"], quantity=4)
        body = approve(
            admin,
            run["id"],
            assignments=[
                {"partner_id": a.id, "quantity": 2, "template_names": ["No such template"]},
                {"partner_id": b.id, "quantity": 2, "template_names": ["Cutting"]},
            ],
        )
        bad, good = body["children"]
        assert [f["production_run_id"] for f in body["dispatch"]["failed"]] == [bad["id"]]
        assert "No such template" in body["dispatch"]["failed"][0]["reason"]
        assert body["dispatch"]["dispatched"] == [good["id"]]
        assert get_run(admin, bad["id"])["status"] == "approved"
        assert get_run(admin, run["id"])["status"] == "approved"

    def test_invalid_assignments_are_422(self, admin: TestClient, design: dict[str, Any]) -> None:
        run = create_run(admin, design_id=design["id"])
        url = f"/admin/production-runs/{run['id']}/approve"
        for assignments in (
            [{"partner_id": "p", "quantity": 0}],
            [{"quantity": 1}],
            [{"partner_id": "p", "quantity": 1, "template_names": ["a"], "template_ids": ["b"]}],
            [{"partner_id": "p", "quantity": 1, "order": -1}],
            [{"partner_id": "p", "quantity": 1}] * 51,
        ):
            assert_problem(admin.post(url, json={"assignments": assignments}), 422)


class TestDesignProductionRuns:
    def test_parent_and_children_in_one_call(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        a, b = catalog.create_partner(admin, client), catalog.create_partner(admin, client)
        body = split_run(
            admin,
            design_id=design["id"],
            run_type="sample",
            assignments=[
                {"partner_id": a.id, "quantity": 1, "role": "pattern"},
                {"partner_id": b.id, "quantity": 1, "role": "stitch"},
            ],
        )
        parent = body["production_run"]
        assert parent["status"] == "approved"
        assert parent["quantity"] == 2
        assert parent["run_type"] == "sample"
        assert {c["run_type"] for c in body["children"]} == {"sample"}
        assert set(body["dispatch"]) == {"dispatched", "skipped", "failed", "deferred_for_ordering"}

    def test_without_assignments_creates_a_pending_run(
        self, admin: TestClient, design: dict[str, Any]
    ) -> None:
        response = admin.post(
            f"/admin/designs/{design['id']}/production-runs", json={"quantity": 3}
        )
        assert response.status_code == 201, response.text
        assert response.json()["production_run"]["status"] == "pending_review"
        assert response.json()["children"] == []

    def test_mismatch_writes_nothing(
        self, admin: TestClient, client: TestClient, design: dict[str, Any]
    ) -> None:
        partner = catalog.create_partner(admin, client)
        response = admin.post(
            f"/admin/designs/{design['id']}/production-runs",
            json={"quantity": 5, "assignments": [{"partner_id": partner.id, "quantity": 4}]},
        )
        assert_problem(response, 422, "assignment_quantity_mismatch")
        assert _count(admin, include_children="true") == 0

    def test_unknown_design_is_404(self, admin: TestClient) -> None:
        response = admin.post("/admin/designs/design_x/production-runs", json={})
        assert_problem(response, 404, "design_not_found")
