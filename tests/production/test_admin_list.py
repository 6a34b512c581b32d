"""GET /admin/production-runs (filters, search, sort, pagination), CSV export, edits, audit."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog, orders
from tests.factories.runs import approve, create_run, get_run
from tests.factories.tasks import dispatched_run


def _list(admin: TestClient, **params: Any) -> dict[str, Any]:
    response = admin.get("/admin/production-runs", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["production_runs"]]


@pytest.fixture
def world(admin: TestClient, client: TestClient) -> dict[str, Any]:
    """Two designs, two partners, a few runs in different states."""
    kurta = catalog.create_design(admin, name="Indigo Kurta")
    saree = catalog.create_design(admin, name="Silk Saree")
    loom = catalog.create_partner(admin, client, name="Loom House", handle="loom-house")
    needle = catalog.create_partner(admin, client, name="Needle Works", handle="needle")
    runs = {
        "kurta_loom": create_run(admin, design_id=kurta["id"], partner_id=loom.id, quantity=5),
        "kurta_none": create_run(admin, design_id=kurta["id"], quantity=20),
        "saree_needle": create_run(
            admin, design_id=saree["id"], partner_id=needle.id, quantity=1, run_type="sample"
        ),
    }
    approve(admin, runs["kurta_loom"]["id"])
    split = approve(
        admin,
        runs["kurta_none"]["id"],
        assignments=[
            {"partner_id": loom.id, "quantity": 10},
            {"partner_id": needle.id, "quantity": 10},
        ],
    )
    return {
        "kurta": kurta,
        "saree": saree,
        "loom": loom,
        "needle": needle,
        "runs": runs,
        "children": split["children"],
    }


class TestListFilters:
    def test_children_are_excluded_by_default(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        body = _list(admin)
        assert body["count"] == 3
        assert (body["limit"], body["offset"]) == (50, 0)
        row = next(
            r for r in body["production_runs"] if r["id"] == world["runs"]["kurta_loom"]["id"]
        )
        assert row["design_name"] == "Indigo Kurta"
        assert row["partner_name"] == "Loom House"
        assert row["partner_handle"] == "loom-house"

    def test_parent_run_id_lists_children(self, admin: TestClient, world: dict[str, Any]) -> None:
        parent_id = world["runs"]["kurta_none"]["id"]
        body = _list(admin, parent_run_id=parent_id)
        assert sorted(_ids(body)) == sorted(c["id"] for c in world["children"])

    def test_include_children(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _list(admin, include_children="true")["count"] == 5

    def test_status_repeatable_and_comma_list(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        assert _list(admin, status="pending_review")["count"] == 1
        assert _list(admin, status="approved,pending_review")["count"] == 3
        response = admin.get(
            "/admin/production-runs", params=[("status", "approved"), ("status", "pending_review")]
        )
        assert response.json()["count"] == 3

    def test_unknown_status_is_422(self, admin: TestClient, world: dict[str, Any]) -> None:
        body = assert_problem(admin.get("/admin/production-runs?status=lost"), 422)
        assert "lost" in body["detail"]

    def test_partner_design_type_filters(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _ids(_list(admin, partner_id=world["needle"].id)) == [
            world["runs"]["saree_needle"]["id"]
        ]
        assert _list(admin, design_id=world["kurta"]["id"])["count"] == 2
        assert _list(admin, run_type="sample")["count"] == 1
        assert _list(admin, partner_id=world["loom"].id, include_children="true")["count"] == 2
        assert_problem(admin.get("/admin/production-runs?run_type=bulk"), 422)

    def test_order_filter(self, admin: TestClient, world: dict[str, Any]) -> None:
        product = catalog.create_product(admin)
        order = orders.create_order(admin, items=[{"product_id": product["id"], "quantity": 1}])
        run = create_run(admin, design_id=world["saree"]["id"], order_id=order["id"])
        assert _ids(_list(admin, order_id=order["id"])) == [run["id"]]


class TestSearch:
    def test_design_name_case_insensitive(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _list(admin, q="indigo")["count"] == 2
        assert _list(admin, q="SILK")["count"] == 1

    def test_partner_name_and_handle(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _ids(_list(admin, q="needle works")) == [world["runs"]["saree_needle"]["id"]]
        assert _ids(_list(admin, q="loom-h")) == [world["runs"]["kurta_loom"]["id"]]

    def test_run_id(self, admin: TestClient, world: dict[str, Any]) -> None:
        run_id = world["runs"]["kurta_loom"]["id"]
        assert _ids(_list(admin, q=run_id.lower())) == [run_id]
        assert _ids(_list(admin, q=run_id[-8:])) == [run_id]

    def test_q_is_anded_with_filters(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _list(admin, q="kurta", status="pending_review")["count"] == 0
        assert _list(admin, q="kurta", status="approved")["count"] == 2

    def test_blank_q_is_ignored(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _list(admin, q="   ")["count"] == 3

    def test_wildcards_are_literal(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _list(admin, q="%")["count"] == 0
        assert _list(admin, q="_")["count"] == 3  # every run id has an underscore

    def test_long_q_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/production-runs", params={"q": "x" * 201}), 422)


class TestSortAndPage:
    def test_sort_by_quantity(self, admin: TestClient, world: dict[str, Any]) -> None:
        quantities = [r["quantity"] for r in _list(admin, sort="quantity")["production_runs"]]
        assert quantities == sorted(quantities)
        quantities = [r["quantity"] for r in _list(admin, sort="-quantity")["production_runs"]]
        assert quantities == sorted(quantities, reverse=True)

    def test_default_is_newest_first(self, admin: TestClient, world: dict[str, Any]) -> None:
        ids = _ids(_list(admin))
        assert ids == sorted(ids, reverse=True)  # ULIDs sort by creation (same frozen instant)

    def test_pagination(self, admin: TestClient, world: dict[str, Any]) -> None:
        everything = _ids(_list(admin, sort="created_at"))
        page = _list(admin, sort="created_at", limit=2, offset=1)
        assert page["count"] == 3
        assert _ids(page) == everything[1:3]

    def test_bad_params_are_422(self, admin: TestClient) -> None:
        for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"sort": "partner"}):
            assert_problem(admin.get("/admin/production-runs", params=params), 422)


class TestExport:
    def test_csv_has_header_and_filtered_rows(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        response = admin.get("/admin/production-runs/export.csv", params={"q": "kurta"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert {r["id"] for r in rows} == {
            world["runs"]["kurta_loom"]["id"],
            world["runs"]["kurta_none"]["id"],
        }
        assert {r["design_name"] for r in rows} == {"Indigo Kurta"}

    def test_formula_cells_are_neutralised(self, admin: TestClient) -> None:
        design = catalog.create_design(admin, name="=HYPERLINK(evil)")
        create_run(admin, design_id=design["id"])
        text = admin.get("/admin/production-runs/export.csv").text
        assert "'=HYPERLINK(evil)" in text

    def test_empty_export_is_just_the_header(self, admin: TestClient) -> None:
        lines = admin.get("/admin/production-runs/export.csv").text.strip().splitlines()
        assert lines[0].startswith("id,status,run_type")
        assert len(lines) == 1

    def test_needs_admin(self, client: TestClient) -> None:
        assert_problem(client.get("/admin/production-runs/export.csv"), 401)


class TestEdit:
    def test_edit_before_acceptance(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"], quantity=4, metadata={"a": 1, "b": 2})
        response = admin.post(
            f"/admin/production-runs/{run['id']}",
            json={
                "quantity": 6,
                "role": "embroidery",
                "run_type": "sample",
                "metadata": {"b": None, "c": 3},
                "partner_cost_estimate": "125.50",
                "cost_type": "per_piece",
            },
        )
        assert response.status_code == 200, response.text
        edited = response.json()["production_run"]
        assert (edited["quantity"], edited["role"], edited["run_type"]) == (
            6,
            "embroidery",
            "sample",
        )
        assert edited["metadata"] == {"a": 1, "c": 3}
        assert (
            edited["partner_cost_estimate"] == "125.5000"
            or edited["partner_cost_estimate"] == "125.50"
        )
        event = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"][0]
        assert event["kind"] == "updated"
        assert event["data"]["before"]["quantity"] == 4
        assert event["data"]["after"]["quantity"] == 6

    def test_structural_edit_after_acceptance_is_409(
        self, admin: TestClient, client: TestClient
    ) -> None:
        design = catalog.create_design(admin)
        partner = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        assert admin.post(f"/admin/production-runs/{run['id']}/accept", json={}).status_code == 200
        url = f"/admin/production-runs/{run['id']}"
        body = assert_problem(admin.post(url, json={"quantity": 99}), 409, "already_accepted")
        assert "accepted" in body["detail"]
        ok = admin.post(url, json={"metadata": {"note": "fine"}, "partner_cost_estimate": "10"})
        assert ok.status_code == 200, ok.text

    def test_no_edits_on_terminal_runs(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        admin.post(f"/admin/production-runs/{run['id']}/cancel", json={})
        url = f"/admin/production-runs/{run['id']}"
        assert_problem(admin.post(url, json={"metadata": {"x": 1}}), 409, "run_terminal")
        assert_problem(admin.post(url, json={"quantity": 2}), 409, "run_terminal")

    def test_invalid_edits_are_422(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        url = f"/admin/production-runs/{run['id']}"
        for body in (
            {"quantity": None},
            {"quantity": -1},
            {"status": "completed"},
            {"partner_cost_estimate": "-1"},
            {"cost_type": "bribe"},
        ):
            assert_problem(admin.post(url, json=body), 422)


class TestAudit:
    def test_notes_and_events_newest_first(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        response = admin.post(
            f"/admin/production-runs/{run['id']}/notes", json={"note": "call them"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["event"]["kind"] == "note"
        approve(admin, run["id"])
        events = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        assert [e["kind"] for e in events] == ["approved", "note", "created"]
        note = events[1]
        assert note["data"] == {"note": "call them"}
        assert set(note) >= {
            "kind",
            "from_status",
            "to_status",
            "actor_type",
            "actor_id",
            "channel",
            "data",
            "occurred_at",
        }
        assert (note["actor_type"], note["channel"]) == ("admin", "api")

    def test_empty_note_is_422_and_unknown_run_404(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        assert_problem(
            admin.post(f"/admin/production-runs/{run['id']}/notes", json={"note": " "}), 422
        )
        assert_problem(
            admin.post("/admin/production-runs/prod_run_x/notes", json={"note": "x"}), 404
        )
        assert_problem(admin.get("/admin/production-runs/prod_run_x/events"), 404)

    def test_detail_reflects_edit(self, admin: TestClient) -> None:
        design = catalog.create_design(admin)
        run = create_run(admin, design_id=design["id"])
        admin.post(f"/admin/production-runs/{run['id']}", json={"role": "dyeing"})
        assert get_run(admin, run["id"])["role"] == "dyeing"


class TestRunIdMatch:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("prod", "all"),
            ("_run_", "all"),
            ("prod_run_01J", "scan"),
            ("01jab", "scan"),
            ("ABCDEFGH", "scan"),
            ("run_0", "scan"),
            ("saree", "none"),
            ("silk", "none"),
            ("loom house", "none"),
            ("", "none"),
        ],
    )
    def test_classification(self, q: str, expected: str) -> None:
        from atelier.production.repository_search import run_id_match

        assert run_id_match(q) == expected
