"""What production offers the reminders domain: the discoverer's candidates (one query), the
per-(run, bucket) reminder state rows, and the two run changes reminders may cause — parking an
unaccepted run for reassignment and recording an escalation. The decisions (thresholds,
cadence, cap) belong to ``atelier.reminders``; this module only reads and writes run data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from atelier.platform.actors import Actor
from atelier.production import repository, transitions
from atelier.production.interventions import (
    _reset_dispatch,
    _reset_gates_and_reminders,
    cancel_open_tasks,
)
from atelier.production.lifecycle import RunStatus
from atelier.production.models import ProductionRun, RunReminder

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReminderState:
    """The stored state of one (run, bucket); see ``RunReminder``."""

    state_id: int
    anchor_at: datetime
    count: int
    attempts: list[dict[str, Any]]
    last_attempt_at: datetime | None
    last_sent_at: datetime | None
    next_due_at: datetime | None
    escalated_at: datetime | None
    escalations: int
    parked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReminderCandidate:
    """The facts the discoverer needs about one run, and its state in its current bucket."""

    id: str
    partner_id: str | None
    design_id: str
    status: str
    quantity: int | None
    produced_quantity: int | None
    created_at: datetime
    dispatch_completed_at: datetime | None
    accepted_at: datetime | None
    started_at: datetime | None
    last_activity_at: datetime | None
    on_hold: bool
    waiting_on_dependencies: bool
    bucket: str
    state: ReminderState | None


@dataclass
class ReminderPass:
    """One discoverer read: counts per (category, bucket) and the overdue/parked runs."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    candidates: list[ReminderCandidate] = field(default_factory=list)


def reminder_candidates(session: Session, cutoffs: dict[str, datetime]) -> ReminderPass:
    """Every active run categorised by the database (one statement); the overdue and parked
    ones in full with their state. ``cutoffs`` maps a bucket to the moment before which its
    stall began for the run to be overdue."""
    found = ReminderPass()
    for row in repository.reminder_candidates(session, cutoffs):
        if row.n is not None:
            found.counts[(row.category, row.bucket)] = int(row.n)
            continue
        state = None
        if row.state_id is not None:
            state = ReminderState(
                state_id=row.state_id,
                anchor_at=row.anchor_at,
                count=row.count or 0,
                attempts=list(row.attempts or []),
                last_attempt_at=row.last_attempt_at,
                last_sent_at=row.last_sent_at,
                next_due_at=row.next_due_at,
                escalated_at=row.escalated_at,
                escalations=row.escalations or 0,
                parked_at=row.parked_at,
            )
        found.candidates.append(
            ReminderCandidate(
                id=row.id,
                partner_id=row.partner_id,
                design_id=row.design_id,
                status=row.status,
                quantity=row.quantity,
                produced_quantity=row.produced_quantity,
                created_at=row.created_at,
                dispatch_completed_at=row.dispatch_completed_at,
                accepted_at=row.accepted_at,
                started_at=row.started_at,
                last_activity_at=row.last_activity_at,
                on_hold=bool(row.on_hold),
                waiting_on_dependencies=bool(row.waiting_on_dependencies),
                bucket=row.bucket,
                state=state,
            )
        )
    return found


def save_reminder_states(
    session: Session, updates: list[dict[str, Any]], inserts: list[dict[str, Any]]
) -> None:
    """Write changed state rows (``updates`` carry ``id``) and new ones, in bulk."""
    repository.save_reminder_states(session, updates, inserts)


def reminder_states(session: Session, run_id: str) -> Sequence[RunReminder]:
    """The run's reminder state rows, by bucket (for the admin run read)."""
    return repository.reminder_states(session, run_id)


def park_unaccepted_run(
    session: Session, run_id: str, *, actor: Actor, data: dict[str, Any]
) -> ProductionRun | None:
    """Move a sent, unaccepted run whose reminders went unanswered to
    ``awaiting_reassignment`` (partner cleared, ``previous_partner_id`` kept, open tasks
    cancelled), with a ``reminder_parked`` RunEvent and a ``production_run.reminder_parked``
    event. ``None`` when the run moved on meanwhile (accepted, held, cancelled ...)."""
    run = transitions.lock_run(session, run_id)
    if run.status != RunStatus.SENT_TO_PARTNER or run.accepted_at is not None or run.on_hold:
        return None
    before = run.status
    partner_id = run.partner_id
    run.status = RunStatus.AWAITING_REASSIGNMENT
    run.previous_partner_id = partner_id
    run.partner_id = None
    _reset_dispatch(run)
    _reset_gates_and_reminders(run)
    cancelled = cancel_open_tasks(session, run.id, actor, reason="reminders unanswered")
    transitions.record_change(
        session,
        run,
        "reminder_parked",
        actor,
        from_status=before,
        data={**data, "parked_partner_id": partner_id, "cancelled_tasks": cancelled},
        event="reminder_parked",
    )
    log.info("production run parked for reassignment", extra={"run_id": run.id})
    return run


def record_escalation(session: Session, run_id: str, *, actor: Actor, data: dict[str, Any]) -> None:
    """A ``reminder_escalated`` RunEvent and ``production_run.reminder_escalated`` event."""
    run = transitions.get_run(session, run_id)
    transitions.record_change(
        session, run, "reminder_escalated", actor, data=data, event="reminder_escalated"
    )
