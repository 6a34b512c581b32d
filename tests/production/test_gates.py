from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.audit.models import RunEvent
from atelier.notifications.feed_subscribers import feed_gate_overdue
from atelier.notifications.models import AdminFeedEntry
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from atelier.platform.outbox import Event
from atelier.platform.scheduler import JobRegistry, run_due_jobs
from atelier.platform.settings import Settings, get_settings
from atelier.production.gates import Gate, next_gate
from atelier.production.jobs import (
    GATE_SWEEP_CRON,
    GATE_SWEEP_JOB,
    gate_sweeper,
    sweep_overdue_gates,
)
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.catalog import PartnerHandle
from tests.factories.tasks import dispatched_run
from tests.media.support import admin_headers, load_run, relogin

OVERDUE = "production_run.gate_overdue"
OVERDUE_ENTRY = AdminFeedEntry.kind == OVERDUE
TIMEOUT = timedelta(days=23)
PAST_DEADLINE = TIMEOUT + timedelta(minutes=1)
T = datetime(2026, 1, 1, tzinfo=UTC)


class TestNextGate:
    @pytest.mark.parametrize(
        ("status", "dispatched", "accepted", "started", "finished", "gate", "anchor"),
        [
            ("draft", None, None, None, None, None, None),
            ("pending_review", None, None, None, None, None, None),
            ("approved", None, None, None, None, None, None),
            ("approved", T, None, None, None, None, None),
            ("sent_to_partner", None, None, None, None, None, None),
            ("sent_to_partner", T, None, None, None, Gate.ACCEPT, T),
            ("in_progress", T, T + timedelta(1), None, None, Gate.START, T + timedelta(1)),
            ("in_progress", T, T, T + timedelta(2), None, Gate.FINISH, T + timedelta(2)),
            ("in_progress", T, T, T, T + timedelta(3), Gate.COMPLETE, T + timedelta(3)),
            ("completed", T, T, T, T, None, None),
            ("cancelled", T, None, None, None, None, None),
            ("awaiting_reassignment", T, None, None, None, None, None),
        ],
    )
    def test_table(
        self,
        status: str,
        dispatched: datetime | None,
        accepted: datetime | None,
        started: datetime | None,
        finished: datetime | None,
        gate: Gate | None,
        anchor: datetime | None,
    ) -> None:
        result = next_gate(status, dispatched, accepted, started, finished, TIMEOUT)
        assert result == (gate, anchor + TIMEOUT if anchor else None)


def _partner_and_run(admin: TestClient, client: TestClient) -> tuple[PartnerHandle, dict[str, Any]]:
    design = catalog.create_design(admin)
    partner = catalog.create_partner(admin, client)
    run = dispatched_run(admin, partner=partner, design_id=design["id"])
    return partner, run


def _sweep(db: Database, now: datetime) -> int:
    with db.session() as session:
        return sweep_overdue_gates(session, now)


def _count(db: Database, model: Any, *where: Any) -> int:
    with db.session(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _overdue_events(db: Database, run_id: str) -> list[RunEvent]:
    with db.session(write=False) as s:
        return list(
            s.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind == "gate_overdue")
            )
        )


