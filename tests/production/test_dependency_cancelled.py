"""A run whose dependency is cancelled no longer waits silently: feed entry, timeline event,
and its page says so with the choices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import catalog, runs
from tests.web.support import signed_in_admin


def _family(admin: TestClient, client: TestClient) -> list[dict[str, Any]]:
    design = catalog.create_design(admin)
    partners = [catalog.create_partner(admin, client) for _ in range(3)]
    result = runs.split_run(
        admin,
        design_id=design["id"],
        quantity=9,
        assignments=[
            {"partner_id": p.id, "quantity": 3, "order": i, "role": f"step{i}"}
            for i, p in enumerate(partners)
        ],
    )
    return sorted(result["children"], key=lambda c: c["role"])


def _feed(admin: TestClient, run_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = admin.get("/admin/feed?unread=true&limit=200").json()[
        "feed_entries"
    ]
    return [
        e
        for e in entries
        if e["kind"] == "production_run.dependency_cancelled" and e["production_run_id"] == run_id
    ]


def test_dependant_gets_a_feed_entry_and_a_timeline_event(
    admin: TestClient, client: TestClient, drain: Callable[[], int]
) -> None:
    web_admin = signed_in_admin(client.app)  # type: ignore[arg-type]
    first, second, third = _family(admin, client)
    admin.post(f"/admin/production-runs/{first['id']}/cancel", json={"reason": "no fabric"})
    drain()
    # Later order groups wait on every earlier one: both are flagged, once each.
    for dependant in (second, third):
        [entry] = _feed(admin, dependant["id"])
        assert entry["data"] == {"cancelled_run_id": first["id"]}
    drain()
    assert len(_feed(admin, second["id"])) == 1
    events = admin.get(f"/admin/production-runs/{second['id']}/events").json()["events"]
    flagged = [e for e in events if e["kind"] == "dependency_cancelled"]
    assert len(flagged) == 1 and flagged[0]["actor_type"] == "system"
    page = web_admin.get(f"/app/runs/{second['id']}").text
    assert 'id="dependency-cancelled"' in page and "Re-link it" in page
    assert web_admin.get("/app/feed").text.count(f"waits on cancelled run {first['id']}") == 2


def test_terminal_dependants_and_redelivery_add_nothing(
    admin: TestClient, client: TestClient, drain: Callable[[], int]
) -> None:
    from atelier.platform.actors import Actor
    from atelier.production import cascade

    first, second, _third = _family(admin, client)
    admin.post(f"/admin/production-runs/{second['id']}/cancel", json={})
    admin.post(f"/admin/production-runs/{first['id']}/cancel", json={})
    drain()
    assert _feed(admin, second["id"]) == []
    app: Any = admin.app
    with app.state.db.session() as session:
        assert cascade.flag_dependants_of_cancelled(session, second["id"], Actor.system()) == 0
