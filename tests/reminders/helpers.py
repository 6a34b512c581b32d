"""Build runs in each reminder bucket through the API and run the seeded discoverer."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from atelier.flows.seeds import DISCOVERER_NAME
from tests.factories import catalog
from tests.factories.tasks import dispatched_run


def discoverer_id(admin: TestClient) -> str:
    flows = admin.get("/admin/flows", params={"name": DISCOVERER_NAME}).json()["flows"]
    if flows:
        return str(flows[0]["id"])
    from atelier.flows.seeds import DISCOVERER

    response = admin.post("/admin/flows", json=DISCOVERER)
    assert response.status_code == 201, response.text
    return str(response.json()["flow"]["id"])


def run_discoverer(admin: TestClient) -> dict[str, Any]:
    """Execute the discoverer now; returns ``{step key: output}`` plus ``_execution``."""
    response = admin.post(f"/admin/flows/{discoverer_id(admin)}/execute", json={})
    assert response.status_code == 201, response.text
    execution = response.json()["execution"]
    assert execution["status"] == "succeeded", execution
    outputs: dict[str, Any] = {s["key"]: s["output"] for s in execution["steps"]}
    outputs["_execution"] = execution
    return outputs


def set_policy(admin: TestClient, **options: Any) -> None:
    """Change the discoverer's step options through PUT /admin/flows/:id."""
    flow_id = discoverer_id(admin)
    flow = admin.get(f"/admin/flows/{flow_id}").json()["flow"]
    steps = flow["steps"]
    for step in steps:
        if step["key"] == "find":
            step["options"].update({k: v for k, v in options.items() if k.endswith("_hours")})
        if step["key"] == "policy":
            step["options"].update({k: v for k, v in options.items() if not k.endswith("_hours")})
    response = admin.put(f"/admin/flows/{flow_id}", json={"steps": steps})
    assert response.status_code == 200, response.text


class Shop:
    """A design and a partner to make runs with."""

    def __init__(self, admin: TestClient, client: TestClient) -> None:
        self.admin = admin
        self.partner = catalog.create_partner(admin, client, whatsapp_number="+919800000001")
        self.design = catalog.create_design(admin)

    def sent(self, **fields: Any) -> dict[str, Any]:
        return dispatched_run(
            self.admin, partner=self.partner, design_id=self.design["id"], **fields
        )

    def accepted(self) -> dict[str, Any]:
        run = self.sent()
        response = self.admin.post(f"/admin/production-runs/{run['id']}/accept")
        assert response.status_code == 200, response.text
        return dict(response.json()["production_run"])

    def started(self) -> dict[str, Any]:
        run = self.accepted()
        response = self.admin.post(f"/admin/production-runs/{run['id']}/start")
        assert response.status_code == 200, response.text
        return dict(response.json()["production_run"])


def items_by_run(outputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["production_run_id"]: item for item in outputs["policy"]["items"]}
