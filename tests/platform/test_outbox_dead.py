"""Outbox attempt cap: backoff with jitter, per-subscriber dead deliveries, the dead event's feed
entry (once per death), and transient provider failures that end in success."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import atelier.notifications.feed_subscribers  # noqa: F401  (the dead-event feed entry)
from atelier.notifications.models import AdminFeedEntry
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.dispatcher import (
    FEED_KIND_DEAD,
    OutboxDispatcher,
    backoff,
    retry_delay,
)
from atelier.platform.models import AdminUser, OutboxDelivery, OutboxEvent, OutboxFailure
from atelier.platform.outbox import Event, Handler, SubscriberRegistry, emit

PROVIDER = "https://provider.example.test/v1/messages"


def make(
    db: Database, registry: SubscriberRegistry, *, max_attempts: int, worker: str = "w1"
) -> OutboxDispatcher:
    return OutboxDispatcher(
        db, worker_id=worker, registry=registry, max_attempts=max_attempts, jitter=lambda: 1.0
    )


def emit_one(db: Database, name: str = "x.happened") -> str:
    with db.session() as session:
        row = emit(session, name, {"n": 1})
        session.flush()
        return row.id


def event_row(db: Database, event_id: str) -> OutboxEvent:
    with db.session(write=False) as session:
        row = session.get(OutboxEvent, event_id)
        assert row is not None
        return row


def failure(db: Database, event_id: str, subscriber: str) -> OutboxFailure | None:
    with db.session(write=False) as session:
        return session.scalars(
            select(OutboxFailure).where(
                OutboxFailure.event_id == event_id, OutboxFailure.subscriber == subscriber
            )
        ).one_or_none()


def feed_entries(db: Database) -> list[AdminFeedEntry]:
    with db.session(write=False) as session:
        return list(
            session.scalars(select(AdminFeedEntry).where(AdminFeedEntry.kind == FEED_KIND_DEAD))
        )


def count(db: Database, model: type[object], *where: object) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def run_rounds(dispatcher: OutboxDispatcher, clock: FrozenClock, rounds: int) -> None:
    """Let ``rounds`` delivery rounds happen, moving the clock past each backoff."""
    for _ in range(rounds):
        assert dispatcher.drain() == 1
        clock.advance(MAX_WAIT)


MAX_WAIT = timedelta(hours=1, seconds=1)


@pytest.fixture
def registry() -> SubscriberRegistry:
    return SubscriberRegistry()


class TestBackoffWithJitter:
    def test_jitter_keeps_each_delay_between_half_and_the_full_backoff(self) -> None:
        assert retry_delay(3, lambda: 0.0) == backoff(3) / 2
        assert retry_delay(3, lambda: 1.0) == backoff(3)
        assert retry_delay(3, lambda: 0.5) == backoff(3) * 3 / 4
        # Out-of-range sources are clamped, never a negative or over-long wait.
        assert retry_delay(3, lambda: -5.0) == backoff(3) / 2
        assert retry_delay(3, lambda: 7.0) == backoff(3)

    def test_a_real_dispatcher_spreads_retries_within_the_window(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        def broken(session: Session, event: Event) -> None:
            raise RuntimeError("down")

        registry.register("x.happened", name="broken")(broken)
        ids = [emit_one(db) for _ in range(20)]
        OutboxDispatcher(db, worker_id="w", registry=registry).drain()
        delays = {event_row(db, i).available_at - clock.now() for i in ids}
        assert all(backoff(1) / 2 <= d <= backoff(1) for d in delays), delays
        assert len(delays) > 1  # 20 events failing together do not all come back together


class TestAttemptCap:
    def test_a_subscriber_that_keeps_failing_is_dead_after_max_attempts(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        def broken(session: Session, event: Event) -> None:
            raise RuntimeError("template rejected")

        registry.register("x.happened", name="broken")(broken)
        event_id = emit_one(db)
        dispatcher = make(db, registry, max_attempts=3)

        run_rounds(dispatcher, clock, 2)
        row = event_row(db, event_id)
        assert (row.state, row.attempts, row.dead_at) == ("failing", 2, None)
        assert feed_entries(db) == []

        assert dispatcher.drain() == 1  # the third failure is the last
        row = event_row(db, event_id)
        assert row.state == "dead"
        assert row.dead_at == clock.now()
        assert row.attempts == 3
        assert row.locked_by is None
        assert row.last_error is not None and "template rejected" in row.last_error
        parked = failure(db, event_id, "broken")
        assert parked is not None
        assert (parked.attempts, parked.dead_at) == (3, clock.now())

        # Dead means parked: no worker claims it again, however long we wait.
        clock.advance(timedelta(days=3))
        assert dispatcher.drain() == 0
        assert make(db, registry, max_attempts=3, worker="w2").drain() == 0

    def test_the_death_adds_one_admin_feed_entry(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        def broken(session: Session, event: Event) -> None:
            raise RuntimeError("boom")

        registry.register("order.placed", name="broken")(broken)
        event_id = emit_one(db, "order.placed")
        run_rounds(make(db, registry, max_attempts=2), clock, 2)

        [entry] = feed_entries(db)
        assert entry.title == "Event order.placed could not be delivered"
        assert entry.body is not None and "broken: RuntimeError: boom" in entry.body
        assert entry.data["event_id"] == event_id
        assert entry.data["subscribers"] == ["broken"]
        assert entry.read_at is None

    def test_two_workers_finishing_the_same_death_leave_one_feed_entry(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        def broken(session: Session, event: Event) -> None:
            raise RuntimeError("boom")

        registry.register("x.happened", name="broken")(broken)
        event_id = emit_one(db)
        slow = make(db, registry, max_attempts=1, worker="slow")
        [claimed] = slow.claim()
        clock.advance(slow.lease + timedelta(seconds=1))  # its lease runs out mid-delivery
        assert make(db, registry, max_attempts=1, worker="fast").drain() == 1
        assert event_row(db, event_id).state == "dead"
        # The slow worker's failure arrives after the event died: nothing more happens.
        assert slow._finish(claimed, slow._process(claimed)) == "skipped"
        assert len(feed_entries(db)) == 1
        assert event_row(db, event_id).attempts == 1

    def test_subscribers_that_succeeded_are_not_rerun_and_only_the_failing_one_dies(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        runs: list[str] = []

        @registry.register("x.happened", name="steady")
        def steady(session: Session, event: Event) -> None:
            runs.append("steady")
            session.add(AdminUser(email="steady@example.test", password_hash="x"))

        @registry.register("x.happened", name="broken")
        def broken(session: Session, event: Event) -> None:
            runs.append("broken")
            raise RuntimeError("nope")

        event_id = emit_one(db)
        run_rounds(make(db, registry, max_attempts=3), clock, 3)
        assert runs.count("steady") == 1
        assert runs.count("broken") == 3
        assert event_row(db, event_id).state == "dead"
        assert count(db, OutboxDelivery, OutboxDelivery.event_id == event_id) == 1
        assert count(db, AdminUser, AdminUser.email == "steady@example.test") == 1
        assert failure(db, event_id, "steady") is None

    def test_a_dead_subscriber_is_skipped_while_another_still_retries(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        runs: list[str] = []

        def failing(name: str) -> Handler:
            def handler(session: Session, event: Event) -> None:
                runs.append(name)
                raise RuntimeError(f"{name} down")

            return handler

        registry.register("x.happened", name="early")(failing("early"))
        event_id = emit_one(db)
        dispatcher = make(db, registry, max_attempts=2)
        run_rounds(dispatcher, clock, 1)
        # A deploy adds a second subscriber, which starts failing one round later.
        registry.register("x.happened", name="late")(failing("late"))
        run_rounds(dispatcher, clock, 1)
        early, late = failure(db, event_id, "early"), failure(db, event_id, "late")
        assert early is not None and early.dead_at is not None
        assert late is not None and (late.attempts, late.dead_at) == (1, None)
        assert event_row(db, event_id).state == "failing"

        run_rounds(dispatcher, clock, 1)
        assert runs == ["early", "early", "late", "late"]  # early not run once dead
        assert event_row(db, event_id).state == "dead"
        [entry] = feed_entries(db)
        assert entry.data["subscribers"] == ["early", "late"]

    def test_an_event_whose_last_owed_subscriber_succeeds_after_another_died_is_dead(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        flaky_failures = {"left": 2}

        @registry.register("x.happened", name="always")
        def always(session: Session, event: Event) -> None:
            raise RuntimeError("always")

        @registry.register("x.happened", name="flaky")
        def flaky(session: Session, event: Event) -> None:
            if flaky_failures["left"]:
                flaky_failures["left"] -= 1
                raise RuntimeError("flaky")

        event_id = emit_one(db)
        run_rounds(make(db, registry, max_attempts=3), clock, 3)
        row = event_row(db, event_id)
        assert row.state == "dead"
        assert row.last_error is not None and "always" in row.last_error
        assert count(db, OutboxDelivery, OutboxDelivery.subscriber == "flaky") == 1

    def test_max_attempts_must_be_positive(self, db: Database) -> None:
        with pytest.raises(ValueError):
            OutboxDispatcher(db, worker_id="w", max_attempts=0)


class TestTransientProviderFailures:
    @respx.mock
    def test_500_then_200_is_delivered_once_after_the_retries(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        provider = respx.post(PROVIDER).mock(
            side_effect=[
                httpx.Response(500, json={"error": "busy"}),
                httpx.Response(503, json={"error": "busy"}),
                httpx.Response(200, json={"id": "wamid.1"}),
            ]
        )

        @registry.register("production_run.sent", name="notify_partner")
        def notify_partner(session: Session, event: Event) -> None:
            response = httpx.post(PROVIDER, json={"run": event.payload["n"]})
            response.raise_for_status()
            session.add(AdminUser(email="sent@example.test", password_hash="x"))

        event_id = emit_one(db, "production_run.sent")
        run_rounds(make(db, registry, max_attempts=5), clock, 3)

        assert provider.call_count == 3
        row = event_row(db, event_id)
        assert row.state == "delivered"
        assert count(db, AdminUser, AdminUser.email == "sent@example.test") == 1
        assert count(db, OutboxDelivery, OutboxDelivery.event_id == event_id) == 1
        history = failure(db, event_id, "notify_partner")
        assert history is not None and history.attempts == 2
        assert history.last_error is not None and "503" in history.last_error
        assert feed_entries(db) == []
        clock.advance(timedelta(days=1))
        assert make(db, registry, max_attempts=5).drain() == 0
        assert provider.call_count == 3
