"""Helpers for flow tests: create flows through the API, read executions."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

LOG_STEP = {"key": "say", "operation": "log", "options": {"message": "hello {{ flow.name }}"}}


def create_flow(admin: TestClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Test flow", "steps": [LOG_STEP]}
    body.update(fields)
    response = admin.post("/admin/flows", json=body)
    assert response.status_code == 201, response.text
    flow: dict[str, Any] = response.json()["flow"]
    return flow


def executions(admin: TestClient, flow_id: str, **params: Any) -> list[dict[str, Any]]:
    response = admin.get(f"/admin/flows/{flow_id}/executions", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["executions"]
    return items


def execute(
    admin: TestClient, flow_id: str, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = admin.post(f"/admin/flows/{flow_id}/execute", json={"input": payload or {}})
    assert response.status_code == 201, response.text
    execution: dict[str, Any] = response.json()["execution"]
    return execution


def step(execution: dict[str, Any], key: str) -> dict[str, Any]:
    for item in execution["steps"]:
        if item["key"] == key:
            result: dict[str, Any] = item
            return result
    raise AssertionError(f"no step {key!r} in {[s['key'] for s in execution['steps']]}")
