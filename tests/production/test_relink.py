"""Re-linking a child run's dependencies: ``POST /admin/production-runs/:id/dependencies``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import assert_problem
from tests.factories import catalog, runs, tasks


def _split(admin: TestClient, client: TestClient, groups: int = 3) -> list[dict[str, Any]]:
    design = catalog.create_design(admin)
    partners = [catalog.create_partner(admin, client) for _ in range(groups)]
    result = runs.split_run(
        admin,
        design_id=design["id"],
        quantity=3 * groups,
        assignments=[
            {"partner_id": p.id, "quantity": 3, "order": i, "role": f"step{i}"}
            for i, p in enumerate(partners)
        ],
    )
    children: list[dict[str, Any]] = sorted(result["children"], key=lambda c: c["role"])
    return children


def _relink(admin: TestClient, run_id: str, ids: list[str]) -> Any:
    return admin.post(
        f"/admin/production-runs/{run_id}/dependencies", json={"depends_on_run_ids": ids}
    )


class TestRelink:
    def test_drop_a_cancelled_dependency_then_dispatch_by_hand(
        self, admin: TestClient, client: TestClient
    ) -> None:
        first, second, _third = _split(admin, client)
        assert second["depends_on_run_ids"] == [first["id"]]
        admin.post(f"/admin/production-runs/{first['id']}/cancel", json={"reason": "no cloth"})
        tasks.ensure_templates(admin, ["Sew"])
        refused = admin.post(
            f"/admin/production-runs/{second['id']}/send-to-production",
            json={"template_names": ["Sew"]},
        )
        assert_problem(refused, 409, "dependencies_pending")
        response = _relink(admin, second["id"], [])
        assert response.status_code == 200, response.text
        assert response.json()["production_run"]["depends_on_run_ids"] == []
        sent = admin.post(
            f"/admin/production-runs/{second['id']}/send-to-production",
            json={"template_names": ["Sew"]},
        )
        assert sent.status_code == 200, sent.text
        events = admin.get(f"/admin/production-runs/{second['id']}/events").json()["events"]
        changed = next(e for e in events if e["kind"] == "dependencies_changed")
        assert changed["data"] == {"before": [first["id"]], "after": []}

    def test_same_list_twice_changes_nothing(self, admin: TestClient, client: TestClient) -> None:
        first, second, _ = _split(admin, client)
        for _ in range(2):
            assert _relink(admin, second["id"], [first["id"]]).status_code == 200
        events = admin.get(f"/admin/production-runs/{second['id']}/events").json()["events"]
        assert not [e for e in events if e["kind"] == "dependencies_changed"]

    def test_guards(self, admin: TestClient, client: TestClient) -> None:
        first, second, third = _split(admin, client)
        assert_problem(_relink(admin, second["id"], [second["id"]]), 422, "invalid_dependency")
        stranger = runs.create_run(admin, design_id=catalog.create_design(admin)["id"])
        assert_problem(_relink(admin, second["id"], [stranger["id"]]), 422, "invalid_dependency")
        assert_problem(_relink(admin, stranger["id"], [first["id"]]), 422, "invalid_dependency")
        # first ← second ← third; first waiting on third closes a cycle.
        assert_problem(_relink(admin, first["id"], [third["id"]]), 422, "dependency_cycle")
        assert_problem(_relink(admin, "prod_run_nope", []), 404)
        assert_problem(_relink(admin, second["id"], ["bad id!"]), 422)

    def test_terminal_run_refused(self, admin: TestClient, client: TestClient) -> None:
        _first, second, _ = _split(admin, client)
        admin.post(f"/admin/production-runs/{second['id']}/cancel", json={})
        assert_problem(_relink(admin, second["id"], []), 409, "run_terminal")

    def test_partner_and_anonymous_refused(self, admin: TestClient, client: TestClient) -> None:
        _first, second, _ = _split(admin, client)
        partner = catalog.create_partner(admin, client)
        assert_problem(
            client.post(
                f"/admin/production-runs/{second['id']}/dependencies",
                json={"depends_on_run_ids": []},
                headers=partner.headers,
            ),
            403,
        )
        assert_problem(
            client.post(
                f"/admin/production-runs/{second['id']}/dependencies",
                json={"depends_on_run_ids": []},
            ),
            401,
        )
