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
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
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
        finish_interval: float = 0.1,
    ) -> None:
        """``finish_interval``: the events of a batch processed so far are finished (marked
        delivered, retried or dead) together once this many seconds of work have passed since
        the last finish, and at the end of the batch: cheap events share one finish, slow ones
        show their progress as before."""
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
        self.finish_interval = finish_interval
        # Subscriber errors seen since the last drain() started (``last_error`` texts).
        self.failures: list[str] = []

    # --- claiming ----------------------------------------------------------------------------

    def claim(self) -> list[Event]:
        """Lease up to ``batch_size`` due events to this worker and return them."""
        return self._claim_batch()[0]

    def _claim_batch(self) -> tuple[list[Event], dict[str, set[str]]]:
        """``claim``, plus each claimed event's settled subscribers (``_settled_subscribers``),
        read in the same transaction: two statements for the batch, not two per event."""
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
                return [], {}
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
            events = [
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
            wanted = [e.id for e in events if self.registry.for_event(e.name)]
            settled = _settled_of(session, wanted)
        return events, settled

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
            return _settled_of(session, [event_id])[event_id]

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

    def _process(self, event: Event, settled: set[str] | None = None) -> _Outcome:
        """Run the subscribers ``event`` still owes; ``settled``: as ``_settled_subscribers``
        (read here when not given)."""
        subscribers = self.registry.for_event(event.name)
        if settled is None:
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
        return self._finish_many([(event, outcome)])[event.id]

    def _finish_many(self, rounds: Sequence[tuple[Event, _Outcome]]) -> dict[str, str]:
        """``_finish`` for several events in one transaction (their rows locked in id order,
        their failures and deliveries read in one statement each); the result by event id."""
        if not rounds:
            return {}
        now = clock.now()
        ids = sorted({event.id for event, _ in rounds})
        results: dict[str, str] = {}
        with self.db.session(write=True) as session:
            rows = {
                row.id: row
                for row in session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.id.in_(ids))
                    .order_by(OutboxEvent.id)
                    .with_for_update()
                )
            }
            failures: dict[str, dict[str, OutboxFailure]] = defaultdict(dict)
            for failure in session.scalars(
                select(OutboxFailure).where(OutboxFailure.event_id.in_(ids))
            ):
                failures[failure.event_id][failure.subscriber] = failure
            delivered: dict[str, set[str]] = defaultdict(set)
            for event_id, name in session.execute(
                select(OutboxDelivery.event_id, OutboxDelivery.subscriber).where(
                    OutboxDelivery.event_id.in_(ids)
                )
            ):
                delivered[event_id].add(name)
            for event, outcome in rounds:
                row = rows.get(event.id)
                if row is None or row.delivered_at is not None or row.dead_at is not None:
                    results[event.id] = "skipped"
                    continue
                results[event.id] = self._settle(
                    session, row, event, outcome, failures[event.id], delivered[event.id], now
                )
        return results

    def _settle(
        self,
        session: Session,
        row: OutboxEvent,
        event: Event,
        outcome: _Outcome,
        failures: dict[str, OutboxFailure],
        delivered: set[str],
        now: datetime,
    ) -> str:
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
        """Claim and process one batch; returns how many events were processed.

        The batch's settled subscribers are read with the claim and its events finished
        together, every ``finish_interval`` seconds of work and at the end (each subscriber's
        work still commits with its own delivery row).
        """
        lease_ends = clock.now() + self.lease
        events, settled = self._claim_batch()
        pending: list[tuple[Event, _Outcome]] = []
        processed = 0
        since = time.monotonic()
        for index, event in enumerate(events):
            if clock.now() >= lease_ends:
                # Slow subscribers used up the lease: the rest is claimable by others again.
                log.info(
                    "lease expired mid-batch",
                    extra={"worker_id": self.worker_id, "skipped": len(events) - index},
                )
                break
            pending.append((event, self._process(event, settled.get(event.id, set()))))
            processed += 1
            if time.monotonic() - since >= self.finish_interval:
                self._finish_and_report(pending)
                pending = []
                since = time.monotonic()
        self._finish_and_report(pending)
        return processed

    def _finish_and_report(self, rounds: Sequence[tuple[Event, _Outcome]]) -> None:
        if not rounds:
            return
        try:
            results = self._finish_many(rounds)
        except Exception:
            if len(rounds) < 2:
                raise
            # One event's finish (a death listener, say) must not hold back the others'.
            log.warning("finishing the batch failed; one event at a time", exc_info=True)
            results = {event.id: self._finish(event, outcome) for event, outcome in rounds}
        for event, outcome in rounds:
            self._report(event, outcome, results[event.id])

    def _report(self, event: Event, outcome: _Outcome, result: str) -> None:
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


def _settled_of(session: Session, event_ids: Sequence[str]) -> dict[str, set[str]]:
    """Each event's subscribers that need no run: delivered, or parked dead (two statements)."""
    settled: dict[str, set[str]] = {event_id: set() for event_id in event_ids}
    if not event_ids:
        return settled
    for event_id, name in session.execute(
        select(OutboxDelivery.event_id, OutboxDelivery.subscriber).where(
            OutboxDelivery.event_id.in_(event_ids)
        )
    ):
        settled[event_id].add(name)
    for event_id, name in session.execute(
        select(OutboxFailure.event_id, OutboxFailure.subscriber).where(
            OutboxFailure.event_id.in_(event_ids), OutboxFailure.dead_at.is_not(None)
        )
    ):
        settled[event_id].add(name)
    return settled


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
