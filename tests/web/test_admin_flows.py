"""Flows in the admin app: list, activate/deactivate, run now, executions, step JSON."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.flows.helpers import create_flow, execute
from tests.web.support import post_form

HOSTILE = "<script>alert(1)</script>"


def test_list_activate_run_and_read(admin: TestClient, web_admin: TestClient) -> None:
    flow = create_flow(
        admin,
        name=f"Nightly {HOSTILE}",
        trigger_type="schedule",
        trigger_config={"cron": "0 10 * * 1-5"},
        steps=[{"key": "say", "operation": "log", "options": {"message": f"hi {HOSTILE}"}}],
    )
    page = web_admin.get("/app/flows")
    assert page.status_code == 200 and "<title>Flows · Atelier</title>" in page.text
    assert "0 10 * * 1-5" in page.text and "never" in page.text
    assert HOSTILE not in page.text
    response = post_form(web_admin, f"/app/flows/{flow['id']}/activate", {}, page="/app/flows")
    assert response.status_code == 303
    assert admin.get(f"/admin/flows/{flow['id']}").json()["flow"]["status"] == "active"
    response = post_form(web_admin, f"/app/flows/{flow['id']}/run", {}, page="/app/flows")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/app/flow-executions/fexec_")
    detail = web_admin.get(location).text
    assert "Run succeeded." in detail
    assert "manual:admin_" in detail
    assert "hi &lt;script&gt;" in detail and HOSTILE not in detail
    response = post_form(
        web_admin, f"/app/flows/{flow['id']}/deactivate", {}, page=f"/app/flows/{flow['id']}"
    )
    assert response.status_code == 303
    assert admin.get(f"/admin/flows/{flow['id']}").json()["flow"]["status"] == "draft"


def test_executions_filtered_by_triggered_by(admin: TestClient, web_admin: TestClient) -> None:
    flow = create_flow(admin, name="Manual flow")
    first = execute(admin, flow["id"])
    page = web_admin.get(f"/app/flows/{flow['id']}?triggered_by=manual:")
    assert first["id"] in page.text
    none = web_admin.get(f"/app/flows/{flow['id']}?triggered_by=event:&status=")
    assert first["id"] not in none.text and "No executions match." in none.text
    failed = web_admin.get(f"/app/flows/{flow['id']}?status=failed")
    assert first["id"] not in failed.text
    assert re.search(r"<title>Manual flow · Atelier</title>", page.text)


def test_unknown_flow_and_execution_are_404(web_admin: TestClient) -> None:
    assert web_admin.get("/app/flows/flow_nope").status_code == 404
    assert web_admin.get("/app/flow-executions/fexec_nope").status_code == 404
    response = post_form(web_admin, "/app/flows/flow_nope/run", {}, page="/app/flows")
    assert response.status_code == 404
