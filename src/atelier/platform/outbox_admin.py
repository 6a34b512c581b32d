"""Outbox administration: list events by state, show one with its subscribers, retry it.

A retry re-arms only what failed: the event's failing or dead subscriber deliveries get a fresh
attempt budget and the event is due at once. Subscribers that already succeeded keep their
``outbox_deliveries`` row, so the dispatcher never runs them again. Like the dispatcher's
``_finish``, a retry locks the event row first, so concurrent retries (and a retry racing a
worker) serialise; a retry with nothing to re-arm changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from atelier.platform import clock, outbox
from atelier.platform.errors import not_found
from atelier.platform.models import OutboxDelivery, OutboxEvent, OutboxFailure
from atelier.platform.outbox import SubscriberRegistry

log = logging.getLogger(__name__)

STATES = ("pending", "failing", "dead", "delivered")


def state_condition(state: str) -> ColumnElement[bool]:
    """SQL for one derived state (see ``OutboxEvent``)."""
    undelivered = OutboxEvent.delivered_at.is_(None)
    if state == "delivered":
        return OutboxEvent.delivered_at.is_not(None)
    if state == "dead":
        return undelivered & OutboxEvent.dead_at.is_not(None)
    alive = undelivered & OutboxEvent.dead_at.is_(None)
    if state == "failing":
        return alive & (OutboxEvent.attempts > 0)
    if state == "pending":
        return alive & (OutboxEvent.attempts == 0)
    raise ValueError(f"unknown outbox state {state!r}")


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[OutboxEvent]
    count: int


def list_events(
    session: Session,
    *,
    state: str | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> EventPage:
    """Events newest first, optionally in one state and/or with one name."""
    conditions: list[ColumnElement[bool]] = []
    if state is not None:
        conditions.append(state_condition(state))
    if name:
        conditions.append(OutboxEvent.name == name)
    rows = session.scalars(
        select(OutboxEvent)
        .where(*conditions)
        .order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    count = session.scalar(select(func.count()).select_from(OutboxEvent).where(*conditions))
    return EventPage(list(rows), int(count or 0))


@dataclass(frozen=True, slots=True)
class SubscriberDelivery:
    subscriber: str
    state: str
    attempts: int
    last_error: str | None
    last_failed_at: datetime | None
    dead_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventDetail:
    event: OutboxEvent
    subscribers: list[SubscriberDelivery]


def _get_event(session: Session, event_id: str, *, lock: bool = False) -> OutboxEvent:
    stmt = select(OutboxEvent).where(OutboxEvent.id == event_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    if row is None:
        raise not_found("outbox_event", event_id)
    return row


def _failures(session: Session, event_id: str) -> dict[str, OutboxFailure]:
    return {
        f.subscriber: f
        for f in session.scalars(
            select(OutboxFailure)
            .where(OutboxFailure.event_id == event_id)
            .execution_options(populate_existing=True)
        )
    }


def _detail(session: Session, row: OutboxEvent, registry: SubscriberRegistry) -> EventDetail:
    delivered = {
        d.subscriber: d.delivered_at
        for d in session.scalars(select(OutboxDelivery).where(OutboxDelivery.event_id == row.id))
    }
    failures = _failures(session, row.id)
    names = {s.name for s in registry.for_event(row.name)} | set(delivered) | set(failures)
    subscribers = []
    for name in sorted(names):
        failure = failures.get(name)
        if name in delivered:
            state = "delivered"
        elif failure is not None and failure.dead_at is not None:
            state = "dead"
        elif failure is not None and failure.attempts > 0:
            state = "failing"
        else:
            state = "pending"
        subscribers.append(
            SubscriberDelivery(
                subscriber=name,
                state=state,
                attempts=failure.attempts if failure else 0,
                last_error=failure.last_error if failure else None,
                last_failed_at=failure.last_failed_at if failure else None,
                dead_at=failure.dead_at if failure else None,
                delivered_at=delivered.get(name),
            )
        )
    return EventDetail(row, subscribers)


def event_detail(
    session: Session, event_id: str, *, registry: SubscriberRegistry = outbox.registry
) -> EventDetail:
    """One event with the state of every subscriber owed it (or that saw it); 404 if unknown."""
    return _detail(session, _get_event(session, event_id), registry)


@dataclass(frozen=True, slots=True)
class RetryResult:
    detail: EventDetail
    rearmed: list[str]


def retry_event(
    session: Session, event_id: str, *, registry: SubscriberRegistry = outbox.registry
) -> RetryResult:
    """Re-arm a dead or failing event's undelivered subscribers; idempotent; 404 if unknown.

    Delivered and pending events are left as they are (``rearmed`` is empty).
    """
    row = _get_event(session, event_id, lock=True)
    if row.delivered_at is not None:
        return RetryResult(_detail(session, row, registry), [])
    delivered = set(
        session.scalars(
            select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event_id)
        )
    )
    rearm = [
        f
        for name, f in _failures(session, event_id).items()
        if name not in delivered and (f.dead_at is not None or f.attempts > 0)
    ]
    if row.dead_at is None and row.attempts == 0 and not rearm:
        return RetryResult(_detail(session, row, registry), [])
    for failure in rearm:
        failure.attempts = 0
        failure.dead_at = None
    was_dead = row.dead_at is not None
    if was_dead:
        row.manual_retries += 1
    row.dead_at = None
    row.attempts = 0
    row.available_at = clock.now()
    session.flush()
    outbox.mark_dirty(session)  # an embedded dispatcher picks it up right after the commit
    names = sorted(f.subscriber for f in rearm)
    log.info(
        "outbox event re-armed",
        extra={"event_id": row.id, "event_name": row.name, "was_dead": was_dead, "rearmed": names},
    )
    return RetryResult(_detail(session, row, registry), names)
