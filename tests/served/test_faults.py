"""``kill -9`` in the middle of work, then restart: nothing acknowledged is lost, nothing is
half applied, stock equals its ledger, and every event reaches every subscriber exactly once.

1. The API server (embedded worker + scheduler) is killed during a burst of writes: orders,
   run completions that move stock, notes.
2. A separate ``atelier worker`` is killed while it delivers a backlog of ``order.placed``
   events.

Both run on SQLite and on PostgreSQL. Counts are bounded (about 100 writes); waits are bounded
by more than the outbox lease (60 s), after which anyone may take over the events a killed
process had claimed (a restarted process reclaims its own at once).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.served import invariants, scenario
from tests.served.support import (
    Job,
    Launcher,
    Outcome,
    admin_token,
    burst,
    client,
    ok,
    wait_for,
)

pytestmark = pytest.mark.served

RUNS = "/admin/production-runs"
PARTNER_RUNS = "/partners/production-runs"
# More than the dispatcher's 60 s lease, after which what a killed process claimed is free.
DELIVERY_TIMEOUT = 150.0


def _ready_to_complete(
    admin: httpx.Client, shop: scenario.Catalog, count: int
) -> list[tuple[str, scenario.Partner]]:
    """``count`` runs dispatched to the shop's partners, accepted, started and finished."""
    ready = []
    for index in range(count):
        partner = shop.partners[index % len(shop.partners)]
        run = ok(
            admin.post(
                RUNS,
                json={"design_id": shop.design_id, "partner_id": partner.id, "quantity": 4},
            ),
            201,
        )["production_run"]
        ok(admin.post(f"{RUNS}/{run['id']}/approve", json={"template_names": ["Cutting"]}))
        for step in ("accept", "start", "finish"):
            ok(admin.post(f"{PARTNER_RUNS}/{run['id']}/{step}", headers=partner.headers))
        ready.append((run["id"], partner))
    return ready


def _order_job(shop: scenario.Catalog, external_id: str) -> Job:
    body = {
        "external_id": external_id,
        "items": [{"product_id": shop.product_id, "variant_id": shop.variant_id, "quantity": 2}],
    }
    return external_id, lambda http: http.post("/admin/orders", json=body)


def _complete_job(shop: scenario.Catalog, run_id: str, partner: scenario.Partner) -> Job:
    body = {
        "produced_quantity": 4,
        "consumptions": [{"inventory_item_id": shop.fabric_id, "quantity": 2.5}],
    }
    return (
        f"complete:{run_id}",
        lambda http: http.post(
            f"{PARTNER_RUNS}/{run_id}/complete", json=body, headers=partner.headers
        ),
    )


def _note_job(run_id: str, n: int) -> Job:
    return (
        f"note:{run_id}:{n}",
        lambda http: http.post(f"{RUNS}/{run_id}/notes", json={"note": f"burst note {n}"}),
    )


def _no_5xx(outcomes: dict[str, Outcome]) -> list[Outcome]:
    return [o for o in outcomes.values() if o.status is not None and o.status >= 500]


def _orphan_lines(url: str) -> list[Any]:
    """Order lines of a resolvable product that never got their production run."""
    return invariants.rows(
        url,
        "SELECT li.id FROM order_line_items li "
        "LEFT JOIN production_runs r ON r.order_line_item_id = li.id WHERE r.id IS NULL",
    )


