"""API-driven helpers that create production runs for tests (no ORM shortcuts)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def create_run(admin: TestClient, *, design_id: str, **fields: Any) -> dict[str, Any]:
    """POST /admin/production-runs; returns the ``production_run`` (status pending_review)."""
    response = admin.post("/admin/production-runs", json={"design_id": design_id, **fields})
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()["production_run"]
    return run


def approve(admin: TestClient, run_id: str, **body: Any) -> dict[str, Any]:
    """POST /admin/production-runs/:id/approve; returns the whole response body."""
    response = admin.post(f"/admin/production-runs/{run_id}/approve", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def get_run(admin: TestClient, run_id: str) -> dict[str, Any]:
    response = admin.get(f"/admin/production-runs/{run_id}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()["production_run"]
    return run


def approved_run(
    admin: TestClient,
    client: TestClient | None = None,
    *,
    design_id: str | None = None,
    partner_id: str | None = None,
    quantity: int = 10,
    template_names: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An ``approved`` run with a partner (a design and a partner are created when not given).

    ``template_names`` (created when missing) become the run's dispatch intent, so approval
    dispatches the run at once (status ``sent_to_partner``). Returns the run after approval.
    """
    from tests.factories import catalog

    if design_id is None:
        design_id = catalog.create_design(admin)["id"]
    if partner_id is None:
        partner_id = catalog.create_partner(admin, client or admin).id
    if template_names:
        from tests.factories import tasks

        tasks.ensure_templates(admin, template_names)
    run = create_run(admin, design_id=design_id, partner_id=partner_id, quantity=quantity, **fields)
    body: dict[str, Any] = {}
    if template_names:
        body["template_names"] = template_names
    approve(admin, run["id"], **body)
    return get_run(admin, run["id"])


def split_run(
    admin: TestClient,
    *,
    design_id: str,
    assignments: list[dict[str, Any]],
    quantity: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """POST /admin/designs/:id/production-runs; returns {production_run, children, dispatch}."""
    body: dict[str, Any] = {"assignments": assignments, **fields}
    if quantity is not None:
        body["quantity"] = quantity
    response = admin.post(f"/admin/designs/{design_id}/production-runs", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
