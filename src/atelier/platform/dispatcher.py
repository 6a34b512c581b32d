"""Outbox dispatcher: claims due events, runs every matching subscriber at least once.

Each subscriber's work commits together with its ``outbox_deliveries`` row, so a retry never
re-runs a subscriber that already succeeded, and the unique ``(event_id, subscriber)`` key makes
two workers racing on the same event (an expired lease) deliver it once. Claiming uses
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers at ``BEGIN
IMMEDIATE`` so the conditional lease update is enough there.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from atelier.platform import clock, outbox
from atelier.platform.db import Database
from atelier.platform.models import OutboxDelivery, OutboxEvent
from atelier.platform.outbox import Event, Subscriber, SubscriberRegistry

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
_ERROR_LIMIT = 2000
# Credentials embedded in URLs (``scheme://user:password@host``) never reach the table.
_URL_CREDENTIALS = re.compile(r"(\w+://[^:/\s@]+):[^@\s]+@")


def backoff(attempts: int) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): 2, 4, 8 ... seconds, capped at 1 h."""
    seconds = 2 ** min(max(attempts, 1), 12)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def describe_error(subscriber: str, exc: BaseException) -> str:
    """A short, secret-free description for ``last_error``."""
    message = _URL_CREDENTIALS.sub(r"\1:***@", str(exc))
    return f"{subscriber}: {type(exc).__name__}: {message}"[:_ERROR_LIMIT]