def test_server_killed_mid_burst_loses_no_acknowledged_write(
    make_launcher: Callable[..., Launcher],
) -> None:
    launcher = make_launcher("crash")
    api = launcher.serve("api").start()
    api.wait_healthy()
    with client(api) as anon:
        token = admin_token(anon)
    with client(api, token) as admin:
        shop = scenario.build_catalog(admin, partners=2, fabric=1000.0)
        ready = _ready_to_complete(admin, shop, 8)
        invariants.wait_delivered(launcher.database_url, timeout=DELIVERY_TIMEOUT)

    jobs: list[Job] = [_order_job(shop, f"crash-{n}") for n in range(60)]
    jobs += [_complete_job(shop, run_id, partner) for run_id, partner in ready]
    jobs += [_note_job(ready[n % len(ready)][0], n) for n in range(32)]
    random.Random(8).shuffle(jobs)
    with client(api, token) as admin:
        outcomes = burst(admin, jobs, concurrency=8, after=35, then=api.kill)
    assert not api.alive
    assert _no_5xx(outcomes) == []
    acknowledged = {k for k, o in outcomes.items() if o.acknowledged}
    assert 35 <= len(acknowledged) < len(jobs), "the kill must land inside the burst"

    api.start().wait_healthy()
    with client(api, token) as admin:
        # Every acknowledged write is there.
        for key in acknowledged:
            if key.startswith("crash-"):
                found = ok(admin.get("/admin/orders", params={"external_id": key}))
                assert found["count"] == 1, key
                assert len(found["orders"][0]["items"]) == 1
            elif key.startswith("complete:"):
                run = scenario.run(admin, key.split(":")[1])
                assert run["status"] == "completed", key
            else:
                run_id = key.split(":")[1]
                body = outcomes[key].body or {}
                event_id = body["event"]["id"]
                events = ok(admin.get(f"{RUNS}/{run_id}/events"))["events"]
                assert event_id in {e["id"] for e in events}, key

        # Clients retry what was not acknowledged: each write applies once, whatever happened.
        retried = burst(admin, [j for j in jobs if j[0] not in acknowledged], concurrency=4)
        for key, outcome in retried.items():
            expected = {200, 201} if key.startswith(("crash-", "note:")) else {200, 409}
            assert outcome.status in expected, (key, outcome)
            if outcome.status == 409:
                assert outcome.body and outcome.body["code"] == "already_completed", outcome
        for run_id, _ in ready:
            assert scenario.run(admin, run_id)["status"] == "completed"
        orders = ok(admin.get("/admin/orders", params={"limit": 500}))
        assert orders["count"] == 60

    # The killed process's claimed events are delivered after its lease; then all invariants.
    invariants.wait_delivered(launcher.database_url, timeout=DELIVERY_TIMEOUT)
    assert _orphan_lines(launcher.database_url) == []
    assert invariants.all_violations(launcher.database_url) == []
    fabric_moves = invariants.scalar(
        launcher.database_url,
        "SELECT count(*) FROM inventory_movements WHERE reason = 'consumption'",
    )
    assert fabric_moves == len(ready)
    # Nothing went wrong before the kill, nor after the restart.
    assert launcher.problems() == []


def test_worker_killed_mid_delivery_delivers_every_event_once(
    make_launcher: Callable[..., Launcher],
) -> None:
    launcher = make_launcher("worker_crash")
    api = launcher.serve("api", embedded_worker=False).start()
    api.wait_healthy()
    with client(api) as anon:
        token = admin_token(anon)
    with client(api, token) as admin:
        shop = scenario.build_catalog(admin, partners=1)
        # A backlog for the worker: 50 orders of 3 lines each (150 runs to create).
        jobs = []
        for n in range(50):
            body = {
                "external_id": f"backlog-{n}",
                "items": [
                    {"product_id": shop.product_id, "variant_id": shop.variant_id, "quantity": q}
                    for q in (1, 2, 3)
                ],
            }
            jobs.append((f"backlog-{n}", _poster(body)))
        outcomes = burst(admin, jobs, concurrency=4)
        assert {o.status for o in outcomes.values()} == {201}
    placed = (
        "SELECT count(*) FROM outbox_events WHERE name = 'order.placed' AND delivered_at IS NULL"
    )
    assert invariants.scalar(launcher.database_url, placed) == 50

    worker = launcher.worker("worker").start()
    # Killed once the first events are finished (delivered_at set): the dispatcher records
    # subscriber deliveries as they happen but finishes processed events together every
    # 0.1 s, so on a fast machine the first deliveries can all come before any event is done.
    wait_for(
        lambda: invariants.scalar(launcher.database_url, placed) < 50,
        timeout=120,
        interval=0.02,
        what="the worker's first delivered events",
    )
    worker.kill()
    left = invariants.scalar(launcher.database_url, placed)
    assert 0 < left < 50, f"the kill must land inside the delivery ({left} of 50 left)"

    worker.start()
    invariants.wait_delivered(launcher.database_url, timeout=DELIVERY_TIMEOUT)
    assert _orphan_lines(launcher.database_url) == []
    runs = invariants.scalar(launcher.database_url, "SELECT count(*) FROM production_runs")
    assert runs == 150
    assert invariants.all_violations(launcher.database_url) == []
    assert launcher.problems() == []


def _poster(body: dict[str, Any]) -> Callable[[httpx.Client], httpx.Response]:
    return lambda http: http.post("/admin/orders", json=body)
