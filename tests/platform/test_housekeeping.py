"""The prune job keeps the outbox and the slot table small without touching pending work."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher
from atelier.platform.housekeeping import EVENT_RETENTION, prune
from atelier.platform.models import OutboxDelivery, OutboxEvent, ScheduledSlot
from atelier.platform.outbox import SubscriberRegistry, emit


def count(db: Database, model: type[object]) -> int:
    with db.session(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


class TestPrune:
    def test_old_delivered_events_go_while_pending_and_recent_ones_stay(
        self, db: Database, clock: FrozenClock
    ) -> None:
        registry = SubscriberRegistry()
        registry.register("old.*", name="ok")(lambda s, e: None)

        def fail(session: object, event: object) -> None:
            raise RuntimeError("down")

        registry.register("old.failing", name="failing")(fail)
        with db.session() as session:
            emit(session, "old.delivered", {})
            emit(session, "old.failing", {})
        OutboxDispatcher(db, worker_id="w", registry=registry).drain()
        clock.advance(EVENT_RETENTION + timedelta(days=1))
        with db.session() as session:
            emit(session, "new.delivered", {})
        OutboxDispatcher(db, worker_id="w", registry=registry).drain()
        assert count(db, OutboxEvent) == 3

        with db.session() as session:
            session.add(
                ScheduledSlot(job="x", slot_at=clock.now() - timedelta(days=200), claimed_by="w")
            )
            session.add(ScheduledSlot(job="x", slot_at=clock.now(), claimed_by="w"))
        with db.session() as session:
            prune(session, clock.now())

        with db.session(write=False) as session:
            names = sorted(session.scalars(select(OutboxEvent.name)))
            assert names == ["new.delivered", "old.failing"]
            # Only the pending event's successful subscriber keeps its delivery row.
            assert session.scalar(select(func.count()).select_from(OutboxDelivery)) == 1
        assert count(db, ScheduledSlot) == 1
