"""Designs, partners and task templates: list, detail, create and edit through the web forms."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import catalog, tasks
from tests.web.support import post_form

HOSTILE = "<img src=x onerror=alert(1)>"


def _created_id(response: Any, prefix: str) -> str:
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    assert location.startswith(prefix), location
    return location.rsplit("/", 1)[1]


class TestDesigns:
    def test_create_show_edit(self, admin: TestClient, web_admin: TestClient) -> None:
        response = post_form(
            web_admin,
            "/app/designs/new",
            {
                "name": f"Kurta {HOSTILE}",
                "status": "In_Development",
                "description": "A kurta",
                "specifications": "fabric: cotton\ngsm: 120",
                "colors": "indigo, red",
                "sizes": "M, L",
                "thumbnail_url": "",
            },
            page="/app/designs/new",
        )
        design_id = _created_id(response, "/app/designs/")
        design = admin.get(f"/admin/designs/{design_id}").json()["design"]
        assert design["specifications"] == {"fabric": "cotton", "gsm": "120"}
        assert design["colors"] == ["indigo", "red"] and design["status"] == "In_Development"
        page = web_admin.get(f"/app/designs/{design_id}")
        assert page.status_code == 200 and "Design created." in page.text
        assert HOSTILE not in page.text
        form = web_admin.get(f"/app/designs/{design_id}/edit")
        assert "fabric: cotton\ngsm: 120" in form.text
        response = post_form(
            web_admin,
            f"/app/designs/{design_id}/edit",
            {
                "name": "Kurta v2",
                "status": "Approved",
                "specifications": "fabric: silk",
                "colors": "",
                "sizes": "S",
            },
            page=f"/app/designs/{design_id}/edit",
        )
        assert response.status_code == 303
        design = admin.get(f"/admin/designs/{design_id}").json()["design"]
        assert (design["name"], design["status"], design["colors"]) == ("Kurta v2", "Approved", [])

    def test_nested_fields_are_left_alone(self, admin: TestClient, web_admin: TestClient) -> None:
        design = catalog.create_design(
            admin, colors=[{"name": "indigo", "hex": "#123"}], specifications={"a": {"b": 1}}
        )
        form = web_admin.get(f"/app/designs/{design['id']}/edit")
        assert 'name="colors"' not in form.text and 'name="specifications"' not in form.text
        response = post_form(
            web_admin,
            f"/app/designs/{design['id']}/edit",
            {"name": "Renamed", "status": "Conceptual", "sizes": "M"},
            page=f"/app/designs/{design['id']}/edit",
        )
        assert response.status_code == 303
        saved = admin.get(f"/admin/designs/{design['id']}").json()["design"]
        assert saved["colors"] == [{"name": "indigo", "hex": "#123"}]
        assert saved["specifications"] == {"a": {"b": 1}}

    def test_invalid_form_is_refused_with_values_kept(self, web_admin: TestClient) -> None:
        response = post_form(
            web_admin,
            "/app/designs/new",
            {"name": "Shawl", "status": "Conceptual", "thumbnail_url": "not a url"},
            page="/app/designs/new",
        )
        assert response.status_code == 422
        assert 'role="alert"' in response.text and 'value="Shawl"' in response.text

    def test_list_search_and_404(self, admin: TestClient, web_admin: TestClient) -> None:
        catalog.create_design(admin, name="Silk Saree")
        catalog.create_design(admin, name="Cotton Kurta")
        page = web_admin.get("/app/designs?q=saree")
        assert "Silk Saree" in page.text and "Cotton Kurta" not in page.text
        assert web_admin.get("/app/designs/design_nope").status_code == 404


class TestPartners:
    def test_create_show_edit(self, admin: TestClient, web_admin: TestClient) -> None:
        response = post_form(
            web_admin,
            "/app/partners/new",
            {
                "name": "Asha Weaves",
                "handle": "asha-weaves",
                "status": "active",
                "whatsapp_number": "+919800000001",
                "preferred_language": "hi",
                "first_name": "Asha",
                "last_name": "K",
                "user_email": "asha@example.com",
                "password": "asha-pass-123",
            },
            page="/app/partners/new",
        )
        partner_id = _created_id(response, "/app/partners/")
        page = web_admin.get(f"/app/partners/{partner_id}").text
        assert "Asha Weaves" in page and "asha@example.com" in page
        token = admin.post(
            "/auth/partner/token", json={"email": "asha@example.com", "password": "asha-pass-123"}
        )
        assert token.status_code == 200
        response = post_form(
            web_admin,
            f"/app/partners/{partner_id}/edit",
            {"name": "Asha Weaves Co", "status": "inactive", "whatsapp_verified": "1"},
            page=f"/app/partners/{partner_id}/edit",
        )
        assert response.status_code == 303
        partner = admin.get(f"/admin/partners/{partner_id}").json()["partner"]
        assert (partner["name"], partner["status"]) == ("Asha Weaves Co", "inactive")
        assert partner["handle"] == "asha-weaves"

    def test_taken_handle_is_refused_and_the_password_not_echoed(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        existing = catalog.create_partner(admin, client)
        response = post_form(
            web_admin,
            "/app/partners/new",
            {
                "name": "Copy",
                "handle": existing.handle,
                "first_name": "C",
                "user_email": "copy@example.com",
                "password": "secret-password-1",
            },
            page="/app/partners/new",
        )
        assert response.status_code == 409
        assert "secret-password-1" not in response.text
        assert 'value="copy@example.com"' in response.text


class TestTemplates:
    def test_create_show_edit(self, admin: TestClient, web_admin: TestClient) -> None:
        response = post_form(
            web_admin,
            "/app/task-templates/new",
            {
                "name": "Hem",
                "category": "Finishing",
                "priority": "high",
                "estimated_duration": "30",
                "cost": "12.50",
                "subtasks": "Pin | along the edge\nSew",
            },
            page="/app/task-templates/new",
        )
        template_id = _created_id(response, "/app/task-templates/")
        saved = admin.get(f"/admin/task-templates/{template_id}").json()["task_template"]
        assert saved["category"]["name"] == "Finishing"
        assert [s["title"] for s in saved["subtasks"]] == ["Pin", "Sew"]
        assert saved["subtasks"][0]["description"] == "along the edge"
        form = web_admin.get(f"/app/task-templates/{template_id}/edit").text
        assert "Pin | along the edge\nSew" in form
        response = post_form(
            web_admin,
            f"/app/task-templates/{template_id}/edit",
            {"name": "Hem edges", "category": "Finishing", "priority": "low", "subtasks": ""},
            page=f"/app/task-templates/{template_id}/edit",
        )
        assert response.status_code == 303
        saved = admin.get(f"/admin/task-templates/{template_id}").json()["task_template"]
        assert (saved["name"], saved["priority"], saved["subtasks"]) == ("Hem edges", "low", [])

    def test_duplicate_name_refused(self, admin: TestClient, web_admin: TestClient) -> None:
        tasks.create_template(admin, "Cutting")
        response = post_form(
            web_admin, "/app/task-templates/new", {"name": "cutting"}, page="/app/task-templates"
        )
        assert response.status_code == 409
        assert "already exists" in response.text

    def test_list_by_category(self, admin: TestClient, web_admin: TestClient) -> None:
        tasks.create_template(admin, "Cut", category="Tailoring")
        tasks.create_template(admin, "Press", category="Finishing")
        page = web_admin.get("/app/task-templates?category=Tailoring").text
        assert ">Cut</a>" in page and ">Press</a>" not in page
