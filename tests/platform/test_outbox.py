"""Transactional outbox and dispatcher: at-least-once, per-subscriber delivery, retries, races."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher, SubscriberFailed, backoff
from atelier.platform.models import AdminUser, OutboxDelivery, OutboxEvent
from atelier.platform.outbox import Event, SubscriberRegistry, emit


class Recorder:
    """Thread-safe call log of (subscriber, event name, event id)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def record(self, subscriber: str, event: Event) -> None:
        with self._lock:
            self.calls.append((subscriber, event.name, event.id))

    def count(self, subscriber: str) -> int:
        return sum(1 for s, _, _ in self.calls if s == subscriber)


def emit_id(session: Session, name: str, payload: dict[str, object] | None = None) -> str:
    row = emit(session, name, dict(payload or {}))
    session.flush()
    return row.id


def add_admin(session: Session, email: str) -> None:
    session.add(AdminUser(email=email, password_hash="x"))


def count(db: Database, model: type[object], *where: object) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def event_row(db: Database, event_id: str) -> OutboxEvent:
    with db.session(write=False) as session:
        row = session.get(OutboxEvent, event_id)
        assert row is not None
        return row


@pytest.fixture
def registry() -> SubscriberRegistry:
    return SubscriberRegistry()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def dispatcher(db: Database, registry: SubscriberRegistry, worker: str = "w1") -> OutboxDispatcher:
    # No jitter: the retry is due exactly ``backoff(attempts)`` later.
    return OutboxDispatcher(db, worker_id=worker, registry=registry, jitter=lambda: 1.0)


