"""Running flows: per-step records, failures naming the step, skips, sandboxing, retention."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.flows import service
from atelier.flows.models import FlowExecution, FlowExecutionStep
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from atelier.platform.settings import Settings
from tests.conftest import assert_problem
from tests.flows.helpers import create_flow, execute, executions, step

MATHS = [
    {
        "key": "numbers",
        "operation": "transform",
        "options": {"values": {"xs": "input.xs", "n": "input.xs | length"}},
    },
    {
        "key": "total",
        "operation": "transform",
        "options": {"values": {"sum": "steps.numbers.xs | sum", "double": "steps.numbers.n * 2"}},
    },
    {
        "key": "say",
        "operation": "log",
        "options": {"message": "sum={{ steps.total.sum }}", "fields": {"sum": "steps.total.sum"}},
    },
]


class TestManualExecution:
    def test_steps_read_earlier_outputs_and_are_recorded(self, admin: TestClient) -> None:
        flow = create_flow(admin, steps=MATHS)
        execution = execute(admin, flow["id"], {"xs": [1, 2, 3]})
        assert execution["id"].startswith("fexec_")
        assert execution["status"] == "succeeded"
        assert execution["triggered_by"].startswith("manual:admin_")
        assert execution["input"] == {"xs": [1, 2, 3]}
        assert execution["finished_at"]
        assert [s["key"] for s in execution["steps"]] == ["numbers", "total", "say"]
        assert step(execution, "numbers")["output"] == {"xs": [1, 2, 3], "n": 3}
        assert step(execution, "total")["output"] == {"sum": 6, "double": 6}
        say = step(execution, "say")
        assert say["output"]["message"] == "sum=6"
        assert say["input"]["options"]["message"] == "sum={{ steps.total.sum }}"
        assert all(
            s["status"] == "succeeded" and s["started_at"] and s["finished_at"]
            for s in execution["steps"]
        )
        read = admin.get(f"/admin/flow-executions/{execution['id']}").json()["execution"]
        assert read == execution

    def test_draft_flows_run_manually(self, admin: TestClient) -> None:
        flow = create_flow(admin, steps=MATHS)
        assert flow["status"] == "draft"
        assert execute(admin, flow["id"], {"xs": []})["status"] == "succeeded"

    def test_execute_without_body(self, admin: TestClient) -> None:
        flow = create_flow(admin)
        response = admin.post(f"/admin/flows/{flow['id']}/execute")
        assert response.status_code == 201, response.text
        assert response.json()["execution"]["input"] == {}

    def test_bad_execute_body_is_422(self, admin: TestClient) -> None:
        flow = create_flow(admin)
        assert_problem(admin.post(f"/admin/flows/{flow['id']}/execute", json={"input": [1]}), 422)
        assert_problem(admin.post(f"/admin/flows/{flow['id']}/execute", json={"other": 1}), 422)

    def test_a_failing_step_fails_the_execution_naming_it(
        self, admin: TestClient, db: Database
    ) -> None:
        steps = [
            {
                "key": "emit",
                "operation": "emit_event",
                "options": {"event_name": "test.before", "payload": {"n": "1"}},
            },
            {
                "key": "boom",
                "operation": "transform",
                "options": {"values": {"x": "input.missing.deeper"}},
            },
            {"key": "after", "operation": "emit_event", "options": {"event_name": "test.after"}},
        ]
        flow = create_flow(admin, steps=steps)
        execution = execute(admin, flow["id"])
        assert execution["status"] == "failed"
        assert execution["failed_step"] == "boom"
        assert "boom" in execution["error"]
        assert [s["status"] for s in execution["steps"]] == ["succeeded", "failed", "skipped"]
        assert "missing" in step(execution, "boom")["error"]
        assert step(execution, "after")["output"] is None
        with db.session(write=False) as session:
            names = list(session.scalars(select(OutboxEvent.name)))
        assert names == ["test.before"]  # the earlier step's work stands; nothing after

    def test_a_failing_step_rolls_back_only_its_own_work(
        self, admin: TestClient, db: Database
    ) -> None:
        steps = [
            {
                "key": "bulk",
                "operation": "bulk_emit_events",
                "options": {
                    "items": "[1, 2, 0]",
                    "event_name": "test.item",
                    "payload": {"inverse": "10 // item"},
                    "continue_on_error": False,
                },
            },
        ]
        flow = create_flow(admin, steps=steps)
        execution = execute(admin, flow["id"])
        assert execution["status"] == "failed"
        with db.session(write=False) as session:
            assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0

    def test_bulk_continue_on_error_per_item(self, admin: TestClient, db: Database) -> None:
        steps = [
            {
                "key": "bulk",
                "operation": "bulk_emit_events",
                "options": {
                    "items": "input.items",
                    "event_name": "test.{{ item.kind }}",
                    "payload": {"inverse": "10 // item.n", "n": "item.n"},
                },
            },
        ]
        flow = create_flow(admin, steps=steps)
        items = [{"kind": "a", "n": 1}, {"kind": "b", "n": 0}, {"kind": "a", "n": 5}]
        execution = execute(admin, flow["id"], {"items": items})
        assert execution["status"] == "succeeded"
        output = step(execution, "bulk")["output"]
        assert output["triggered"] == 2 and output["failed"] == 1
        assert output["failures"][0]["index"] == 1
        assert output["by_event"] == {"test.a": 2}
        assert step(execution, "bulk")["input"]["items_count"] == 3
        with db.session(write=False) as session:
            payloads = list(session.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id)))
        assert payloads == [{"inverse": 10, "n": 1}, {"inverse": 2, "n": 5}]

    def test_condition_stops_as_skipped_with_a_reason(self, admin: TestClient) -> None:
        steps = [
            {
                "key": "gate",
                "operation": "condition",
                "options": {"expression": "input.go", "reason": "not_today"},
            },
            {"key": "say", "operation": "log", "options": {"message": "went"}},
        ]
        flow = create_flow(admin, steps=steps)
        stopped = execute(admin, flow["id"], {"go": False})
        assert stopped["status"] == "skipped"
        assert step(stopped, "gate")["output"] == {
            "passed": False,
            "reason": "not_today",
            "stopped": True,
        }
        assert step(stopped, "say")["status"] == "skipped"
        went = execute(admin, flow["id"], {"go": True})
        assert went["status"] == "succeeded"
        assert step(went, "say")["output"]["message"] == "went"

    def test_condition_continue(self, admin: TestClient) -> None:
        steps = [
            {
                "key": "gate",
                "operation": "condition",
                "options": {"expression": "false", "on_false": "continue"},
            },
            {"key": "say", "operation": "log", "options": {"message": "{{ steps.gate.passed }}"}},
        ]
        execution = execute(admin, create_flow(admin, steps=steps)["id"])
        assert execution["status"] == "succeeded"
        assert step(execution, "say")["output"]["message"] == "False"

    def test_expressions_are_sandboxed(self, admin: TestClient) -> None:
        steps = [
            {
                "key": "escape",
                "operation": "transform",
                "options": {"values": {"x": "input.__class__.__mro__"}},
            },
        ]
        execution = execute(admin, create_flow(admin, steps=steps)["id"], {"a": 1})
        assert execution["status"] == "failed"
        assert "unsafe" in step(execution, "escape")["error"]

    def test_read_data(self, admin: TestClient) -> None:
        from tests.factories import catalog

        design = catalog.create_design(admin, name="Block Print Kurta")
        steps = [
            {
                "key": "design",
                "operation": "read_data",
                "options": {"entity": "design", "id": "input.design_id", "fields": ["id", "name"]},
            },
            {
                "key": "missing",
                "operation": "read_data",
                "options": {"entity": "partner", "id": "'partner_nope'"},
            },
            {
                "key": "required",
                "operation": "read_data",
                "options": {"entity": "partner", "id": "'partner_nope'", "required": True},
            },
        ]
        execution = execute(
            admin, create_flow(admin, steps=steps)["id"], {"design_id": design["id"]}
        )
        assert step(execution, "design")["output"] == {
            "found": True,
            "record": {"id": design["id"], "name": "Block Print Kurta"},
        }
        assert step(execution, "design")["input"]["id"] == design["id"]
        assert step(execution, "missing")["output"] == {"found": False, "record": None}
        assert execution["failed_step"] == "required"
        assert "partner_not_found" in step(execution, "required")["error"]

    def test_long_lists_are_cut_in_the_stored_output(self, admin: TestClient) -> None:
        steps = [
            {
                "key": "many",
                "operation": "transform",
                "options": {"values": {"xs": "range(1200) | list"}},
            }
        ]
        execution = execute(admin, create_flow(admin, steps=steps)["id"])
        output = step(execution, "many")["output"]
        assert len(output["xs"]) == 500
        assert output["xs_total"] == 1200 and output["xs_truncated"] is True


class TestExecutionList:
    def test_newest_first_with_prefix_and_status_filters(
        self, admin: TestClient, clock: FrozenClock
    ) -> None:
        steps = [{"key": "gate", "operation": "condition", "options": {"expression": "input.ok"}}]
        flow = create_flow(admin, steps=steps)
        first = execute(admin, flow["id"], {"ok": True})
        clock.advance(timedelta(minutes=1))
        second = execute(admin, flow["id"], {"ok": False})
        listed = executions(admin, flow["id"])
        assert [e["id"] for e in listed] == [second["id"], first["id"]]
        assert listed[0]["steps"][0]["key"] == "gate"
        assert [e["id"] for e in executions(admin, flow["id"], status="skipped")] == [second["id"]]
        assert len(executions(admin, flow["id"], triggered_by="manual:")) == 2
        assert executions(admin, flow["id"], triggered_by="event:") == []
        # "_" and "%" in the prefix are literal characters, not LIKE wildcards.
        assert executions(admin, flow["id"], triggered_by="manual%") == []
        assert_problem(admin.get(f"/admin/flows/{flow['id']}/executions?status=odd"), 422)


class TestRetention:
    def test_old_executions_are_pruned(
        self, admin: TestClient, db: Database, clock: FrozenClock, settings: Settings
    ) -> None:
        flow = create_flow(admin)
        old = execute(admin, flow["id"])
        clock.advance(timedelta(days=89))
        with db.session() as session:
            recent = service.execute_now(session, flow["id"], settings, triggered_by="manual:t").id
        clock.advance(timedelta(days=2))
        with db.session() as session:
            assert service.prune_executions(session, clock.now(), 90) == 1
        with db.session(write=False) as session:
            assert list(session.scalars(select(FlowExecution.id))) == [recent]
            remaining = set(session.scalars(select(FlowExecutionStep.execution_id)))
        assert remaining == {recent}
        assert old["id"] not in remaining

    def test_the_daily_job_uses_the_retention_setting(
        self, admin: TestClient, db: Database, clock: FrozenClock, settings: Settings
    ) -> None:
        from atelier.flows import jobs
        from atelier.platform.settings import use_settings

        flow = create_flow(admin)
        execute(admin, flow["id"])
        clock.advance(timedelta(days=8))
        use_settings(settings.model_copy(update={"flow_execution_retention_days": 7}))
        try:
            with db.session() as session:
                jobs.prune_executions(session, clock.now())
        finally:
            use_settings(settings)
        with db.session(write=False) as session:
            assert session.scalar(select(func.count()).select_from(FlowExecution)) == 0
