from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.factories import catalog
from tests.factories.tasks import create_template, dispatched_run, run_tasks


def test_dispatch_and_finish(
    admin: TestClient, client: TestClient, drain: Callable[[], int]
) -> None:
    create_template(admin, "Cutting", category="Cut", subtasks=["Mark", "Cut"])
    create_template(admin, "Stitching")
    design = catalog.create_design(admin)
    partner = catalog.create_partner(admin, client)
    run = dispatched_run(
        admin, partner=partner, design_id=design["id"], templates=["Cutting", "Stitching"]
    )
    tasks = run_tasks(admin, run["id"])
    assert [t["title"] for t in tasks] == ["Cutting", "Stitching"]
    assert len(tasks[0]["subtasks"]) == 2
    for t in tasks:
        r = client.post(f"/partners/assigned-tasks/{t['id']}/accept", headers=partner.headers)
        assert r.status_code == 200, r.text
        r = client.post(f"/partners/assigned-tasks/{t['id']}/finish", headers=partner.headers)
        assert r.status_code == 200, r.text
    drain()
    r = admin.get(f"/admin/production-runs/{run['id']}")
    assert r.json()["production_run"]["status"] == "completed"