class TestGateTracking:
    def test_dispatch_arms_the_accept_gate(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        _, run = _partner_and_run(admin, client)
        row = load_run(db, run["id"])
        assert row.current_gate == "accept"
        assert row.dispatch_completed_at is not None
        assert row.gate_deadline_at == row.dispatch_completed_at + TIMEOUT
        assert row.overdue_gate is None

    def test_each_milestone_moves_the_gate(
        self, admin: TestClient, client: TestClient, db: Database, clock: FrozenClock
    ) -> None:
        partner, run = _partner_and_run(admin, client)
        expected = {"accept": "start", "start": "finish", "finish": "complete"}
        for action, gate in expected.items():
            clock.advance(timedelta(days=1))
            response = client.post(
                f"/partners/production-runs/{run['id']}/{action}",
                headers=relogin(client, partner),
            )
            assert response.status_code == 200, response.text
            row = load_run(db, run["id"])
            assert row.current_gate == gate
            assert row.gate_deadline_at == clock.now() + TIMEOUT

    def test_cancel_clears_the_gate(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        _, run = _partner_and_run(admin, client)
        response = admin.post(f"/admin/production-runs/{run['id']}/cancel", json={"reason": "x"})
        assert response.status_code == 200, response.text
        row = load_run(db, run["id"])
        assert (row.current_gate, row.gate_deadline_at) == (None, None)

    def test_timeout_comes_from_settings(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("ATELIER_GATE_TIMEOUT", "P2D")
        get_settings.cache_clear()
        try:
            _, run = _partner_and_run(admin, client)
        finally:
            monkeypatch.delenv("ATELIER_GATE_TIMEOUT")
            get_settings.cache_clear()
        row = load_run(db, run["id"])
        assert row.dispatch_completed_at is not None
        assert row.gate_deadline_at == row.dispatch_completed_at + timedelta(days=2)


class TestSweeper:
    def test_nothing_before_the_deadline(
        self, admin: TestClient, client: TestClient, db: Database, clock: FrozenClock
    ) -> None:
        _, run = _partner_and_run(admin, client)
        clock.advance(TIMEOUT - timedelta(minutes=1))
        assert _sweep(db, clock.now()) == 0
        assert load_run(db, run["id"]).overdue_gate is None

    def test_flags_once_per_gate_and_never_cancels(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        _, run = _partner_and_run(admin, client)
        clock.advance(PAST_DEADLINE)
        assert _sweep(db, clock.now()) == 1
        assert _sweep(db, clock.now()) == 0
        clock.advance(timedelta(days=5))
        assert _sweep(db, clock.now()) == 0

        row = load_run(db, run["id"])
        assert row.status == "sent_to_partner"
        assert row.overdue_gate == "accept"
        assert row.overdue_at is not None
        events = _overdue_events(db, run["id"])
        assert len(events) == 1
        assert events[0].actor_type == "scheduler"
        assert events[0].data["gate"] == "accept"
        assert events[0].data["deadline"] == row.gate_deadline_at.isoformat()  # type: ignore[union-attr]
        drain()
        assert (
            _count(db, AdminFeedEntry, OVERDUE_ENTRY, AdminFeedEntry.production_run_id == run["id"])
            == 1
        )
        assert _count(db, OutboxEvent, OutboxEvent.name == "production_run.gate_overdue") == 1

    def test_after_the_partner_acts_the_next_gate_is_armed(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        partner, run = _partner_and_run(admin, client)
        clock.advance(PAST_DEADLINE)
        assert _sweep(db, clock.now()) == 1
        response = client.post(
            f"/partners/production-runs/{run['id']}/accept", headers=relogin(client, partner)
        )
        assert response.status_code == 200, response.text
        row = load_run(db, run["id"])
        assert row.current_gate == "start"
        assert row.gate_deadline_at == clock.now() + TIMEOUT
        assert (row.overdue_gate, row.overdue_at) == (None, None)
        assert _sweep(db, clock.now()) == 0
        clock.advance(PAST_DEADLINE)
        assert _sweep(db, clock.now()) == 1
        assert sorted(e.data["gate"] for e in _overdue_events(db, run["id"])) == ["accept", "start"]
        drain()
        assert _count(db, AdminFeedEntry, OVERDUE_ENTRY) == 2

    def test_batches_commit_one_by_one(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        runs = [_partner_and_run(admin, client)[1] for _ in range(5)]
        clock.advance(PAST_DEADLINE)
        session = db.new_session(write=True)
        try:
            flagged = sweep_overdue_gates(session, clock.now(), commit_batches=True, batch_size=2)
            session.commit()
        finally:
            session.close()
        assert flagged == 5
        assert all(load_run(db, r["id"]).overdue_gate == "accept" for r in runs)
        drain()
        assert _count(db, AdminFeedEntry, OVERDUE_ENTRY) == 5
        assert _sweep(db, clock.now()) == 0

    def test_terminal_runs_are_not_flagged(
        self, admin: TestClient, client: TestClient, db: Database, clock: FrozenClock
    ) -> None:
        _, run = _partner_and_run(admin, client)
        admin.post(f"/admin/production-runs/{run['id']}/cancel", json={"reason": "x"})
        clock.advance(PAST_DEADLINE)
        assert _sweep(db, clock.now()) == 0

    def test_concurrent_sweepers_flag_once(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        runs = [_partner_and_run(admin, client)[1] for _ in range(3)]
        clock.advance(PAST_DEADLINE)
        barrier = threading.Barrier(4)
        totals: list[int] = []
        errors: list[BaseException] = []

        def sweep() -> None:
            try:
                barrier.wait()
                session = db.new_session(write=True)
                try:
                    totals.append(sweep_overdue_gates(session, clock.now()))
                    session.commit()
                finally:
                    session.close()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(totals) == 3
        for run in runs:
            assert len(_overdue_events(db, run["id"])) == 1
        drain()
        assert _count(db, AdminFeedEntry, OVERDUE_ENTRY) == 3
        assert _count(db, OutboxEvent, OutboxEvent.name == "production_run.gate_overdue") == 3

    def test_runs_as_a_scheduled_job_once_per_slot(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        settings: Settings,
    ) -> None:
        _, run = _partner_and_run(admin, client)
        clock.advance(PAST_DEADLINE)
        jobs = JobRegistry()
        jobs.register(GATE_SWEEP_JOB, GATE_SWEEP_CRON)(gate_sweeper)
        assert run_due_jobs(db, settings, jobs=jobs, worker_id="a") == [GATE_SWEEP_JOB]
        assert run_due_jobs(db, settings, jobs=jobs, worker_id="b") == []
        clock.advance(timedelta(minutes=15))
        assert run_due_jobs(db, settings, jobs=jobs, worker_id="b") == [GATE_SWEEP_JOB]
        assert len(_overdue_events(db, run["id"])) == 1


class TestAdminFeed:
    def _overdue_world(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        for _ in range(3):
            _partner_and_run(admin, client)
            clock.advance(timedelta(minutes=1))
        clock.advance(PAST_DEADLINE)
        assert _sweep(db, clock.now()) == 3
        drain()  # the feed entries are subscribers of production_run.gate_overdue

    def test_lists_newest_first_with_pagination(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        self._overdue_world(admin, client, db, clock, drain)
        admin.headers.update(admin_headers(client))
        body = admin.get("/admin/feed", params={"kind": OVERDUE}).json()
        # unread_count is the whole feed's: the three runs' "sent" entries are unread too.
        assert body["count"] == 3 and body["unread_count"] == 6
        entries = body["feed_entries"]
        assert all(e["kind"] == OVERDUE for e in entries)
        assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
        page = admin.get("/admin/feed", params={"kind": OVERDUE, "limit": 2, "offset": 2}).json()
        assert [e["id"] for e in page["feed_entries"]] == [entries[2]["id"]]
        assert (page["limit"], page["offset"], page["count"]) == (2, 2, 3)

    def test_read_and_unread_filter(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        self._overdue_world(admin, client, db, clock, drain)
        admin.headers.update(admin_headers(client))
        first = admin.get("/admin/feed", params={"kind": OVERDUE}).json()["feed_entries"][0]
        read = admin.post(f"/admin/feed/{first['id']}/read")
        assert read.status_code == 200
        entry = read.json()["feed_entry"]
        assert entry["read"] is True and entry["read_at"]
        clock.advance(timedelta(hours=1))
        again = admin.post(f"/admin/feed/{first['id']}/read").json()["feed_entry"]
        assert again["read_at"] == entry["read_at"]
        unread = admin.get("/admin/feed", params={"unread": "true", "kind": OVERDUE}).json()
        assert unread["count"] == 2 and first["id"] not in [e["id"] for e in unread["feed_entries"]]
        assert admin.get("/admin/feed", params={"unread": "false"}).json()["count"] == 1
        # The other two overdue entries and the three runs' "sent" entries.
        assert admin.post("/admin/feed/read-all").json() == {"marked_read": 5}
        assert admin.get("/admin/feed").json()["unread_count"] == 0

    def test_a_redelivered_overdue_event_adds_no_second_entry(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        clock: FrozenClock,
        drain: Callable[[], int],
    ) -> None:
        _, run = _partner_and_run(admin, client)
        clock.advance(PAST_DEADLINE)
        assert _sweep(db, clock.now()) == 1
        assert _count(db, AdminFeedEntry, OVERDUE_ENTRY) == 0  # a reaction, by the outbox
        drain()
        with db.session() as s:
            row = s.scalars(
                select(OutboxEvent).where(OutboxEvent.name == "production_run.gate_overdue")
            ).one()
            event = Event(row.id, row.name, dict(row.payload), row.created_at, row.attempts)
            feed_gate_overdue(s, event)
        with db.session(write=False) as s:
            entry = s.scalars(select(AdminFeedEntry).where(OVERDUE_ENTRY)).one()
            assert entry.title == f"Run {run['id']} is overdue at the accept gate"
            assert entry.data["gate"] == "accept"

    def test_add_feed_entry_is_once_per_dedup_key(self, db: Database) -> None:
        from atelier.notifications.feed import add_feed_entry

        with db.session() as s:
            first = add_feed_entry(s, "note", "Hello", dedup_key="k1")
            again = add_feed_entry(s, "note", "Hello again", dedup_key="k1")
            plain = add_feed_entry(s, "note", "No key")
            assert first is not None and again is None and plain is not None
        with db.session() as s:
            assert add_feed_entry(s, "note", "Later", dedup_key="k1") is None
        assert _count(db, AdminFeedEntry) == 2

    def test_guards(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        assert_problem(admin.post("/admin/feed/feed_nope/read"), 404, "feed_entry_not_found")
        assert_problem(admin.get("/admin/feed", params={"limit": 501}), 422)
        assert_problem(admin.get("/admin/feed", params={"offset": -1}), 422)
        assert_problem(client.get("/admin/feed", headers=partner.headers), 403)
        assert_problem(client.get("/admin/feed"), 401)
        assert_problem(client.post("/admin/feed/read-all"), 401)
