"""Scheduled production jobs: the gate sweeper.

The sweeper never cancels a run or changes its status: it flags the passed gate on the row,
writes a ``gate_overdue`` RunEvent and emits ``production_run.gate_overdue`` — once per gate,
however many workers sweep at the same time. (The admin feed entry is a subscriber of that
event in ``notifications.feed_subscribers``.)

It works in batches: one conditional ``UPDATE ... RETURNING`` claims a batch (re-checking every
condition under the row locks, so a run that moved on, or that another worker flagged, is not
returned), then the audit rows and events of the winners are written. The scheduled
job commits after every batch, so a sweep over thousands of runs never holds SQLite's write
lock (or PostgreSQL row locks) for long.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.platform import clock, outbox
from atelier.platform.actors import Actor
from atelier.platform.db import IMMEDIATE
from atelier.platform.scheduler import scheduled_job
from atelier.production.lifecycle import WITH_PARTNER
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)

GATE_SWEEP_JOB = "production.gate_sweeper"
GATE_SWEEP_CRON = "*/15 * * * *"
BATCH_SIZE = 500

_WAITING = [s.value for s in WITH_PARTNER]


def _is_overdue(now: datetime) -> list[Any]:
    return [
        ProductionRun.gate_deadline_at < now,
        ProductionRun.current_gate.is_not(None),
        ProductionRun.status.in_(_WAITING),
        # A held run waits on the brand: its deadline is paused until it is released.
        ProductionRun.on_hold.is_(False),
        or_(
            ProductionRun.overdue_gate.is_(None),
            ProductionRun.overdue_gate != ProductionRun.current_gate,
        ),
    ]


def _candidate_ids(session: Session, now: datetime, after: str | None, limit: int) -> list[str]:
    stmt = select(ProductionRun.id).where(*_is_overdue(now)).order_by(ProductionRun.id).limit(limit)
    if after is not None:
        stmt = stmt.where(ProductionRun.id > after)
    return list(session.scalars(stmt))


def _claim(session: Session, ids: list[str], now: datetime) -> list[Any]:
    """Flag the current gate of every still-overdue run in ``ids``; returns the winners."""
    result = session.execute(
        update(ProductionRun)
        .where(ProductionRun.id.in_(ids), *_is_overdue(now))
        .values(overdue_gate=ProductionRun.current_gate, overdue_at=now)
        .returning(
            ProductionRun.id,
            ProductionRun.current_gate,
            ProductionRun.gate_deadline_at,
            ProductionRun.partner_id,
            ProductionRun.design_id,
            ProductionRun.parent_run_id,
            ProductionRun.run_type,
            ProductionRun.status,
        )
        .execution_options(synchronize_session=False)
    )
    return list(result.all())


def _record(session: Session, rows: list[Any], actor: Actor) -> None:
    for row in rows:
        deadline = row.gate_deadline_at.isoformat()
        data = {"gate": row.current_gate, "deadline": deadline}
        audit.record(session, row.id, "gate_overdue", actor, data=data)
        outbox.emit(
            session,
            "production_run.gate_overdue",
            {
                "production_run_id": row.id,
                "partner_id": row.partner_id,
                "design_id": row.design_id,
                "parent_run_id": row.parent_run_id,
                "run_type": row.run_type,
                "status": row.status,
                "actor_type": actor.type.value,
                "actor_id": actor.id,
                "channel": actor.channel.value,
                **data,
            },
        )
        log.info(
            "gate overdue",
            extra={"run_id": row.id, "partner_id": row.partner_id, "gate": row.current_gate},
        )


def sweep_overdue_gates(
    session: Session, now: datetime, *, commit_batches: bool = False, batch_size: int = BATCH_SIZE
) -> int:
    """Flag every run whose gate deadline passed before ``now``; returns how many were flagged.

    With ``commit_batches`` each batch commits on its own (the scheduled job does this).
    """
    flagged = 0
    after: str | None = None
    actor = Actor.scheduler()
    while True:
        ids = _candidate_ids(session, now, after, batch_size)
        if not ids:
            break
        after = ids[-1]
        winners = _claim(session, ids, now)
        if winners:
            _record(session, winners, actor)
            flagged += len(winners)
        if commit_batches:
            session.commit()
            session.expunge_all()
            if session.get_bind().dialect.name == "sqlite":
                # Take the write lock again at BEGIN, as every writer on SQLite does.
                session.connection(execution_options={IMMEDIATE: True})
        else:
            session.flush()
        if len(ids) < batch_size:
            break
    if flagged:
        log.info("gate sweep flagged runs", extra={"flagged": flagged})
    return flagged


@scheduled_job(GATE_SWEEP_JOB, GATE_SWEEP_CRON)
def gate_sweeper(session: Session, slot: datetime) -> None:
    """Every 15 minutes: flag runs whose gate deadline has passed (never cancels them)."""
    # Deadlines are judged against the current time, not the slot: a late slot sees the truth.
    sweep_overdue_gates(session, max(slot, clock.now()), commit_batches=True)
