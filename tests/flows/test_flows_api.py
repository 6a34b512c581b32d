"""Flows as data: create / read / update / activate through the API, validated on save."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog
from tests.flows.helpers import LOG_STEP, create_flow

SCHEDULE = {"cron": "0 10 * * 1-5", "timezone": "Asia/Kolkata"}


class TestCreateFlow:
    def test_admin_creates_a_draft_flow(self, admin: TestClient) -> None:
        flow = create_flow(
            admin,
            name="Nightly",
            description="says hello",
            trigger_type="schedule",
            trigger_config=SCHEDULE,
        )
        assert flow["id"].startswith("flow_")
        assert flow["status"] == "draft"
        assert flow["trigger_type"] == "schedule"
        assert flow["trigger_config"] == SCHEDULE
        assert flow["steps"] == [
            {
                "key": "say",
                "operation": "log",
                "options": {**LOG_STEP["options"], "level": "info", "fields": {}},
            }
        ]
        assert admin.get(f"/admin/flows/{flow['id']}").json()["flow"] == flow

    def test_schedule_without_time_zone_gets_the_business_zone(self, admin: TestClient) -> None:
        flow = create_flow(admin, trigger_type="schedule", trigger_config={"cron": "*/5 * * * *"})
        assert flow["trigger_config"] == {"cron": "*/5 * * * *", "timezone": "Asia/Kolkata"}

    def test_event_flow(self, admin: TestClient) -> None:
        flow = create_flow(
            admin, trigger_type="event", trigger_config={"event_pattern": "production_run.*"}
        )
        assert flow["trigger_config"] == {"event_pattern": "production_run.*"}

    @pytest.mark.parametrize(
        "steps, fragment",
        [
            ([{"key": "x", "operation": "no_such_op"}], "unknown operation"),
            ([{"key": "x", "operation": "log", "options": {}}], "message"),
            ([{"key": "x", "operation": "log", "options": {"message": "hi", "bogus": 1}}], "bogus"),
            (
                [{"key": "x", "operation": "condition", "options": {"expression": "a ==="}}],
                "invalid expression",
            ),
            (
                [{"key": "x", "operation": "log", "options": {"message": "{{ unclosed"}}],
                "invalid template",
            ),
            ([LOG_STEP, LOG_STEP], "used twice"),
            ([{"key": "Bad Key", "operation": "log", "options": {"message": "x"}}], "key"),
        ],
    )
    def test_bad_steps_are_422(self, admin: TestClient, steps: list[Any], fragment: str) -> None:
        response = admin.post("/admin/flows", json={"name": "Bad", "steps": steps})
        body = assert_problem(response, 422, "validation_error")
        assert fragment in response.text, body
        assert admin.get("/admin/flows").json()["count"] == 0

    @pytest.mark.parametrize(
        "trigger_type, config",
        [
            ("schedule", {"cron": "every day"}),
            ("schedule", {"cron": "0 10 * * 1-5 2026"}),
            ("schedule", {"cron": "0 10 * * *", "timezone": "Mars/Olympus"}),
            ("schedule", {}),
            ("event", {}),
            ("event", {"event_pattern": "Production Run"}),
            ("manual", {"cron": "0 10 * * *"}),
            ("sometimes", {}),
        ],
    )
    def test_bad_triggers_are_422(
        self, admin: TestClient, trigger_type: str, config: dict[str, Any]
    ) -> None:
        response = admin.post(
            "/admin/flows",
            json={"name": "Bad", "trigger_type": trigger_type, "trigger_config": config},
        )
        assert_problem(response, 422)

    def test_name_is_unique(self, admin: TestClient) -> None:
        create_flow(admin, name="Same")
        assert_problem(admin.post("/admin/flows", json={"name": "Same"}), 409, "flow_name_taken")

    def test_unknown_body_field_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.post("/admin/flows", json={"name": "X", "colour": "red"}), 422)


class TestAccess:
    def test_anonymous_gets_401(self, client: TestClient) -> None:
        assert_problem(client.get("/admin/flows"), 401)
        assert_problem(client.post("/admin/flows", json={"name": "X"}), 401)
        assert_problem(client.get("/admin/flow-operations"), 401)

    def test_partner_gets_403(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        flow = create_flow(admin)
        for method, path in [
            ("get", "/admin/flows"),
            ("get", f"/admin/flows/{flow['id']}"),
            ("post", f"/admin/flows/{flow['id']}/execute"),
            ("post", f"/admin/flows/{flow['id']}/activate"),
            ("get", f"/admin/flows/{flow['id']}/executions"),
            ("get", "/admin/flow-operations"),
        ]:
            response = getattr(client, method)(path, headers=partner.headers)
            assert_problem(response, 403, "admin_only")


class TestListAndRead:
    def test_filters(self, admin: TestClient) -> None:
        create_flow(admin, name="A manual")
        b = create_flow(admin, name="B schedule", trigger_type="schedule", trigger_config=SCHEDULE)
        create_flow(
            admin,
            name="C event",
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "order.*"},
        )
        body = admin.get("/admin/flows").json()
        assert [f["name"] for f in body["flows"]] == ["A manual", "B schedule", "C event"]
        assert (body["count"], body["limit"], body["offset"]) == (3, 50, 0)
        assert [
            f["id"] for f in admin.get("/admin/flows?trigger_type=schedule").json()["flows"]
        ] == [b["id"]]
        assert [f["name"] for f in admin.get("/admin/flows?status=active").json()["flows"]] == [
            "C event"
        ]
        assert admin.get("/admin/flows", params={"name": "B schedule"}).json()["count"] == 1
        page = admin.get("/admin/flows?limit=1&offset=1").json()
        assert [f["name"] for f in page["flows"]] == ["B schedule"] and page["count"] == 3
        assert_problem(admin.get("/admin/flows?status=paused"), 422)
        assert_problem(admin.get("/admin/flows?limit=0"), 422)

    def test_unknown_flow_is_404(self, admin: TestClient) -> None:
        for method, path in [
            ("get", "/admin/flows/flow_nope"),
            ("put", "/admin/flows/flow_nope"),
            ("post", "/admin/flows/flow_nope/activate"),
            ("post", "/admin/flows/flow_nope/deactivate"),
            ("post", "/admin/flows/flow_nope/execute"),
            ("get", "/admin/flows/flow_nope/executions"),
            ("get", "/admin/flow-executions/fexec_nope"),
        ]:
            kwargs: dict[str, Any] = {"json": {}} if method == "put" else {}
            response = getattr(admin, method)(path, **kwargs)
            assert response.status_code == 404, (path, response.text)

    def test_operation_registry(self, admin: TestClient) -> None:
        operations = admin.get("/admin/flow-operations").json()["operations"]
        by_name = {o["name"]: o for o in operations}
        for name in (
            "read_data",
            "condition",
            "transform",
            "emit_event",
            "bulk_emit_events",
            "log",
        ):
            assert name in by_name
            assert by_name[name]["description"]
            assert by_name[name]["options_schema"]["type"] == "object"
        assert "continue_on_error" in by_name["bulk_emit_events"]["options_schema"]["properties"]


class TestUpdate:
    def test_put_replaces_given_fields_and_validates(self, admin: TestClient) -> None:
        flow = create_flow(admin)
        new_steps = [{"key": "t", "operation": "transform", "options": {"values": {"n": "1 + 1"}}}]
        response = admin.put(
            f"/admin/flows/{flow['id']}", json={"description": "now with maths", "steps": new_steps}
        )
        assert response.status_code == 200, response.text
        updated = response.json()["flow"]
        assert updated["description"] == "now with maths"
        assert updated["steps"] == new_steps
        assert updated["name"] == flow["name"]
        assert updated["version"] == flow["version"] + 1

    def test_bad_update_changes_nothing(self, admin: TestClient) -> None:
        flow = create_flow(admin)
        bad = [{"key": "x", "operation": "bulk_emit_events", "options": {"items": "1"}}]
        assert_problem(admin.put(f"/admin/flows/{flow['id']}", json={"steps": bad}), 422)
        assert_problem(
            admin.put(f"/admin/flows/{flow['id']}", json={"trigger_type": "schedule"}),
            422,
            "invalid_flow_trigger",
        )
        assert_problem(admin.put(f"/admin/flows/{flow['id']}", json={"name": None}), 422)
        assert admin.get(f"/admin/flows/{flow['id']}").json()["flow"] == flow

    def test_rename_to_a_taken_name_conflicts(self, admin: TestClient) -> None:
        create_flow(admin, name="Taken")
        flow = create_flow(admin, name="Mine")
        assert_problem(admin.put(f"/admin/flows/{flow['id']}", json={"name": "Taken"}), 409)

    def test_change_trigger(self, admin: TestClient) -> None:
        flow = create_flow(admin)
        response = admin.put(
            f"/admin/flows/{flow['id']}",
            json={"trigger_type": "event", "trigger_config": {"event_pattern": "order.placed"}},
        )
        assert response.status_code == 200, response.text
        assert response.json()["flow"]["trigger_config"] == {"event_pattern": "order.placed"}


class TestActivation:
    def test_activate_and_deactivate_are_idempotent(self, admin: TestClient) -> None:
        flow = create_flow(admin)
        first = admin.post(f"/admin/flows/{flow['id']}/activate").json()["flow"]
        assert first["status"] == "active" and first["activated_at"]
        again = admin.post(f"/admin/flows/{flow['id']}/activate").json()["flow"]
        assert again["activated_at"] == first["activated_at"]
        off = admin.post(f"/admin/flows/{flow['id']}/deactivate").json()["flow"]
        assert off["status"] == "draft" and off["activated_at"] is None
        assert (
            admin.post(f"/admin/flows/{flow['id']}/deactivate").json()["flow"]["status"] == "draft"
        )
