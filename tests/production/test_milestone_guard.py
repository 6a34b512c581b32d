"""Milestones written without the ORM's unit of work (``production.milestones``): the same rows
as the ORM path they replaced, the guarded UPDATE when the run's facts moved under it, and
simultaneous accepts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from atelier.audit.models import RunEvent
from atelier.platform.actors import Actor, ActorType, Channel
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from atelier.production import milestones, repository_writes
from atelier.production.models import ProductionRun
from atelier.production.schemas import ProductionRunRead
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.live import together
from tests.production import orm_milestones
from tests.production.lifecycle_helpers import Dispatched, dispatched, post_ok

# What differs between two runs dispatched alike: their ids and their own task templates.
_OWN = ("id", "dispatch_template_names", "dispatch_template_ids", "dispatched_template_ids")
_AUDIT = ("kind", "from_status", "to_status", "actor_type", "actor_id", "channel", "data")


def _alike(fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, **dict.fromkeys(_OWN)}


def _columns(db: Database, run_id: str) -> dict[str, Any]:
    with db.session(write=False) as session:
        run = session.get(ProductionRun, run_id)
        assert run is not None
        return {c.key: getattr(run, c.key) for c in inspect(ProductionRun).column_attrs}


def _trail(db: Database, run_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[str, Any]]]:
    """The run's audit rows (without ids) and its events (payloads without the run id)."""
    with db.session(write=False) as session:
        audit = [
            (*(getattr(e, name) for name in _AUDIT), e.occurred_at)
            for e in session.scalars(
                select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
            )
        ]
        events = []
        for event in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)):
            payload = dict(event.payload)
            if payload.pop("production_run_id", None) == run_id:
                events.append((event.name, payload))
    return audit, events


