"""API-driven helpers for the partner lifecycle tests: a dispatched run and its partner."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import catalog, runs
from tests.factories.catalog import PartnerHandle

_seq = itertools.count(1)


@dataclass
class Dispatched:
    run: dict[str, Any]
    partner: PartnerHandle
    design: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.run["id"])

    def url(self, suffix: str = "") -> str:
        return f"/partners/production-runs/{self.id}{suffix}"

    def admin_url(self, suffix: str = "") -> str:
        return f"/admin/production-runs/{self.id}{suffix}"


def template(admin: TestClient, *, subtasks: int = 0) -> str:
    name = f"lifecycle-step-{next(_seq)}"
    body: dict[str, Any] = {"name": name}
    if subtasks:
        body["subtasks"] = [{"title": f"{name} part {i}"} for i in range(subtasks)]
    response = admin.post("/admin/task-templates", json=body)
    assert response.status_code == 201, response.text
    return name


def dispatched(
    admin: TestClient,
    client: TestClient,
    *,
    partner: PartnerHandle | None = None,
    design: dict[str, Any] | None = None,
    quantity: int = 10,
    tasks: int = 1,
    subtasks: int = 0,
    **fields: Any,
) -> Dispatched:
    """A run sent to ``partner`` (created when not given) with ``tasks`` tasks."""
    partner = partner or catalog.create_partner(admin, client)
    design = design or catalog.create_design(admin)
    run = runs.approved_run(
        admin, design_id=design["id"], partner_id=partner.id, quantity=quantity, **fields
    )
    names = [template(admin, subtasks=subtasks) for _ in range(max(tasks, 1))]
    response = admin.post(
        f"/admin/production-runs/{run['id']}/send-to-production", json={"template_names": names}
    )
    assert response.status_code == 200, response.text
    return Dispatched(runs.get_run(admin, run["id"]), partner, design)


def post_ok(client: TestClient, url: str, body: Any = None, status: int = 200) -> dict[str, Any]:
    response = client.post(url, json=body) if body is not None else client.post(url)
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


def advance(partner_client: TestClient, d: Dispatched, *, to: str) -> dict[str, Any]:
    """Walk the run through accept → start → finish (as ``partner_client``) up to ``to``."""
    body: dict[str, Any] = {}
    for step in ("accept", "start", "finish"):
        body = post_ok(partner_client, d.url(f"/{step}"))
        if step == to:
            break
    return body
