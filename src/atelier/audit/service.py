"""Write and read the run audit timeline. ``record`` joins the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
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
    event = RunEvent(**_fields(run_id, kind, actor, from_status, to_status, data))
    session.add(event)
    return event


def record_many(
    session: Session,
    run_ids: Sequence[str],
    kind: str,
    actor: Actor,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """``record`` for many runs at once: the same rows, in one executemany INSERT."""
    if not run_ids:
        return
    rows = [_fields(run_id, kind, actor, from_status, to_status, data) for run_id in run_ids]
    # A Core insert into the table (the same column defaults, without the ORM's bulk-insert
    # machinery); the session's pending changes go first, as an ORM insert's autoflush would.
    session.flush()
    session.connection().execute(_INSERT, rows)


_INSERT = insert(cast(Table, RunEvent.__table__))


def _fields(
    run_id: str,
    kind: str,
    actor: Actor,
    from_status: str | None,
    to_status: str | None,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "actor_type": actor.type.value,
        "actor_id": actor.id,
        "channel": actor.channel.value,
        "data": dict(data or {}),
        "occurred_at": clock.now(),
    }


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