class SubscriberFailed(RuntimeError):
    """Raised by ``drain(raise_errors=True)``: subscribers failed (their events will retry)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivered: bool
    errors: list[str]


class OutboxDispatcher:
    """Delivers due outbox events; any number of dispatchers may run against one database."""

    def __init__(
        self,
        db: Database,
        *,
        worker_id: str,
        registry: SubscriberRegistry = outbox.registry,
        batch_size: int = 50,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.worker_id = worker_id
        self.registry = registry
        self.batch_size = batch_size
        self.lease = lease
        self.poll_interval = poll_interval
        # Subscriber errors seen since the last drain() started (``last_error`` texts).
        self.failures: list[str] = []

    # --- claiming ----------------------------------------------------------------------------

    def claim(self) -> list[Event]:
        """Lease up to ``batch_size`` due events to this worker and return them."""
        now = clock.now()
        with self.db.session(write=True) as session:
            rows = session.execute(
                select(
                    OutboxEvent.id,
                    OutboxEvent.name,
                    OutboxEvent.payload,
                    OutboxEvent.created_at,
                    OutboxEvent.attempts,
                )
                .where(
                    OutboxEvent.delivered_at.is_(None),
                    OutboxEvent.available_at <= now,
                    or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until <= now),
                )
                .order_by(OutboxEvent.available_at, OutboxEvent.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            # Conditional: only rows still unleased are taken (belt and braces on top of the
            # row locks on PostgreSQL and the write lock on SQLite).
            session.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.id.in_(ids),
                    OutboxEvent.delivered_at.is_(None),
                    or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until <= now),
                )
                .values(locked_until=now + self.lease, locked_by=self.worker_id)
                .execution_options(synchronize_session=False)
            )
            leased = set(
                session.scalars(
                    select(OutboxEvent.id).where(
                        OutboxEvent.id.in_(ids), OutboxEvent.locked_by == self.worker_id
                    )
                )
            )
        return [
            Event(
                id=row.id,
                name=row.name,
                payload=dict(row.payload or {}),
                created_at=row.created_at,
                attempts=row.attempts,
            )
            for row in rows
            if row.id in leased
        ]

    # --- delivering --------------------------------------------------------------------------

    def _delivered_subscribers(self, event_id: str) -> set[str]:
        with self.db.session(write=False) as session:
            return set(
                session.scalars(
                    select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event_id)
                )
            )

    def _deliver_one(self, event: Event, sub: Subscriber) -> str | None:
        """Run one subscriber with its delivery record; None on success, else the error."""
        session = self.db.new_session(write=True)
        try:
            session.add(OutboxDelivery(event_id=event.id, subscriber=sub.name))
            try:
                session.flush()
            except IntegrityError:
                # Another worker delivered it (its lease on this event had expired): done.
                session.rollback()
                return None
            sub.handler(session, event)
            session.commit()
            return None
        except Exception as exc:
            with contextlib.suppress(Exception):  # the connection itself may be gone
                session.rollback()
            log.warning(
                "subscriber failed",
                exc_info=True,
                extra={"event_id": event.id, "event_name": event.name, "subscriber": sub.name},
            )
            return describe_error(sub.name, exc)
        finally:
            session.close()

    def _process(self, event: Event) -> _Outcome:
        subscribers = self.registry.for_event(event.name)
        done = self._delivered_subscribers(event.id) if subscribers else set()
        errors: list[str] = []
        for sub in subscribers:
            if sub.name in done:
                continue
            error = self._deliver_one(event, sub)
            if error is not None:
                errors.append(error)
        return _Outcome(delivered=not errors, errors=errors)

    def _finish(self, event: Event, outcome: _Outcome) -> None:
        now = clock.now()
        values: dict[str, Any]
        if outcome.delivered:
            values = {"delivered_at": now, "locked_until": None, "locked_by": None}
        else:
            attempts = event.attempts + 1
            values = {
                "attempts": attempts,
                "last_error": "\n".join(outcome.errors)[:_ERROR_LIMIT],
                "available_at": now + backoff(attempts),
                "locked_until": None,
                "locked_by": None,
            }
        with self.db.session(write=True) as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event.id, OutboxEvent.delivered_at.is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def run_once(self) -> int:
        """Claim and process one batch; returns how many events were processed."""
        lease_ends = clock.now() + self.lease
        events = self.claim()
        for index, event in enumerate(events):
            if clock.now() >= lease_ends:
                # Slow subscribers used up the lease: the rest is claimable by others again.
                log.info(
                    "lease expired mid-batch",
                    extra={"worker_id": self.worker_id, "skipped": len(events) - index},
                )
                return index
            outcome = self._process(event)
            self._finish(event, outcome)
            self.failures.extend(outcome.errors)
            if outcome.delivered:
                log.debug("event delivered", extra={"event_id": event.id})
            else:
                log.info(
                    "event delivery failed; will retry",
                    extra={
                        "event_id": event.id,
                        "event_name": event.name,
                        "attempts": event.attempts + 1,
                    },
                )
        return len(events)

    def drain(self, max_rounds: int = 100, *, raise_errors: bool = False) -> int:
        """Process batches until nothing is due (tests; CLI). Returns events processed.

        ``raise_errors=True`` raises after draining when any subscriber failed (tests that
        want a failing subscriber to fail the test rather than be scheduled for a retry).
        """
        total = 0
        self.failures.clear()
        for _ in range(max_rounds):
            processed = self.run_once()
            total += processed
            if processed == 0:
                break
        if raise_errors and self.failures:
            raise SubscriberFailed(self.failures)
        return total

    def run_forever(self, stop: threading.Event, wake: threading.Event) -> None:
        """Loop until ``stop`` is set; ``wake`` cuts the poll sleep short (new events)."""
        log.info("dispatcher started", extra={"worker_id": self.worker_id})
        while not stop.is_set():
            self.failures.clear()  # only drain() reports them; a long-running loop must not grow
            try:
                processed = self.run_once()
            except Exception:
                log.exception("dispatcher round failed", extra={"worker_id": self.worker_id})
                processed = 0
                stop.wait(self.poll_interval)
            if processed >= self.batch_size:
                continue  # more may be waiting
            wake.wait(self.poll_interval)
            wake.clear()
        log.info("dispatcher stopped", extra={"worker_id": self.worker_id})
