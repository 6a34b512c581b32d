"""The ORM milestone writes that ``production.milestones`` replaced (issue 14), kept as the
reference its rows are compared against: the run loaded and locked as an ORM object, mutated,
``transitions.record_change`` (gate, audit row, event), flushed by the unit of work."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import not_found
from atelier.production import cascade, transitions
from atelier.production.lifecycle import Action, RunStatus
from atelier.production.models import ProductionRun


def _owned(session: Session, run_id: str, partner_id: str | None) -> ProductionRun:
    run = transitions.lock_run(session, run_id)
    if partner_id is not None and run.partner_id != partner_id:
        raise not_found("production_run", run_id)
    return run


def accept(session: Session, run_id: str, actor: Actor, partner_id: str | None) -> ProductionRun:
    run = _owned(session, run_id, partner_id)
    transitions.require(session, run, Action.ACCEPT)
    now = clock.now()
    from_status = run.status
    run.status = RunStatus.IN_PROGRESS
    run.accepted_at = now
    run.last_activity_at = now
    transitions.record_change(
        session, run, "accepted", actor, from_status=from_status, event="accepted"
    )
    session.flush()
    cascade.on_child_accepted(session, run.id, run.parent_run_id, actor)
    return run


def start(session: Session, run_id: str, actor: Actor, partner_id: str | None) -> ProductionRun:
    run = _owned(session, run_id, partner_id)
    transitions.require(session, run, Action.START)
    now = clock.now()
    run.started_at = now
    run.last_activity_at = now
    transitions.record_change(session, run, "started", actor, event="started")
    session.flush()
    return run


def progress(
    session: Session, run_id: str, actor: Actor, partner_id: str | None, produced: int
) -> ProductionRun:
    run = _owned(session, run_id, partner_id)
    transitions.require(session, run, Action.PROGRESS)
    now = clock.now()
    before = run.produced_quantity
    run.produced_quantity = produced
    run.last_progress_at = now
    run.last_activity_at = now
    data: dict[str, Any] = {
        "produced_quantity": produced,
        "previous_produced_quantity": before,
        "quantity": run.quantity,
    }
    transitions.record_change(
        session, run, "progress_updated", actor, data=data, event="progress_updated"
    )
    session.flush()
    return run


def finish(
    session: Session, run_id: str, actor: Actor, partner_id: str | None, notes: str | None
) -> ProductionRun:
    run = _owned(session, run_id, partner_id)
    transitions.require(session, run, Action.FINISH)
    now = clock.now()
    run.finished_at = now
    run.last_activity_at = now
    if notes is not None:
        run.finish_notes = notes
    transitions.record_change(
        session,
        run,
        "finished",
        actor,
        data={"notes": notes, "completed_tasks": 0},
        event="finished",
    )
    session.flush()
    return run