class TestSameRowsAsTheOrmPath:
    def test_accept_start_progress_finish(
        self, admin: TestClient, client: TestClient, db: Database, clock: FrozenClock
    ) -> None:
        partner = catalog.create_partner(admin, client)
        design = catalog.create_design(admin)
        core = dispatched(admin, client, partner=partner, design=design, tasks=2)
        orm = dispatched(admin, client, partner=partner, design=design, tasks=2)
        actor = Actor(ActorType.PARTNER, partner.id, Channel.API)
        answers: list[tuple[dict[str, Any], dict[str, Any]]] = []
        steps = [
            (milestones.accept_run, orm_milestones.accept, {}),
            (milestones.start_run, orm_milestones.start, {}),
            (milestones.record_progress, orm_milestones.progress, {"produced_quantity": 4}),
            (milestones.record_progress, orm_milestones.progress, {"produced_quantity": 3}),
            (milestones.finish_run, orm_milestones.finish, {"notes": "done"}),
        ]
        for new, old, kwargs in steps:
            clock.advance(timedelta(minutes=7))
            with db.session() as session:
                body, _message = new(session, core.id, actor=actor, partner_id=partner.id, **kwargs)
            with db.session() as session:
                run = old(session, orm.id, actor, partner.id, *kwargs.values())
                reference = ProductionRunRead.model_validate(run).model_dump()
            answers.append((body, reference))
        for body, reference in answers:
            assert _alike(body) == _alike(reference)
        core_columns, orm_columns = _columns(db, core.id), _columns(db, orm.id)
        assert _alike(core_columns) == _alike(orm_columns)
        assert core_columns["current_gate"] == "complete"
        audit, events = _trail(db, core.id)
        orm_audit, orm_events = _trail(db, orm.id)
        milestone_kinds = {"accepted", "started", "progress_updated", "finished"}
        assert len(audit) == len(orm_audit)
        assert [a for a in audit if a[0] in milestone_kinds] == [
            a for a in orm_audit if a[0] in milestone_kinds
        ]
        events = [e for e in events if e[0].split(".")[1] in milestone_kinds]
        assert events == [e for e in orm_events if e[0].split(".")[1] in milestone_kinds]
        assert [name for name, _ in events] == [
            "production_run.accepted",
            "production_run.started",
            "production_run.progress_updated",
            "production_run.progress_updated",
            "production_run.finished",
        ]
        assert audit[-2][-2] == {
            "produced_quantity": 3,
            "previous_produced_quantity": 4,
            "quantity": 10,
        }

    def test_a_run_loaded_earlier_in_the_session_is_read_again(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        run = dispatched(admin, client)
        actor = Actor(ActorType.PARTNER, run.partner.id, Channel.API)
        with db.session() as session:
            loaded = session.get(ProductionRun, run.id)
            assert loaded is not None and loaded.status == "sent_to_partner"
            milestones.accept_run(session, run.id, actor=actor)
            assert loaded.status == "in_progress"
            assert loaded.current_gate == "start"


@pytest.fixture
def run(admin: TestClient, client: TestClient) -> Dispatched:
    return dispatched(admin, client, tasks=2)


@pytest.fixture
def owner(app: FastAPI, run: Dispatched) -> TestClient:
    return TestClient(app, headers=run.partner.headers, raise_server_exceptions=False)


def _snapshot(db: Database, run_id: str) -> tuple[dict[str, Any], int, dict[str, Any] | None]:
    with db.session() as session:
        found = repository_writes.locked_run_row(session, run_id, "lifecycle")
    assert found is not None
    return found


@pytest.fixture
def stale_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Rows to hand the milestone instead of reading the run (one per read, then real reads):
    what a read that another writer overtook would have seen."""
    queue: list[Any] = []
    real = repository_writes.locked_run_row

    def read(session: Any, run_id: str, policy_key: str) -> Any:
        if queue:
            fields, paused, document = queue.pop(0)
            return dict(fields), paused, document
        return real(session, run_id, policy_key)

    monkeypatch.setattr(repository_writes, "locked_run_row", read)
    yield queue


class TestGuardedUpdate:
    def test_a_read_overtaken_by_an_accept_answers_already_accepted(
        self, owner: TestClient, run: Dispatched, db: Database, stale_reads: list[Any]
    ) -> None:
        before = _snapshot(db, run.id)
        post_ok(owner, run.url("/accept"))
        stale_reads.append(before)  # the second accept decides on the run as it was
        assert_problem(owner.post(run.url("/accept")), 409, "already_accepted")
        assert not stale_reads
        audit, events = _trail(db, run.id)
        assert [row[0] for row in audit].count("accepted") == 1
        assert [name for name, _ in events].count("production_run.accepted") == 1

    def test_a_fact_changed_under_the_guard_is_checked_again(
        self, owner: TestClient, run: Dispatched, db: Database, stale_reads: list[Any]
    ) -> None:
        fields, paused, document = _snapshot(db, run.id)
        stale_reads.append(({**fields, "on_hold": not fields["on_hold"]}, paused, document))
        body = post_ok(owner, run.url("/accept"))
        assert body["production_run"]["status"] == "in_progress"
        assert not stale_reads
        audit, _events = _trail(db, run.id)
        assert [row[0] for row in audit].count("accepted") == 1

    def test_facts_that_keep_moving_answer_run_changed_and_write_nothing(
        self, owner: TestClient, run: Dispatched, db: Database, stale_reads: list[Any]
    ) -> None:
        fields, paused, document = _snapshot(db, run.id)
        moved = {**fields, "dispatch_state": "awaiting_templates_elsewhere"}
        stale_reads.extend([(moved, paused, document)] * 3)
        before = _trail(db, run.id)
        assert_problem(owner.post(run.url("/accept")), 409, "run_changed")
        assert _columns(db, run.id)["status"] == "sent_to_partner"
        assert _trail(db, run.id) == before
        post_ok(owner, run.url("/accept"))


class TestSimultaneousMilestones:
    def test_two_accepts_one_wins(self, app: FastAPI, run: Dispatched, db: Database) -> None:
        callers = [
            TestClient(app, headers=run.partner.headers, raise_server_exceptions=False)
            for _ in range(2)
        ]
        results = together(2, lambda i: callers[i].post(run.url("/accept")))
        statuses = sorted(r.status_code for r in results)  # type: ignore[union-attr]
        assert statuses == [200, 409], results
        [refused] = [r for r in results if r.status_code == 409]  # type: ignore[union-attr]
        assert refused.json()["code"] == "already_accepted"  # type: ignore[union-attr]
        audit, events = _trail(db, run.id)
        assert [row[0] for row in audit].count("accepted") == 1
        assert [name for name, _ in events].count("production_run.accepted") == 1

    def test_simultaneous_progress_reports_each_land_once(
        self, app: FastAPI, owner: TestClient, run: Dispatched, db: Database
    ) -> None:
        post_ok(owner, run.url("/accept"))
        post_ok(owner, run.url("/start"))
        callers = [
            TestClient(app, headers=run.partner.headers, raise_server_exceptions=False)
            for _ in range(4)
        ]
        results = together(
            4,
            lambda i: callers[i].post(run.url("/progress"), json={"produced_quantity": i + 1}),
        )
        assert [r.status_code for r in results] == [200] * 4, results  # type: ignore[union-attr]
        audit, _events = _trail(db, run.id)
        reports = [row[-2] for row in audit if row[0] == "progress_updated"]
        assert sorted(r["produced_quantity"] for r in reports) == [1, 2, 3, 4]
        # Serialised: each report's "previous" is the one committed before it.
        previous = [r["previous_produced_quantity"] for r in reports]
        assert previous[0] is None and previous[1:] == [
            r["produced_quantity"] for r in reports[:-1]
        ]
