"""Schedule triggers (flow's own time zone, once per slot across workers, draft never fires)
and event triggers (each matching active flow once per event, even on redelivery)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from atelier.flows.jobs import scheduled_flow_jobs
from atelier.flows.models import FlowExecution
from atelier.flows.subscribers import SUBSCRIBER_NAME
from atelier.platform import outbox
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.models import OutboxDelivery, OutboxEvent
from atelier.platform.scheduler import JobRegistry, run_due_jobs
from atelier.platform.settings import Settings
from tests.flows.helpers import create_flow, executions

MONDAY_0430_UTC = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)  # 10:00 in Asia/Kolkata
ECHO = [{"key": "echo", "operation": "transform", "options": {"values": {"got": "input"}}}]


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def flow_jobs() -> JobRegistry:
    jobs = JobRegistry()
    jobs.add_source("flows", lambda db, settings: list(scheduled_flow_jobs(db, settings)))
    return jobs


def schedule_flow(
    admin: TestClient,
    clock: FrozenClock,
    *,
    cron: str = "0 10 * * 1-5",
    tz: str = "Asia/Kolkata",
    active: bool = True,
) -> dict:  # type: ignore[type-arg]
    clock.set(MONDAY_0430_UTC - timedelta(days=3) + timedelta(hours=1))  # Friday, after 10:00 IST
    flow = create_flow(
        admin,
        name=f"Scheduled {cron} {tz}",
        trigger_type="schedule",
        trigger_config={"cron": cron, "timezone": tz},
        steps=ECHO,
        status="active" if active else "draft",
    )
    return flow


def tick(
    db: Database, settings: Settings, jobs: JobRegistry, at: datetime, worker: str = "w1"
) -> list[str]:
    return run_due_jobs(db, settings, at, jobs=jobs, worker_id=worker)


class TestScheduleTrigger:
    @pytest.mark.usefixtures("host_in_new_york")
    def test_ten_am_kolkata_fires_at_0430_utc(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        flow = schedule_flow(admin, clock)
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC - timedelta(minutes=1)) == []
        clock.set(MONDAY_0430_UTC)
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC) == [f"flow:{flow['id']}"]
        clock.set(MONDAY_0430_UTC + timedelta(hours=12))
        listed = executions(admin, flow["id"])
        assert len(listed) == 1
        assert listed[0]["triggered_by"] == "schedule:2026-11-02T04:30:00Z"
        assert listed[0]["status"] == "succeeded"
        assert listed[0]["steps"][0]["output"] == {"got": {"slot": "2026-11-02T04:30:00Z"}}

    def test_same_slot_never_runs_twice(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        flow = schedule_flow(admin, clock)
        clock.set(MONDAY_0430_UTC)
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC) == [f"flow:{flow['id']}"]
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC + timedelta(minutes=5)) == []
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC + timedelta(hours=23)) == []
        tuesday = MONDAY_0430_UTC + timedelta(days=1)
        assert tick(db, settings, flow_jobs, tuesday) == [f"flow:{flow['id']}"]
        with db.session(write=False) as session:
            assert len(list(session.scalars(select(FlowExecution.id)))) == 2

    def test_two_workers_fire_a_slot_once(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        flow = schedule_flow(admin, clock)
        clock.set(MONDAY_0430_UTC)
        barrier = threading.Barrier(3)
        results: dict[str, list[str]] = {}
        errors: list[BaseException] = []

        def worker(name: str) -> None:
            try:
                barrier.wait()
                results[name] = tick(db, settings, flow_jobs, MONDAY_0430_UTC, worker=name)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        assert sorted(name for ran in results.values() for name in ran) == [f"flow:{flow['id']}"]
        with db.session(write=False) as session:
            assert len(list(session.scalars(select(FlowExecution.id)))) == 1

    def test_draft_flows_never_fire_on_schedule(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        flow = schedule_flow(admin, clock, active=False)
        clock.set(MONDAY_0430_UTC)
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC) == []
        assert executions(admin, flow["id"]) == []
        clock.set(MONDAY_0430_UTC + timedelta(seconds=30))
        admin.post(f"/admin/flows/{flow['id']}/activate")
        # Activated after today's slot: that slot is not "missed", tomorrow's fires.
        assert tick(db, settings, flow_jobs, MONDAY_0430_UTC + timedelta(minutes=1)) == []
        tuesday = MONDAY_0430_UTC + timedelta(days=1)
        assert tick(db, settings, flow_jobs, tuesday) == [f"flow:{flow['id']}"]
        admin.post(f"/admin/flows/{flow['id']}/deactivate")
        assert tick(db, settings, flow_jobs, tuesday + timedelta(days=1)) == []

    def test_a_missed_slot_runs_once_late(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        flow = schedule_flow(admin, clock)
        late = MONDAY_0430_UTC + timedelta(hours=3)  # the workers were down at 10:00 IST
        clock.set(late)
        assert tick(db, settings, flow_jobs, late) == [f"flow:{flow['id']}"]
        assert tick(db, settings, flow_jobs, late + timedelta(hours=1)) == []
        listed = executions(admin, flow["id"])
        assert [e["triggered_by"] for e in listed] == ["schedule:2026-11-02T04:30:00Z"]

    def test_editing_the_cron_applies_from_now(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        flow = schedule_flow(admin, clock)
        clock.set(MONDAY_0430_UTC + timedelta(hours=1))
        response = admin.put(
            f"/admin/flows/{flow['id']}",
            json={"trigger_config": {"cron": "0 9 * * *", "timezone": "Asia/Kolkata"}},
        )
        assert response.status_code == 200, response.text
        # 09:00 IST today (03:30 UTC) passed before the edit: not a missed slot.
        assert tick(db, settings, flow_jobs, clock.now()) == []
        tuesday_9_ist = datetime(2026, 11, 3, 3, 30, tzinfo=UTC)
        assert tick(db, settings, flow_jobs, tuesday_9_ist) == [f"flow:{flow['id']}"]

    def test_each_flow_uses_its_own_zone(
        self,
        admin: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
        flow_jobs: JobRegistry,
    ) -> None:
        london = schedule_flow(admin, clock, cron="0 10 2 11 *", tz="Europe/London")
        at = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 10:00 in London (GMT in November)
        clock.set(at)
        assert tick(db, settings, flow_jobs, at - timedelta(minutes=1)) == []
        assert tick(db, settings, flow_jobs, at) == [f"flow:{london['id']}"]


def emit(db: Database, name: str, payload: dict) -> str:  # type: ignore[type-arg]
    with db.session() as session:
        row = outbox.emit(session, name, payload)
        session.flush()
        return row.id


class TestEventTrigger:
    def test_matching_active_flows_run_once_per_event(
        self, admin: TestClient, db: Database, drain: Callable[[], int]
    ) -> None:
        runs = create_flow(
            admin,
            name="Runs",
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "production_run.*"},
            steps=ECHO,
        )
        accepted = create_flow(
            admin,
            name="Accepted only",
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "production_run.accepted"},
            steps=ECHO,
        )
        draft = create_flow(
            admin,
            name="Draft",
            trigger_type="event",
            trigger_config={"event_pattern": "*"},
            steps=ECHO,
        )
        emit(db, "production_run.accepted", {"production_run_id": "prod_run_1"})
        emit(db, "production_run.started", {"production_run_id": "prod_run_1"})
        emit(db, "order.placed", {"order_id": "order_1"})
        drain()
        by_runs = executions(admin, runs["id"])
        assert sorted(e["triggered_by"] for e in by_runs) == [
            "event:production_run.accepted",
            "event:production_run.started",
        ]
        assert by_runs[0]["input"] == {"production_run_id": "prod_run_1"}
        assert [e["triggered_by"] for e in executions(admin, accepted["id"])] == [
            "event:production_run.accepted"
        ]
        assert executions(admin, draft["id"]) == []
        prefix = executions(admin, runs["id"], triggered_by="event:production_run.acc")
        assert len(prefix) == 1

    def test_redelivery_does_not_run_a_flow_twice(
        self, admin: TestClient, db: Database, drain: Callable[[], int]
    ) -> None:
        flow = create_flow(
            admin,
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "test.*"},
            steps=ECHO,
        )
        event_id = emit(db, "test.happened", {"n": 1})
        drain()
        # The event comes round again (e.g. a lost delivery record after a lease expired).
        with db.session() as session:
            session.execute(
                delete(OutboxDelivery).where(OutboxDelivery.subscriber == SUBSCRIBER_NAME)
            )
            session.execute(
                update(OutboxEvent).where(OutboxEvent.id == event_id).values(delivered_at=None)
            )
        assert drain() == 1
        assert len(executions(admin, flow["id"])) == 1

    def test_a_failing_flow_is_recorded_and_the_event_is_delivered(
        self, admin: TestClient, db: Database, drain: Callable[[], int]
    ) -> None:
        bad = [
            {"key": "boom", "operation": "transform", "options": {"values": {"x": "input.nope"}}}
        ]
        flow = create_flow(
            admin,
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "test.*"},
            steps=bad,
        )
        emit(db, "test.happened", {})
        drain()  # raises if any subscriber failed
        listed = executions(admin, flow["id"])
        assert [e["status"] for e in listed] == ["failed"]
        assert listed[0]["failed_step"] == "boom"

    def test_events_emitted_by_a_flow_trigger_other_flows(
        self, admin: TestClient, db: Database, drain: Callable[[], int]
    ) -> None:
        emitter = create_flow(
            admin,
            name="Emitter",
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "test.start"},
            steps=[
                {
                    "key": "emit",
                    "operation": "emit_event",
                    "options": {"event_name": "test.next", "payload": {"from": "input.n"}},
                }
            ],
        )
        receiver = create_flow(
            admin,
            name="Receiver",
            status="active",
            trigger_type="event",
            trigger_config={"event_pattern": "test.next"},
            steps=ECHO,
        )
        emit(db, "test.start", {"n": 7})
        drain()
        assert len(executions(admin, emitter["id"])) == 1
        got = executions(admin, receiver["id"])
        assert [e["input"] for e in got] == [{"from": 7}]
