"""Transactional outbox: ``emit`` writes an event in the caller's transaction; subscribers
register by name or pattern and are delivered at least once by ``platform.dispatcher``."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.models import OutboxEvent

log = logging.getLogger(__name__)

OUTBOX_DIRTY = "atelier_outbox_dirty"


@dataclass(frozen=True, slots=True)
class Event:
    """What a subscriber receives: ids and facts, never ORM objects."""

    id: str
    name: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int


Handler = Callable[[Session, Event], None]


@dataclass(frozen=True, slots=True)
class Subscriber:
    name: str
    pattern: str
    handler: Handler

    def matches(self, event_name: str) -> bool:
        return fnmatch.fnmatchcase(event_name, self.pattern)


class SubscriberRegistry:
    """Subscribers by pattern (``order.placed``, ``production_run.*``)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, Subscriber] = {}

    def register(self, pattern: str, *, name: str | None = None) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            key = name or f"{handler.__module__}.{handler.__qualname__}"
            self._subscribers[key] = Subscriber(key, pattern, handler)
            return handler

        return decorator

    def unregister(self, name: str) -> None:
        self._subscribers.pop(name, None)

    def for_event(self, event_name: str) -> list[Subscriber]:
        return [s for s in self._subscribers.values() if s.matches(event_name)]

    def all(self) -> list[Subscriber]:
        return list(self._subscribers.values())


registry = SubscriberRegistry()
subscriber = registry.register


def emit(
    session: Session, name: str, payload: dict[str, Any], *, delay: timedelta | None = None
) -> OutboxEvent:
    """Queue event ``name``; it is delivered only if the caller's transaction commits."""
    row = OutboxEvent(**_fields(name, payload, delay))
    session.add(row)
    session.info[OUTBOX_DIRTY] = True
    log.debug("event queued", extra={"event_name": name})
    return row


def emit_many(
    session: Session,
    name: str,
    payloads: Sequence[dict[str, Any]],
    *,
    delay: timedelta | None = None,
) -> None:
    """``emit`` for many payloads at once: the same rows, in one executemany INSERT."""
    if not payloads:
        return
    rows = [_fields(name, p, delay) for p in payloads]
    # A Core insert into the table (see ``audit.record_many``): pending changes flushed first.
    session.flush()
    session.connection().execute(_INSERT, rows)
    session.info[OUTBOX_DIRTY] = True
    log.debug("events queued", extra={"event_name": name, "count": len(payloads)})


_INSERT = insert(cast(Table, OutboxEvent.__table__))


def _fields(name: str, payload: dict[str, Any], delay: timedelta | None) -> dict[str, Any]:
    now = clock.now()
    return {
        "name": name,
        "payload": payload,
        "created_at": now,
        "available_at": now + (delay or timedelta()),
    }


def mark_dirty(session: Session) -> None:
    """Wake in-process dispatchers after this session commits (e.g. an event was re-armed)."""
    session.info[OUTBOX_DIRTY] = True


_wakeups: list[Callable[[], None]] = []


def on_events_committed(callback: Callable[[], None]) -> None:
    """Call ``callback`` after any commit that queued events (wakes an in-process worker)."""
    _wakeups.append(callback)


def clear_wakeups() -> None:
    _wakeups.clear()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(OUTBOX_DIRTY, False):
        for callback in list(_wakeups):
            callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX_DIRTY, None)
