"""/admin/task-templates: CRUD, categories, filters, guards."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.tasks import create_template, dispatched_run, run_tasks


class TestCreate:
    def test_creates_with_new_category_and_subtasks(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/task-templates",
            json={
                "name": "Cutting",
                "description": "Cut the panels",
                "category": "Cut & sew",
                "priority": "high",
                "estimated_duration": 90,
                "cost": "12.50",
                "subtasks": [{"title": "Mark"}, {"title": "Cut", "description": "sharp"}],
            },
        )
        assert response.status_code == 201, response.text
        template = response.json()["task_template"]
        assert template["id"].startswith("ttpl_")
        assert template["name"] == "Cutting"
        assert template["priority"] == "high"
        assert template["cost"] == "12.50"
        assert template["category"]["name"] == "Cut & sew"
        assert template["category"]["id"].startswith("tcat_")
        assert template["category_id"] == template["category"]["id"]
        assert [s["title"] for s in template["subtasks"]] == ["Mark", "Cut"]

    def test_defaults(self, admin: TestClient) -> None:
        template = create_template(admin, "Press")
        assert template["priority"] == "medium"
        assert template["category"] is None
        assert template["subtasks"] == []

    def test_reuses_category_by_name(self, admin: TestClient) -> None:
        first = create_template(admin, "A", category="Finishing")
        second = create_template(admin, "B", category="finishing")
        assert first["category"]["id"] == second["category"]["id"]

    def test_references_category_by_id(self, admin: TestClient) -> None:
        category = admin.post("/admin/task-templates/categories", json={"name": "QA"}).json()
        template = create_template(admin, "Inspect", category_id=category["category"]["id"])
        assert template["category"]["name"] == "QA"

    def test_unknown_category_id_is_404(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/task-templates", json={"name": "X", "category_id": "tcat_nope"}
        )
        assert_problem(response, 404, "task_category_not_found")
        assert admin.get("/admin/task-templates").json()["count"] == 0

    def test_category_and_category_id_together_is_422(self, admin: TestClient) -> None:
        response = admin.post(
            "/admin/task-templates", json={"name": "X", "category": "A", "category_id": "tcat_1"}
        )
        assert_problem(response, 422)

    def test_duplicate_name_is_409(self, admin: TestClient) -> None:
        create_template(admin, "Cutting")
        assert_problem(
            admin.post("/admin/task-templates", json={"name": "Cutting"}),
            409,
            "template_name_taken",
        )
        assert_problem(
            admin.post("/admin/task-templates", json={"name": "  cutting "}),
            409,
            "template_name_taken",
        )

    def test_bad_input_is_422(self, admin: TestClient) -> None:
        for body in (
            {},
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 201},
            {"name": "X", "priority": "whenever"},
            {"name": "X", "estimated_duration": -1},
            {"name": "X", "subtasks": [{"title": ""}]},
            {"name": "X", "subtasks": [{"title": f"s{i}"} for i in range(51)]},
            {"name": "X", "unknown": 1},
            {"name": "X", "cost": "-1"},
        ):
            assert_problem(admin.post("/admin/task-templates", json=body), 422)

    def test_partner_and_anonymous_are_refused(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        response = client.post("/admin/task-templates", json={"name": "X"}, headers=partner.headers)
        assert_problem(response, 403)
        assert_problem(client.post("/admin/task-templates", json={"name": "X"}), 401)
        assert_problem(client.get("/admin/task-templates"), 401)


class TestReadUpdateDelete:
    def test_get_and_unknown_is_404(self, admin: TestClient) -> None:
        template = create_template(admin, "Cutting", category="Cut")
        body = admin.get(f"/admin/task-templates/{template['id']}").json()
        assert body["task_template"]["category"]["name"] == "Cut"
        assert_problem(admin.get("/admin/task-templates/ttpl_nope"), 404, "task_template_not_found")
        assert_problem(
            admin.put("/admin/task-templates/ttpl_nope", json={"name": "Y"}),
            404,
            "task_template_not_found",
        )
        assert_problem(admin.delete("/admin/task-templates/ttpl_nope"), 404)

    def test_update_fields_and_category(self, admin: TestClient) -> None:
        template = create_template(admin, "Cutting", category="Cut")
        response = admin.put(
            f"/admin/task-templates/{template['id']}",
            json={"name": "Cutting v2", "priority": "urgent", "category": "Prep", "subtasks": []},
        )
        assert response.status_code == 200, response.text
        updated = response.json()["task_template"]
        assert updated["name"] == "Cutting v2"
        assert updated["priority"] == "urgent"
        assert updated["category"]["name"] == "Prep"
        # Fields not sent stay as they were.
        cleared = admin.put(f"/admin/task-templates/{template['id']}", json={"category": None})
        assert cleared.json()["task_template"]["category"] is None
        assert cleared.json()["task_template"]["priority"] == "urgent"

    def test_rename_to_taken_name_is_409(self, admin: TestClient) -> None:
        create_template(admin, "A")
        b = create_template(admin, "B")
        response = admin.put(f"/admin/task-templates/{b['id']}", json={"name": "a"})
        assert_problem(response, 409, "template_name_taken")

    def test_delete_keeps_tasks(self, admin: TestClient, client: TestClient) -> None:
        template = create_template(admin, "Cutting", subtasks=["Mark"])
        partner = catalog.create_partner(admin, client)
        design = catalog.create_design(admin)
        run = dispatched_run(admin, partner=partner, design_id=design["id"], templates=["Cutting"])
        response = admin.delete(f"/admin/task-templates/{template['id']}")
        assert response.status_code == 200
        assert response.json()["deleted"] is True
        assert_problem(admin.get(f"/admin/task-templates/{template['id']}"), 404)
        tasks = run_tasks(admin, run["id"])
        assert [t["title"] for t in tasks] == ["Cutting"]
        assert tasks[0]["template_id"] is None
        assert tasks[0]["subtasks"][0]["template_id"] is None


class TestList:
    def test_filters_and_pagination(self, admin: TestClient) -> None:
        create_template(admin, "Cutting", category="Cut & sew", priority="high")
        create_template(admin, "Stitching", category="Cut & sew")
        create_template(admin, "Pressing", category="Finishing", priority="high")
        create_template(admin, "Packing")

        def names(**params: object) -> list[str]:
            body = admin.get("/admin/task-templates", params=params).json()
            return [t["name"] for t in body["task_templates"]]

        assert names() == ["Cutting", "Packing", "Pressing", "Stitching"]
        assert names(name="ing") == ["Cutting", "Packing", "Pressing", "Stitching"]
        assert names(name="STITCH") == ["Stitching"]
        assert names(priority="high") == ["Cutting", "Pressing"]
        assert names(category_name="cut & sew") == ["Cutting", "Stitching"]
        assert names(category_name="Finishing", priority="high") == ["Pressing"]
        assert names(category_name="nothing") == []
        page = admin.get("/admin/task-templates", params={"limit": 2, "offset": 1}).json()
        assert page["count"] == 4
        assert (page["limit"], page["offset"]) == (2, 1)
        assert [t["name"] for t in page["task_templates"]] == ["Packing", "Pressing"]
        assert page["task_templates"][0]["category"] is None
        assert page["task_templates"][1]["category"]["name"] == "Finishing"

    def test_bad_query_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/task-templates", params={"limit": 0}), 422)
        assert_problem(admin.get("/admin/task-templates", params={"limit": 501}), 422)
        assert_problem(admin.get("/admin/task-templates", params={"offset": -1}), 422)
        assert_problem(admin.get("/admin/task-templates", params={"priority": "x"}), 422)


class TestCategories:
    def test_list_and_create(self, admin: TestClient) -> None:
        create_template(admin, "Cutting", category="Cut")
        response = admin.post(
            "/admin/task-templates/categories", json={"name": "QA", "description": "checks"}
        )
        assert response.status_code == 201
        assert response.json()["category"]["description"] == "checks"
        body = admin.get("/admin/task-templates/categories").json()
        assert body["count"] == 2
        assert [c["name"] for c in body["categories"]] == ["Cut", "QA"]

    def test_duplicate_category_is_409(self, admin: TestClient) -> None:
        admin.post("/admin/task-templates/categories", json={"name": "QA"})
        response = admin.post("/admin/task-templates/categories", json={"name": "qa"})
        assert_problem(response, 409, "category_name_taken")

    def test_blank_category_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.post("/admin/task-templates/categories", json={"name": " "}), 422)
