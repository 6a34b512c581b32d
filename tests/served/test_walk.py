"""The shipped process, end to end: ``atelier serve`` (production logging, embedded worker and
scheduler) walked over real HTTP with keep-alive from a signed order webhook to a completed
parent run. No 5xx, no traceback, no ERROR line, and stock moved exactly once."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.served import invariants, scenario
from tests.served.support import Launcher, admin_token, client, ok, signed_order, wait_for

pytestmark = pytest.mark.served

RUNS = "/admin/production-runs"
PARTNER_RUNS = "/partners/production-runs"


def test_order_webhook_to_completed_parent(make_launcher: Callable[..., Launcher]) -> None:
    launcher = make_launcher("walk")
    api = launcher.serve("api").start()
    api.wait_healthy()
    with client(api) as http:
        admin = client(api, admin_token(http))
    with admin:
        shop = scenario.build_catalog(admin, partners=2, fabric=100.0, thread=50.0)
        cutter, tailor = shop.partners

        # 1. A signed order webhook; a replay of the same delivery answers the same order.
        order_body = {
            "external_id": "shop-walk-1001",
            "email": "buyer@example.test",
            "items": [
                {"product_id": shop.product_id, "variant_id": shop.variant_id, "quantity": 10}
            ],
        }
        raw, headers = signed_order(order_body)

        def place() -> httpx.Response:
            return admin.post("/webhooks/orders", content=raw, headers=headers)

        order = ok(place(), 201)["order"]
        again = ok(place(), 200)["order"]
        assert again["id"] == order["id"]

        # 2. The embedded worker delivers order.placed: one pending run for the line.
        def order_runs() -> list[dict[str, object]]:
            body = ok(admin.get(RUNS, params={"order_id": order["id"]}))
            found: list[dict[str, object]] = body["production_runs"]
            return found

        (parent,) = wait_for(order_runs, timeout=60, what="the order's production run")
        assert parent["status"] == "pending_review"
        assert parent["order_line_item_id"] == order["items"][0]["id"]

        # 3. Split across two partners: the cutter first, then the tailor.
        approval = ok(
            admin.post(
                f"{RUNS}/{parent['id']}/approve",
                json={
                    "assignments": [
                        {"partner_id": cutter.id, "role": "cutting", "quantity": 5, "order": 1},
                        {
                            "partner_id": tailor.id,
                            "role": "stitching",
                            "quantity": 5,
                            "order": 2,
                            "template_names": ["Stitching"],
                        },
                    ]
                },
            )
        )
        children = {c["partner_id"]: c for c in approval["children"]}
        first, second = children[cutter.id], children[tailor.id]
        assert second["depends_on_run_ids"] == [first["id"]]
        assert approval["dispatch"]["deferred_for_ordering"] is True

        # 4. Dispatch the first child: pause for templates, then confirm.
        paused = ok(admin.post(f"{RUNS}/{first['id']}/dispatch"), 202)
        assert paused["production_run"]["dispatch_state"] == "awaiting_templates"
        confirmed = ok(
            admin.post(
                f"{RUNS}/{first['id']}/dispatch/confirm", json={"template_names": ["Cutting"]}
            )
        )
        assert confirmed["production_run"]["status"] == "sent_to_partner"

        # 5. The cutter works its run: accept, start, finish, complete with consumption.
        _milestones(admin, cutter, first["id"])
        done = ok(
            admin.post(
                f"{PARTNER_RUNS}/{first['id']}/complete",
                headers=cutter.headers,
                json={
                    "produced_quantity": 5,
                    "notes": "cut",
                    "consumptions": [{"inventory_item_id": shop.fabric_id, "quantity": 12.5}],
                },
            )
        )
        assert done["production_run"]["status"] == "completed"
        assert done["consumptions_committed"] == 1

        # 6. The production_run.completed subscriber (the embedded worker) released the tailor's
        # run with its template intent.
        def released() -> bool:
            return bool(scenario.run(admin, second["id"])["status"] == "sent_to_partner")

        wait_for(released, timeout=60, what="the dependant's release")

        # 7. The tailor logs thread during the work, then completes with one reject.
        ok(admin.post(f"{PARTNER_RUNS}/{second['id']}/accept", headers=tailor.headers))
        ok(admin.post(f"{PARTNER_RUNS}/{second['id']}/start", headers=tailor.headers))
        ok(
            admin.post(
                f"{PARTNER_RUNS}/{second['id']}/consumption-logs",
                headers=tailor.headers,
                json={"inventory_item_id": shop.thread_id, "quantity": 3},
            ),
            201,
        )
        ok(
            admin.post(
                f"{PARTNER_RUNS}/{second['id']}/finish",
                headers=tailor.headers,
                json={"notes": "stitched"},
            )
        )
        completed = ok(
            admin.post(
                f"{PARTNER_RUNS}/{second['id']}/complete",
                headers=tailor.headers,
                json={
                    "produced_quantity": 5,
                    "rejected_quantity": 1,
                    "rejection_reason": "stitching_defect",
                },
            )
        )
        assert completed["consumptions_committed"] == 1
        again_done = admin.post(f"{PARTNER_RUNS}/{second['id']}/complete", headers=tailor.headers)
        assert again_done.status_code == 409, again_done.text

        # 8. Both children done: the parent completed (cascade).
        assert scenario.run(admin, parent["id"])["status"] == "completed"

        # 9. Every event delivered; stock moved exactly once.
        invariants.wait_delivered(launcher.database_url, timeout=60)
        assert scenario.level(admin, shop.fabric_id, cutter.location_id) == pytest.approx(87.5)
        assert scenario.level(admin, shop.thread_id, tailor.location_id) == pytest.approx(47.0)
        assert scenario.level(admin, shop.fabric_id, tailor.location_id) == pytest.approx(100.0)
        # Good output: 5 from the cutter's child, 5 - 1 from the tailor's; the parent stocks none.
        assert scenario.finished_goods(admin, shop.output_id) == pytest.approx(9.0)
        movements = ok(
            admin.get("/admin/inventory-movements", params={"production_run_id": first["id"]})
        )["inventory_movements"]
        assert sorted(m["reason"] for m in movements) == ["consumption", "production_output"]
        parent_moves = ok(
            admin.get("/admin/inventory-movements", params={"production_run_id": parent["id"]})
        )["inventory_movements"]
        assert parent_moves == []
        assert invariants.all_violations(launcher.database_url) == []

        # A replayed delivery after all this creates nothing new.
        ok(place(), 200)
        invariants.wait_delivered(launcher.database_url, timeout=60)
        assert len(order_runs()) == 1

    assert api.alive
    assert launcher.problems() == []


def _milestones(http: httpx.Client, partner: scenario.Partner, run_id: str) -> None:
    for step in ("accept", "start", "finish"):
        ok(http.post(f"{PARTNER_RUNS}/{run_id}/{step}", headers=partner.headers))
