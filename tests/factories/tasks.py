"""API-driven helpers for task templates, dispatched runs and partner task actions.

create_template(admin, "Cutting", category="Cut & sew", subtasks=["Mark", "Cut"])
run = dispatched_run(admin, client, partner=partner, design_id=design["id"],
                     templates=["Cutting", "Stitching"], quantity=10)
tasks = run_tasks(admin, run["id"])      # top-level tasks with subtasks and comments
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

DEFAULT_TEMPLATES = ("Cutting", "Stitching")


def _ok(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def create_template(
    admin: TestClient,
    name: str,
    category: str | None = None,
    subtasks: Sequence[str | dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """POST /admin/task-templates; returns the ``task_template`` JSON (with ``category``)."""
    body: dict[str, Any] = {"name": name, **fields}
    if category is not None:
        body["category"] = category
    if subtasks is not None:
        body["subtasks"] = [s if isinstance(s, dict) else {"title": s} for s in subtasks]
    template: dict[str, Any] = _ok(admin.post("/admin/task-templates", json=body), 201)[
        "task_template"
    ]
    return template


def ensure_templates(admin: TestClient, names: Sequence[str]) -> list[dict[str, Any]]:
    """The templates called ``names``, created (without subtasks) when missing."""
    out = []
    for name in names:
        found = _ok(admin.get("/admin/task-templates", params={"name": name}), 200)
        exact = [t for t in found["task_templates"] if t["name"] == name]
        out.append(exact[0] if exact else create_template(admin, name))
    return out


def _partner_id(partner: Any) -> str:
    if isinstance(partner, str):
        return partner
    if isinstance(partner, dict):
        return str(partner["id"])
    return str(partner.id)


def dispatched_run(
    admin: TestClient,
    client: TestClient | None = None,
    *,
    partner: Any,
    design_id: str,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
    quantity: int = 10,
    **fields: Any,
) -> dict[str, Any]:
    """A run for ``partner`` (a PartnerHandle, dict or id) that is approved and dispatched with
    ``templates`` (created when missing): status ``sent_to_partner``. Returns the run JSON."""
    del client  # uniform helper signature; everything goes through the admin client
    ensure_templates(admin, templates)
    body = {"design_id": design_id, "partner_id": _partner_id(partner), "quantity": quantity}
    run = _ok(admin.post("/admin/production-runs", json={**body, **fields}), 201)["production_run"]
    _ok(admin.post(f"/admin/production-runs/{run['id']}/approve", json={}), 200)
    response = admin.post(
        f"/admin/production-runs/{run['id']}/send-to-production",
        json={"template_names": list(templates)},
    )
    dispatched: dict[str, Any] = _ok(response, 200)["production_run"]
    assert dispatched["status"] == "sent_to_partner", dispatched
    return dispatched


def run_tasks(admin: TestClient, run_id: str) -> list[dict[str, Any]]:
    """GET /admin/production-runs/:id/tasks → the run's top-level tasks (with subtasks)."""
    tasks: list[dict[str, Any]] = _ok(admin.get(f"/admin/production-runs/{run_id}/tasks"), 200)[
        "tasks"
    ]
    return tasks


def partner_task_action(
    client: TestClient, headers: dict[str, str], task_id: str, action: str
) -> dict[str, Any]:
    """POST /partners/assigned-tasks/:id/<action> (accept|finish) expecting 200."""
    response = client.post(f"/partners/assigned-tasks/{task_id}/{action}", headers=headers)
    return _ok(response, 200)


def finish_all_tasks(
    client: TestClient, headers: dict[str, str], tasks: Sequence[dict[str, Any]]
) -> None:
    """Accept (when pending) and finish every given task as the partner."""
    for task in tasks:
        if task["status"] == "pending":
            partner_task_action(client, headers, task["id"], "accept")
        partner_task_action(client, headers, task["id"], "finish")


def approved_run_without_intent(
    admin: TestClient, *, partner: Any, design_id: str, quantity: int = 10
) -> dict[str, Any]:
    """A run created for ``partner`` and approved without template intent (status approved)."""
    body = {"design_id": design_id, "partner_id": _partner_id(partner), "quantity": quantity}
    run = _ok(admin.post("/admin/production-runs", json=body), 201)["production_run"]
    _ok(admin.post(f"/admin/production-runs/{run['id']}/approve", json={}), 200)
    fetched: dict[str, Any] = _ok(admin.get(f"/admin/production-runs/{run['id']}"), 200)[
        "production_run"
    ]
    assert fetched["status"] == "approved", fetched
    return fetched


def event_kinds(admin: TestClient, run_id: str) -> list[str]:
    """The run's RunEvent kinds, oldest first."""
    events = _ok(admin.get(f"/admin/production-runs/{run_id}/events"), 200)["events"]
    return [e["kind"] for e in reversed(events)]


def run_events(admin: TestClient, run_id: str, kind: str) -> list[dict[str, Any]]:
    """The run's RunEvents of ``kind``, oldest first."""
    events = _ok(admin.get(f"/admin/production-runs/{run_id}/events"), 200)["events"]
    return [e for e in reversed(events) if e["kind"] == kind]


def outbox_payloads(db: Any, name: str, **match: Any) -> list[dict[str, Any]]:
    """Payloads of queued outbox events called ``name`` whose payload contains ``match``."""
    from sqlalchemy import select

    from atelier.platform.models import OutboxEvent

    with db.session(write=False) as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == name).order_by(OutboxEvent.created_at)
        ).all()
        payloads = [dict(r.payload) for r in rows]
    return [p for p in payloads if all(p.get(k) == v for k, v in match.items())]