class TestTransactionalEmit:
    def test_event_committed_with_its_change_is_delivered_after_a_restart(
        self, db: Database, database_url: str, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        @registry.register("order.placed", name="notify")
        def notify(session: Session, event: Event) -> None:
            recorder.record("notify", event)

        with db.session() as session:
            add_admin(session, "change@example.test")
            event_id = emit_id(session, "order.placed", {"order_id": "order_1"})
        db.dispose()  # the process that wrote the event goes away before delivering it

        restarted = Database(database_url)
        try:
            assert dispatcher(restarted, registry, "after-restart").drain() == 1
            assert recorder.calls == [("notify", "order.placed", event_id)]
            row = event_row(restarted, event_id)
            assert row.delivered_at is not None
            assert row.locked_by is None
            assert count(restarted, OutboxDelivery, OutboxDelivery.event_id == event_id) == 1
        finally:
            restarted.dispose()

    def test_rolled_back_change_emits_nothing(
        self, db: Database, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        registry.register("order.placed", name="notify")(lambda s, e: recorder.record("notify", e))
        with pytest.raises(RuntimeError), db.session() as session:
            add_admin(session, "change@example.test")
            emit(session, "order.placed", {"order_id": "order_1"})
            session.flush()
            raise RuntimeError("the change fails")

        assert count(db, OutboxEvent) == 0
        assert count(db, AdminUser) == 0
        assert dispatcher(db, registry).drain() == 0
        assert recorder.calls == []

    def test_delayed_event_waits_until_due(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        registry.register("x.happened", name="s")(lambda s, e: recorder.record("s", e))
        with db.session() as session:
            emit(session, "x.happened", {}, delay=timedelta(minutes=5))
        assert dispatcher(db, registry).drain() == 0
        clock.advance(timedelta(minutes=5))
        assert dispatcher(db, registry).drain() == 1
        assert recorder.count("s") == 1


class TestDelivery:
    def test_subscriber_work_commits_with_its_delivery_record(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        @registry.register("partner.joined", name="welcome")
        def welcome(session: Session, event: Event) -> None:
            add_admin(session, event.payload["email"])

        with db.session() as session:
            emit(session, "partner.joined", {"email": "new@example.test"})
        dispatcher(db, registry).drain()
        assert count(db, AdminUser, AdminUser.email == "new@example.test") == 1
        assert count(db, OutboxDelivery, OutboxDelivery.subscriber == "welcome") == 1

    def test_event_without_subscribers_is_marked_delivered(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        with db.session() as session:
            event_id = emit_id(session, "nobody.listens", {})
        assert dispatcher(db, registry).drain() == 1
        assert event_row(db, event_id).delivered_at is not None
        assert dispatcher(db, registry).drain() == 0

    def test_pattern_subscriber_receives_every_matching_name(
        self, db: Database, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        registry.register("production_run.*", name="flows")(
            lambda s, e: recorder.record("flows", e)
        )
        registry.register("production_run.accepted", name="exact")(
            lambda s, e: recorder.record("exact", e)
        )
        with db.session() as session:
            for name in ("production_run.accepted", "production_run.started", "order.placed"):
                emit(session, name, {})
        assert dispatcher(db, registry).drain() == 3
        assert sorted(n for s, n, _ in recorder.calls if s == "flows") == [
            "production_run.accepted",
            "production_run.started",
        ]
        assert [n for s, n, _ in recorder.calls if s == "exact"] == ["production_run.accepted"]

    def test_events_emitted_by_a_subscriber_are_delivered_in_the_same_drain(
        self, db: Database, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        @registry.register("a.happened", name="chain")
        def chain(session: Session, event: Event) -> None:
            emit(session, "b.happened", {"from": event.id})

        registry.register("b.happened", name="end")(lambda s, e: recorder.record("end", e))
        with db.session() as session:
            emit(session, "a.happened", {})
        assert dispatcher(db, registry).drain() == 2
        assert recorder.count("end") == 1

    def test_subscriber_receives_payload_and_attempts(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        seen: list[Event] = []
        registry.register("order.placed", name="s")(lambda s, e: seen.append(e))
        with db.session() as session:
            emit(session, "order.placed", {"order_id": "order_9", "items": [{"quantity": 2}]})
        dispatcher(db, registry).drain()
        assert seen[0].payload == {"order_id": "order_9", "items": [{"quantity": 2}]}
        assert seen[0].attempts == 0
        assert seen[0].created_at.tzinfo is not None


class TestRetries:
    def test_failing_subscriber_is_retried_without_rerunning_the_ones_that_succeeded(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        failures = {"left": 1}

        @registry.register("order.placed", name="steady")
        def steady(session: Session, event: Event) -> None:
            recorder.record("steady", event)

        @registry.register("order.placed", name="flaky")
        def flaky(session: Session, event: Event) -> None:
            recorder.record("flaky", event)
            add_admin(session, "flaky-work@example.test")
            session.flush()
            if failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("provider down")

        with db.session() as session:
            event_id = emit_id(session, "order.placed", {})

        assert dispatcher(db, registry).drain() == 1
        row = event_row(db, event_id)
        assert row.delivered_at is None
        assert row.attempts == 1
        assert row.last_error is not None and "flaky" in row.last_error
        assert "provider down" in row.last_error
        assert row.locked_until is None
        assert row.available_at == clock.now() + backoff(1)
        # The failed subscriber's own work was rolled back; the steady one is recorded.
        assert count(db, AdminUser, AdminUser.email == "flaky-work@example.test") == 0
        assert count(db, OutboxDelivery, OutboxDelivery.event_id == event_id) == 1

        # Not due yet: backoff follows the (frozen) clock.
        assert dispatcher(db, registry).drain() == 0
        clock.advance(backoff(1))
        assert dispatcher(db, registry).drain() == 1

        assert recorder.count("steady") == 1
        assert recorder.count("flaky") == 2
        assert event_row(db, event_id).delivered_at is not None
        assert count(db, AdminUser, AdminUser.email == "flaky-work@example.test") == 1
        assert count(db, OutboxDelivery, OutboxDelivery.event_id == event_id) == 2

    def test_backoff_grows_and_is_capped(self) -> None:
        assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [2, 4, 8]
        assert backoff(50) == timedelta(hours=1)

    def test_repeated_failures_push_the_retry_further(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry
    ) -> None:
        def broken(session: Session, event: Event) -> None:
            raise ValueError("still broken")

        registry.register("x.happened", name="broken")(broken)
        with db.session() as session:
            event_id = emit_id(session, "x.happened", {})
        for attempt in (1, 2, 3):
            assert dispatcher(db, registry).drain() == 1
            row = event_row(db, event_id)
            assert row.attempts == attempt
            assert row.available_at == clock.now() + backoff(attempt)
            clock.advance(backoff(attempt))

    def test_last_error_never_stores_credentials(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        def leaky(session: Session, event: Event) -> None:
            raise RuntimeError("cannot reach postgresql://svc:hunter2@db.internal/atelier")

        registry.register("x.happened", name="leaky")(leaky)
        with db.session() as session:
            event_id = emit_id(session, "x.happened", {})
        dispatcher(db, registry).drain()
        error = event_row(db, event_id).last_error
        assert error is not None
        assert "hunter2" not in error
        assert "db.internal" in error


class TestConcurrentDispatchers:
    def test_two_dispatchers_never_deliver_an_event_to_a_subscriber_twice(
        self, db: Database, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        registry.register("load.*", name="first")(lambda s, e: recorder.record("first", e))
        registry.register("load.tested", name="second")(lambda s, e: recorder.record("second", e))
        total = 120
        with db.session() as session:
            for i in range(total):
                emit(session, "load.tested", {"i": i})

        workers = [
            OutboxDispatcher(db, worker_id=f"w{i}", registry=registry, batch_size=7)
            for i in range(2)
        ]
        processed: list[int] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(workers))

        def run(worker: OutboxDispatcher) -> None:
            try:
                barrier.wait()
                processed.append(worker.drain(max_rounds=1000))
            except BaseException as exc:  # pragma: no cover - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors
        assert sum(processed) == total
        calls = Counter((s, eid) for s, _, eid in recorder.calls)
        assert len(calls) == 2 * total
        assert set(calls.values()) == {1}
        assert count(db, OutboxEvent, OutboxEvent.delivered_at.is_(None)) == 0
        assert count(db, OutboxDelivery) == 2 * total

    def test_expired_lease_taken_over_does_not_redeliver(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        registry.register("x.happened", name="s")(lambda s, e: recorder.record("s", e))
        with db.session() as session:
            emit(session, "x.happened", {})

        slow = OutboxDispatcher(db, worker_id="slow", registry=registry)
        claimed = slow.claim()
        assert len(claimed) == 1
        # A leased event is not claimable by anyone else ...
        assert dispatcher(db, registry, "fast").drain() == 0
        # ... until its lease expires; then another worker delivers it.
        clock.advance(slow.lease + timedelta(seconds=1))
        assert dispatcher(db, registry, "fast").drain() == 1
        # The slow worker finally gets to it: the subscriber is not run again.
        for event in claimed:
            slow._finish(event, slow._process(event))
        assert recorder.count("s") == 1


class TestDrainReporting:
    def test_drain_can_raise_subscriber_failures(
        self, db: Database, registry: SubscriberRegistry
    ) -> None:
        def broken(session: Session, event: Event) -> None:
            raise ValueError("bad payload")

        registry.register("x.happened", name="broken")(broken)
        with db.session() as session:
            emit(session, "x.happened", {})
        with pytest.raises(SubscriberFailed) as raised:
            dispatcher(db, registry).drain(raise_errors=True)
        assert "broken: ValueError: bad payload" in str(raised.value)


class TestLeaseBudget:
    def test_events_left_when_the_lease_runs_out_are_claimable_again(
        self, db: Database, clock: FrozenClock, registry: SubscriberRegistry, recorder: Recorder
    ) -> None:
        slow_worker = dispatcher(db, registry, "slow")

        def slow(session: Session, event: Event) -> None:
            recorder.record("slow", event)
            clock.advance(slow_worker.lease)  # this subscriber takes the whole lease

        registry.register("x.happened", name="slow")(slow)
        with db.session() as session:
            emit(session, "x.happened", {"n": 1})
            emit(session, "x.happened", {"n": 2})
        assert slow_worker.run_once() == 1
        assert recorder.count("slow") == 1
        assert dispatcher(db, registry, "other").run_once() == 1
        assert recorder.count("slow") == 2
        assert count(db, OutboxEvent, OutboxEvent.delivered_at.is_(None)) == 0
