"""The daily discoverer over real runs: buckets, thresholds edited through the API, skips,
one reminder per run per business day, state in the admin run read."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from tests.factories import catalog
from tests.reminders.helpers import Shop, items_by_run, run_discoverer, set_policy

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def reminder_events(db: Database) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    with db.session(write=False) as session:
        rows = session.execute(
            select(OutboxEvent.name, OutboxEvent.payload)
            .where(OutboxEvent.name.like("production_run.reminder_%"))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        ).all()
    return [(name, payload) for name, payload in rows]


class TestBuckets:
    def test_three_buckets_after_their_thresholds(
        self, admin: TestClient, client: TestClient, clock: FrozenClock, db: Database
    ) -> None:
        shop = Shop(admin, client)
        pending = shop.sent()
        not_started = shop.accepted()
        idle = shop.started()
        clock.advance(25 * HOUR)
        out = run_discoverer(admin)
        found = out["find"]
        assert found["inspected"] == 3
        assert found["counts"] == {"assignment_pending": 1, "not_started": 1, "idle": 0}
        assert found["skipped_not_due"] == 1  # idle waits 72 h
        items = items_by_run(out)
        assert set(items) == {pending["id"], not_started["id"]}
        assert items[pending["id"]]["reminder_kind"] == "assignment_pending"
        assert items[pending["id"]]["days"] == 1
        assert items[pending["id"]]["partner_id"] == shop.partner.id
        assert items[pending["id"]]["design_id"] == shop.design["id"]
        assert out["dispatch"]["triggered"] == 2 and out["dispatch"]["failed"] == 0
        assert out["log_summary"]["message"].startswith("Reminder run — inspected 3")
        clock.advance(2 * DAY)
        out = run_discoverer(admin)
        assert out["find"]["counts"]["idle"] == 1
        assert idle["id"] in {s["production_run_id"] for s in out["find"]["stalled"]}
        events = reminder_events(db)
        assert sorted(name for name, _ in events[:2]) == [
            "production_run.reminder_assignment_pending",
            "production_run.reminder_not_started",
        ]
        payload = events[0][1]
        for key in ("production_run_id", "partner_id", "design_id", "reminder_kind", "days"):
            assert key in payload
        assert payload["context_id"].endswith(":reminder:2026-11-03")

    def test_thresholds_are_edited_through_the_api(
        self, admin: TestClient, client: TestClient, clock: FrozenClock
    ) -> None:
        shop = Shop(admin, client)
        run = shop.sent()
        clock.advance(25 * HOUR)
        set_policy(admin, assignment_pending_hours=48)
        out = run_discoverer(admin)
        assert out["find"]["counts"]["assignment_pending"] == 0
        assert out["find"]["skipped_not_due"] == 1
        set_policy(admin, assignment_pending_hours=12)
        assert run["id"] in items_by_run(run_discoverer(admin))
        bad = admin.put(
            f"/admin/flows/{out['_execution']['flow_id']}",
            json={
                "steps": [
                    {"key": "find", "operation": "find_stalled_runs", "options": {"idle_hours": -1}}
                ]
            },
        )
        assert bad.status_code == 422

    def test_idle_counts_from_the_last_real_activity(
        self, admin: TestClient, client: TestClient, clock: FrozenClock
    ) -> None:
        shop = Shop(admin, client)
        run = shop.started()
        clock.advance(70 * HOUR)
        progress = admin.post(
            f"/admin/production-runs/{run['id']}/progress", json={"produced_quantity": 3}
        )
        assert progress.status_code == 200, progress.text
        clock.advance(10 * HOUR)  # 80 h after start, 10 h after the last progress
        out = run_discoverer(admin)
        assert out["find"]["counts"]["idle"] == 0
        clock.advance(63 * HOUR)
        assert run["id"] in items_by_run(run_discoverer(admin))


class TestSkips:
    def test_runs_waiting_on_the_brand_or_without_partner_are_counted_and_skipped(
        self, admin: TestClient, client: TestClient, clock: FrozenClock
    ) -> None:
        shop = Shop(admin, client)
        held = shop.sent()
        admin.post(f"/admin/production-runs/{held['id']}/hold", json={"reason": "fabric not sent"})
        declined = shop.sent()
        admin.post(
            f"/partners/production-runs/{declined['id']}/decline",
            json={"reason": "capacity"},
            headers=shop.partner.headers,
        )
        clock.advance(30 * HOUR)
        out = run_discoverer(admin)
        assert out["find"]["skipped_on_hold"] == 1
        assert out["policy"]["items"] == []
        # A declined run awaits reassignment by an admin; reminders leave it alone.
        assert out["find"]["inspected"] == 1
        admin.post(f"/admin/production-runs/{held['id']}/release")
        assert held["id"] in items_by_run(run_discoverer(admin))


class TestDependencies:
    def test_a_run_waiting_on_an_unfinished_dependency_is_skipped(
        self, admin: TestClient, client: TestClient, clock: FrozenClock, db: Database
    ) -> None:
        from sqlalchemy import update

        from atelier.production.models import ProductionRun

        shop = Shop(admin, client)
        first, waiting = shop.sent(), shop.sent()
        # Set directly: the API never dispatches a run whose dependencies are open, but the
        # discoverer must not chase one that got there anyway (imported data, manual fixes).
        with db.session() as session:
            session.execute(
                update(ProductionRun)
                .where(ProductionRun.id == waiting["id"])
                .values(depends_on_run_ids=[first["id"], "prod_run_gone"])
            )
        clock.advance(30 * HOUR)
        out = run_discoverer(admin)
        assert out["find"]["skipped_waiting_on_dependencies"] == 1
        assert set(items_by_run(out)) == {first["id"]}


class TestOncePerDay:
    def test_a_second_pass_the_same_day_sends_nothing(
        self, admin: TestClient, client: TestClient, clock: FrozenClock, db: Database
    ) -> None:
        shop = Shop(admin, client)
        run = shop.sent()
        clock.advance(25 * HOUR)
        first = run_discoverer(admin)
        assert run["id"] in items_by_run(first)
        clock.advance(5 * HOUR)
        second = run_discoverer(admin)
        assert second["policy"]["items"] == []
        assert second["policy"]["decisions"]["sent_today"] == 1
        assert len(reminder_events(db)) == 1


class TestReminderStateOnTheRun:
    def test_admin_run_read_shows_reminders(
        self, admin: TestClient, client: TestClient, clock: FrozenClock
    ) -> None:
        shop = Shop(admin, client)
        run = shop.sent()
        assert (
            admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]["reminders"]
            == []
        )
        clock.advance(25 * HOUR)
        run_discoverer(admin)
        state = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"][
            "reminders"
        ]
        assert len(state) == 1
        assert state[0]["bucket"] == "assignment_pending"
        assert state[0]["count"] == 0  # nothing delivered yet
        assert state[0]["last_attempt_at"]
        assert state[0]["next_due_at"]
        assert state[0]["escalated_at"] is None

    def test_reassign_resets_reminder_state(
        self, admin: TestClient, client: TestClient, clock: FrozenClock
    ) -> None:
        shop = Shop(admin, client)
        run = shop.sent()
        clock.advance(25 * HOUR)
        run_discoverer(admin)
        other = catalog.create_partner(admin, client)
        response = admin.post(
            f"/admin/production-runs/{run['id']}/reassign", json={"partner_id": other.id}
        )
        assert response.status_code == 200, response.text
        assert (
            admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]["reminders"]
            == []
        )
