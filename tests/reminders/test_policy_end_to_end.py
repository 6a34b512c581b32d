"""Days of time through the real pieces: the discoverer flow, the partner dispatcher flow, the
send operation and the log provider. Cadence, the cap parking a run, escalation, a failed send
not counting, once per day, the digest, and the schedule firing at 10:00 Kolkata."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.flows.jobs import scheduled_flow_jobs
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.scheduler import JobRegistry, run_due_jobs
from atelier.platform.settings import Settings
from tests.conftest import T0
from tests.notifications.support import deliver, stored_messages
from tests.reminders.helpers import (
    Shop,
    discoverer_id,
    items_by_run,
    run_discoverer,
    set_policy,
)

DAY = timedelta(days=1)


class World:
    """The clock, the outbox and the message delivery, moved a day at a time."""

    def __init__(
        self,
        admin: TestClient,
        clock: FrozenClock,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
    ) -> None:
        self.admin, self.clock, self.drain, self.db, self.settings = (
            admin,
            clock,
            drain,
            db,
            settings,
        )

    def on_day(self, n: int) -> dict[str, Any]:
        """Run the discoverer at 10:00 Kolkata on overdue day ``n`` (sent at T0, 24 h
        threshold: day 1 is T0 + 1 day), then deliver what it queued."""
        self.clock.set(T0 + n * DAY)
        out = run_discoverer(self.admin)
        self.drain()
        deliver(self.db, self.settings)
        return out

    def reminders(self, run_id: str) -> list[dict[str, Any]]:
        return [
            m
            for m in stored_messages(self.db, production_run_id=run_id)
            if m["template_name"] and "reminder" in m["template_name"]
        ]

    def state(self, run_id: str) -> dict[str, Any]:
        run = self.admin.get(f"/admin/production-runs/{run_id}").json()["production_run"]
        [state] = run["reminders"]
        return dict(state)


@pytest.fixture
def world(
    admin: TestClient,
    clock: FrozenClock,
    drain: Callable[[], int],
    db: Database,
    settings: Settings,
) -> World:
    return World(admin, clock, drain, db, settings)


class TestCadenceAndCap:
    def test_day_1_3_then_parked_on_day_7(
        self, admin: TestClient, client: TestClient, world: World
    ) -> None:
        shop = Shop(admin, client)
        run = shop.sent()
        sent_on = []
        for day in range(1, 8):
            out = world.on_day(day)
            if run["id"] in items_by_run(out):
                sent_on.append(day)
        assert sent_on == [1, 3]
        messages = sorted(world.reminders(run["id"]), key=lambda m: m["created_at"])
        assert [m["status"] for m in messages] == ["sent", "sent"]
        assert [m["context_id"] for m in messages] == [
            f"{run['id']}:reminder:2026-11-03",
            f"{run['id']}:reminder:2026-11-05",
        ]
        assert messages[0]["template_name"] == "atelier_run_reminder_pending_v1"
        parked = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]
        assert parked["status"] == "awaiting_reassignment"
        assert parked["partner_id"] is None and parked["previous_partner_id"] == shop.partner.id
        [state] = parked["reminders"]
        assert state["count"] == 2 and state["parked_at"] and state["escalated_at"]
        events = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        parked_event = next(e for e in events if e["kind"] == "reminder_parked")
        assert parked_event["to_status"] == "awaiting_reassignment"
        assert parked_event["actor_type"] == "scheduler"
        feed = admin.get("/admin/feed", params={"production_run_id": run["id"]}).json()
        assert "production_run.reminder_parked" in [e["kind"] for e in feed["feed_entries"]]
        # Parked: no more partner reminders; the admins hear about it again weekly.
        for day in range(8, 15):
            world.on_day(day)
        assert len(world.reminders(run["id"])) == 2
        feed = admin.get("/admin/feed", params={"production_run_id": run["id"]}).json()
        kinds = [e["kind"] for e in feed["feed_entries"]]
        assert kinds.count("production_run.reminder_escalated") == 1  # day 14

    def test_an_accepted_run_escalates_to_admins(
        self, admin: TestClient, client: TestClient, world: World
    ) -> None:
        shop = Shop(admin, client)
        run = shop.accepted()
        for day in range(1, 8):
            world.on_day(day)
        current = admin.get(f"/admin/production-runs/{run['id']}").json()["production_run"]
        assert current["status"] == "in_progress"  # accepted runs are never parked
        [state] = current["reminders"]
        assert state["bucket"] == "not_started" and state["count"] == 2
        assert state["escalated_at"] and state["escalations"] == 1
        events = admin.get(f"/admin/production-runs/{run['id']}/events").json()["events"]
        assert "reminder_escalated" in [e["kind"] for e in events]

    def test_a_failed_send_does_not_count(
        self, admin: TestClient, client: TestClient, world: World
    ) -> None:
        shop = Shop(admin, client)
        run = shop.sent()
        user_path = f"/admin/partners/{shop.partner.id}/users/{shop.partner.user_id}"
        # Nobody can be reached: the sends are recorded as skipped_no_recipient.
        assert admin.post(user_path, json={"is_active": False}).status_code == 200
        assert run["id"] in items_by_run(world.on_day(1))
        assert [m["status"] for m in world.reminders(run["id"])] == ["skipped_no_recipient"]
        # Not delivered: it does not count, and the next day tries again.
        assert run["id"] in items_by_run(world.on_day(2))
        assert world.state(run["id"])["count"] == 0
        assert admin.post(user_path, json={"is_active": True}).status_code == 200
        assert run["id"] in items_by_run(world.on_day(3))
        statuses = sorted(m["status"] for m in world.reminders(run["id"]))
        assert statuses == ["sent", "skipped_no_recipient", "skipped_no_recipient"]
        out = world.on_day(4)  # counts the delivered one; the next is two days later
        assert world.state(run["id"])["count"] == 1
        assert run["id"] not in items_by_run(out)
        assert run["id"] in items_by_run(world.on_day(5))

    def test_once_per_day_and_again_the_next_day(
        self, admin: TestClient, client: TestClient, world: World
    ) -> None:
        set_policy(admin, cadence_days=[1, 2, 3], cap=5)
        shop = Shop(admin, client)
        run = shop.sent()
        world.on_day(1)
        world.clock.advance(timedelta(hours=4))
        again = run_discoverer(admin)  # the same business day
        assert again["policy"]["items"] == []
        world.drain()
        assert len(world.reminders(run["id"])) == 1
        assert run["id"] in items_by_run(world.on_day(2))
        assert len(world.reminders(run["id"])) == 2
        # Delivery is known at the next pass: day 2's reminder counts from day 3 on.
        assert world.state(run["id"])["count"] == 1
        assert run["id"] in items_by_run(world.on_day(3))
        assert world.state(run["id"])["count"] == 2


class TestDigest:
    def test_one_message_for_several_runs(
        self, admin: TestClient, client: TestClient, world: World
    ) -> None:
        set_policy(admin, digest=True)
        shop = Shop(admin, client)
        first, second = shop.sent(), shop.sent()
        out = world.on_day(1)
        assert out["policy"]["items"] == []
        [digest] = out["policy"]["digests"]
        assert digest["partner_id"] == shop.partner.id and digest["run_count"] == 2
        assert {r["production_run_id"] for r in digest["runs"]} == {first["id"], second["id"]}
        digests = [
            m
            for m in stored_messages(world.db, partner_id=shop.partner.id)
            if m["template_name"] and "digest" in m["template_name"]
        ]
        assert len(digests) == 1 and digests[0]["status"] == "sent"
        # Both runs count the digest as their delivered reminder (known at the next pass).
        out = world.on_day(2)
        assert out["policy"]["digests"] == [] and out["policy"]["items"] == []
        assert world.state(first["id"])["count"] == 1
        assert world.state(second["id"])["count"] == 1


class TestSchedule:
    def test_the_active_discoverer_fires_at_ten_kolkata(
        self, admin: TestClient, client: TestClient, world: World, settings: Settings, db: Database
    ) -> None:
        flow_id = discoverer_id(admin)
        shop = Shop(admin, client)
        run = shop.sent()
        world.clock.set(T0 + timedelta(hours=1))  # Monday, after the 10:00 slot
        assert admin.post(f"/admin/flows/{flow_id}/activate").status_code == 200
        jobs = JobRegistry()
        jobs.add_source("flows", lambda d, s: list(scheduled_flow_jobs(d, s)))
        tuesday_ten_ist = datetime(2026, 11, 3, 4, 30, tzinfo=UTC)
        world.clock.set(tuesday_ten_ist - timedelta(minutes=1))
        assert run_due_jobs(db, settings, world.clock.now(), jobs=jobs) == []
        world.clock.set(tuesday_ten_ist)
        assert run_due_jobs(db, settings, tuesday_ten_ist, jobs=jobs) == [f"flow:{flow_id}"]
        executions = admin.get(f"/admin/flows/{flow_id}/executions").json()["executions"]
        assert [e["triggered_by"] for e in executions] == ["schedule:2026-11-03T04:30:00Z"]
        world.drain()
        deliver(db, settings)
        assert len(world.reminders(run["id"])) == 1
