"""Scheduled production jobs: the gate sweeper.

The sweeper never cancels a run or changes its status: it flags the passed gate on the row,
writes a ``gate_overdue`` RunEvent, emits ``production_run.gate_overdue`` and adds an admin feed
entry — once per gate, however many workers sweep at the same time.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from atelier.notifications.feed import add_feed_entry
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.scheduler import scheduled_job
from atelier.production.lifecycle import WITH_PARTNER
from atelier.production.models import ProductionRun
from atelier.production.transitions import record_change

log = logging.getLogger(__name__)

GATE_SWEEP_JOB = "production.gate_sweeper"
GATE_SWEEP_CRON = "*/15 * * * *"
_BATCH = 500


def _overdue_candidates(session: Session, now: datetime, after: str | None) -> list[ProductionRun]:
    stmt = (
        select(ProductionRun)
        .where(
            ProductionRun.gate_deadline_at < now,
            ProductionRun.current_gate.is_not(None),
            ProductionRun.status.in_([s.value for s in WITH_PARTNER]),
            or_(
                ProductionRun.overdue_gate.is_(None),
                ProductionRun.overdue_gate != ProductionRun.current_gate,
            ),
        )
        .order_by(ProductionRun.id)
        .limit(_BATCH)
    )
    if after is not None:
        stmt = stmt.where(ProductionRun.id > after)
    return list(session.scalars(stmt))


def _claim(session: Session, run: ProductionRun, now: datetime) -> bool:
    """Flag the run's current gate overdue unless another worker (or a transition) got there
    first: the conditional UPDATE re-checks the gate under the row lock."""
    gate, deadline = run.current_gate, run.gate_deadline_at
    result = session.execute(
        update(ProductionRun)
        .where(
            ProductionRun.id == run.id,
            ProductionRun.current_gate == gate,
            ProductionRun.gate_deadline_at == deadline,
            or_(
                ProductionRun.overdue_gate.is_(None),
                ProductionRun.overdue_gate != ProductionRun.current_gate,
            ),
        )
        .values(overdue_gate=gate, overdue_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def sweep_overdue_gates(session: Session, now: datetime) -> int:
    """Flag every run whose gate deadline passed before ``now``; returns how many were flagged."""
    flagged = 0
    after: str | None = None
    actor = Actor.scheduler()
    while True:
        batch = _overdue_candidates(session, now, after)
        if not batch:
            break
        after = batch[-1].id
        for run in batch:
            if not _claim(session, run, now):
                continue
            session.refresh(run)
            gate, deadline = run.current_gate, run.gate_deadline_at
            assert gate is not None and deadline is not None  # guaranteed by the claim
            data = {"gate": gate, "deadline": deadline.isoformat()}
            record_change(session, run, "gate_overdue", actor, data=data, event="gate_overdue")
            add_feed_entry(
                session,
                "production_run.gate_overdue",
                f"Run {run.id} is overdue at the {gate} gate",
                body=(
                    f"The {gate} gate was due by {deadline.isoformat()}. "
                    "The run is still open; follow up with the partner or reassign it."
                ),
                run_id=run.id,
                partner_id=run.partner_id,
                data=data,
                dedup_key=f"{run.id}:overdue:{gate}:{deadline.isoformat()}",
            )
            flagged += 1
            log.info(
                "gate overdue",
                extra={"run_id": run.id, "partner_id": run.partner_id, "gate": gate},
            )
        if len(batch) < _BATCH:
            break
    if flagged:
        log.info("gate sweep flagged runs", extra={"flagged": flagged})
    return flagged


@scheduled_job(GATE_SWEEP_JOB, GATE_SWEEP_CRON)
def gate_sweeper(session: Session, slot: datetime) -> None:
    """Every 15 minutes: flag runs whose gate deadline has passed (never cancels them)."""
    # Deadlines are judged against the current time, not the slot: a late slot sees the truth.
    sweep_overdue_gates(session, max(slot, clock.now()))
