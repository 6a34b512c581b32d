"""Outbox dispatcher: claims due events, runs every matching subscriber at least once.

Each subscriber's work commits together with its ``outbox_deliveries`` row, so a retry never
re-runs a subscriber that already succeeded, and the unique ``(event_id, subscriber)`` key makes
two workers racing on the same event (an expired lease) deliver it once. Claiming uses
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers at ``BEGIN
IMMEDIATE`` so the conditional lease update is enough there.

A failing subscriber is retried with exponential backoff and jitter; its failed attempts are
counted per subscriber in ``outbox_failures``. After ``max_attempts`` failures that subscriber's
delivery is *dead* (never retried by itself); when every subscriber still owed the event is dead,
the event is dead too and the admin feed says so, once per death. ``POST
/admin/outbox/events/:id/retry`` (``platform.outbox_admin``) re-arms it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.platform import clock, metrics, outbox
from atelier.platform.db import Database
from atelier.platform.identity import WorkerIdentity
from atelier.platform.models import OutboxDelivery, OutboxEvent, OutboxFailure
from atelier.platform.outbox import Event, Subscriber, SubscriberRegistry

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
# 15 attempts: 2 s doubling to the 1 h cap, then hourly: a delivery is parked after about
# three to four hours of failures (jitter shortens each wait by up to half).
DEFAULT_MAX_ATTEMPTS = 15
FEED_KIND_DEAD = "outbox_event_dead"
_ERROR_LIMIT = 2000
# Credentials embedded in URLs (``scheme://user:password@host``) never reach the table.
_URL_CREDENTIALS = re.compile(r"(\w+://[^:/\s@]+):[^@\s]+@")


def backoff(attempts: int) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): 2, 4, 8 ... seconds, capped at 1 h."""
    seconds = 2 ** min(max(attempts, 1), 12)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def retry_delay(attempts: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """``backoff`` with equal jitter: half of it, plus a random share of the other half.

    Spreads the retries of events that failed together (a provider outage) over time, while a
    retry still waits at least half the nominal backoff.
    """
    nominal = backoff(attempts)
    share = min(max(jitter(), 0.0), 1.0)
    return nominal / 2 + nominal / 2 * share


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
    # subscriber name -> error text, for the subscribers that failed this round
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return list(self.failures.values())


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
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.db = db
        self.worker_id = worker_id
        self.registry = registry
        self.batch_size = batch_size
        self.lease = lease
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.jitter = jitter
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
                    OutboxEvent.dead_at.is_(None),
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
                    OutboxEvent.dead_at.is_(None),
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

    def reclaim_stale_leases(self, identity: WorkerIdentity) -> int:
        """Release leases left by dead earlier runs of this worker (see ``platform.identity``).

        Returns how many events became claimable again. Called once when a worker starts.
        """
        now = clock.now()
        with self.db.session(write=True) as session:
            holders = session.scalars(
                select(OutboxEvent.locked_by)
                .where(
                    OutboxEvent.delivered_at.is_(None),
                    OutboxEvent.locked_until > now,
                    OutboxEvent.locked_by.startswith(f"{identity.name}:", autoescape=True),
                )
                .distinct()
            ).all()
            stale = sorted({h for h in holders if h is not None and identity.is_stale(h)})
            if not stale:
                return 0
            result = session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.locked_by.in_(stale), OutboxEvent.delivered_at.is_(None))
                .values(locked_until=None, locked_by=None)
                .execution_options(synchronize_session=False)
            )
            released = int(getattr(result, "rowcount", 0) or 0)
        log.info(
            "stale leases reclaimed",
            extra={"worker_id": self.worker_id, "holders": stale, "events": released},
        )
        return released

    # --- delivering --------------------------------------------------------------------------

    def _settled_subscribers(self, event_id: str) -> set[str]:
        """Subscribers that need no run: delivered, or parked dead."""
        with self.db.session(write=False) as session:
            delivered = set(
                session.scalars(
                    select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event_id)
                )
            )
            dead = set(
                session.scalars(
                    select(OutboxFailure.subscriber).where(
                        OutboxFailure.event_id == event_id, OutboxFailure.dead_at.is_not(None)
                    )
                )
            )
        return delivered | dead

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
            metrics.OUTBOX_SUBSCRIBER_RUNS.labels(sub.name, "delivered").inc()
            return None
        except Exception as exc:
            with contextlib.suppress(Exception):  # the connection itself may be gone
                session.rollback()
            log.warning(
                "subscriber failed",
                exc_info=True,
                extra={"event_id": event.id, "event_name": event.name, "subscriber": sub.name},
            )
            metrics.OUTBOX_SUBSCRIBER_RUNS.labels(sub.name, "failed").inc()
            return describe_error(sub.name, exc)
        finally:
            session.close()

    def _process(self, event: Event) -> _Outcome:
        subscribers = self.registry.for_event(event.name)
        settled = self._settled_subscribers(event.id) if subscribers else set()
        failures: dict[str, str] = {}
        for sub in subscribers:
            if sub.name in settled:
                continue
            error = self._deliver_one(event, sub)
            if error is not None:
                failures[sub.name] = error
        return _Outcome(failures)

    def _finish(self, event: Event, outcome: _Outcome) -> str:
        """Record the round under the event's row lock: ``delivered``, ``retry``, ``dead``.

        Returns ``skipped`` when another worker already settled the event.
        """
        now = clock.now()
        with self.db.session(write=True) as session:
            row = session.scalars(
                select(OutboxEvent).where(OutboxEvent.id == event.id).with_for_update()
            ).one_or_none()
            if row is None or row.delivered_at is not None or row.dead_at is not None:
                return "skipped"
            failures = {
                f.subscriber: f
                for f in session.scalars(
                    select(OutboxFailure).where(OutboxFailure.event_id == event.id)
                )
            }
            for name, error in outcome.failures.items():
                failure = failures.get(name)
                if failure is None:
                    failure = OutboxFailure(
                        event_id=event.id, subscriber=name, attempts=0, first_failed_at=now
                    )
                    session.add(failure)
                    failures[name] = failure
                failure.attempts += 1
                failure.last_error = error
                failure.last_failed_at = now
                if failure.attempts >= self.max_attempts:
                    failure.dead_at = now
            delivered = set(
                session.scalars(
                    select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event.id)
                )
            )
            owed = {s.name for s in self.registry.for_event(event.name)} - delivered
            # A subscriber no longer registered is owed nothing, whatever its failures say.
            dead = {n for n in owed if n in failures and failures[n].dead_at is not None}
            waiting = owed - dead
            row.locked_until = None
            row.locked_by = None
            if not waiting and not dead:
                row.delivered_at = now
                return "delivered"
            row.attempts += 1
            if not waiting:
                row.dead_at = now
                row.last_error = "\n".join(failures[n].last_error or n for n in sorted(dead))[
                    :_ERROR_LIMIT
                ]
                _announce_death(session, row, sorted(dead), now)
                return "dead"
            row.last_error = "\n".join(outcome.errors)[:_ERROR_LIMIT] or row.last_error
            worst = max((failures[n].attempts for n in waiting if n in failures), default=1)
            row.available_at = now + retry_delay(worst, self.jitter)
            return "retry"

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
            result = self._finish(event, outcome)
            self.failures.extend(outcome.errors)
            if result != "skipped":
                metrics.OUTBOX_EVENTS_FINISHED.labels(result).inc()
            if result == "delivered":
                log.debug("event delivered", extra={"event_id": event.id})
            elif result == "retry":
                log.info(
                    "event delivery failed; will retry",
                    extra={
                        "event_id": event.id,
                        "event_name": event.name,
                        "attempts": event.attempts + 1,
                    },
                )
            elif result == "dead":
                log.warning(
                    "event dead: attempts exhausted",
                    extra={
                        "event_id": event.id,
                        "event_name": event.name,
                        "failed_subscribers": sorted(outcome.failures),
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


@dataclass(frozen=True, slots=True)
class DeadEvent:
    """An event that will not be retried any more (``subscribers`` gave up on it)."""

    id: str
    name: str
    last_error: str | None
    subscribers: list[str]
    attempts: int
    dead_at: datetime
    manual_retries: int


DeathListener = Callable[[Session, DeadEvent], None]
_death_listeners: dict[str, DeathListener] = {}


def on_event_death(name: str, listener: DeathListener) -> None:
    """Call ``listener`` in the transaction that marks an event dead (``notifications`` adds
    the admin feed entry this way: platform imports no domain)."""
    _death_listeners[name] = listener


def _announce_death(session: Session, row: OutboxEvent, dead: list[str], now: datetime) -> None:
    event = DeadEvent(
        id=row.id,
        name=row.name,
        last_error=row.last_error,
        subscribers=dead,
        attempts=row.attempts,
        dead_at=now,
        manual_retries=row.manual_retries,
    )
    for listener in list(_death_listeners.values()):
        listener(session, event)
