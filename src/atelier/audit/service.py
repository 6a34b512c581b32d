"""Write and read the run audit timeline. ``record`` joins the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.audit.models import RunEvent
from atelier.platform import clock
from atelier.platform.actors import Actor


def record(
    session: Session,
    run_id: str,
    kind: str,
    actor: Actor,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> RunEvent:
    """Append one RunEvent; it commits or rolls back with the change it describes."""
    event = RunEvent(
        run_id=run_id,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor_type=actor.type.value,
        actor_id=actor.id,
        channel=actor.channel.value,
        data=data or {},
        occurred_at=clock.now(),
    )
    session.add(event)
    return event


def has_event(session: Session, run_id: str, kind: str, data: dict[str, Any]) -> bool:
    """Whether the run's timeline has a ``kind`` event whose data includes ``data``."""
    rows = session.scalars(
        select(RunEvent.data).where(RunEvent.run_id == run_id, RunEvent.kind == kind)
    )
    return any(all((row or {}).get(k) == v for k, v in data.items()) for row in rows)


def timeline(session: Session, run_id: str, *, limit: int = 200, offset: int = 0) -> list[RunEvent]:
    """A run's events, newest first."""
    stmt = (
        select(RunEvent)
        .where(RunEvent.run_id == run_id)
        .order_by(RunEvent.occurred_at.desc(), RunEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))
