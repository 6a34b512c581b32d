"""Run milestones a partner (or an admin on its behalf) reports: accept, start, finish, progress.

Each one is ``lock_run`` + ownership + ``require`` + mutate + ``record_change`` in the caller's
transaction. ``partner_id`` is the caller's partner (ownership is checked under the lock; a foreign
or partner-less run is a 404); admins pass ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import not_found
from atelier.production import transitions
from atelier.production.completion import CompletionResult, complete_run
from atelier.production.lifecycle import Action, RunStatus
from atelier.production.lifecycle_schemas import CompleteRequest
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)


def owned_run(session: Session, run_id: str, partner_id: str | None) -> ProductionRun:
    """The run locked for update; 404 when unknown or (for a partner) not the caller's."""
    run = transitions.lock_run(session, run_id)
    if partner_id is not None and run.partner_id != partner_id:
        raise not_found("production_run", run_id)
    return run


def accept_run(
    session: Session, run_id: str, *, actor: Actor, partner_id: str | None = None
) -> tuple[ProductionRun, str]:
    """sent_to_partner → in_progress with accepted_at; a non-terminal parent follows."""
    run = owned_run(session, run_id, partner_id)
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
    from atelier.production import cascade

    cascade.on_child_accepted(session, run, actor)
    log.info("run accepted", extra={"run_id": run.id, "partner_id": run.partner_id})
    return run, "Production run accepted"


def start_run(
    session: Session, run_id: str, *, actor: Actor, partner_id: str | None = None
) -> tuple[ProductionRun, str]:
    """Stamp started_at on an accepted run (a sample's design follows, by subscriber)."""
    run = owned_run(session, run_id, partner_id)
    transitions.require(session, run, Action.START)
    now = clock.now()
    run.started_at = now
    run.last_activity_at = now
    transitions.record_change(session, run, "started", actor, event="started")
    session.flush()
    log.info("run started", extra={"run_id": run.id, "partner_id": run.partner_id})
    return run, "Production run started"


def finish_run(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    partner_id: str | None = None,
    notes: str | None = None,
    complete_tasks: bool = False,
) -> tuple[ProductionRun, str]:
    """Stamp finished_at (+ notes) on a started run, optionally completing its open tasks.

    The run itself is not completed here: completion records the yield (``/complete``).
    """
    run = owned_run(session, run_id, partner_id)
    transitions.require(session, run, Action.FINISH)
    now = clock.now()
    run.finished_at = now
    run.last_activity_at = now
    if notes is not None:
        run.finish_notes = notes
    completed_tasks = 0
    if complete_tasks:
        from atelier.tasks import service as tasks

        completed_tasks = tasks.complete_open_tasks(session, run.id, actor)
    transitions.record_change(
        session,
        run,
        "finished",
        actor,
        data={"notes": notes, "completed_tasks": completed_tasks},
        event="finished",
    )
    session.flush()
    log.info("run finished", extra={"run_id": run.id, "partner_id": run.partner_id})
    message = "Production run finished"
    if completed_tasks:
        message += f"; {completed_tasks} open task(s) completed"
    return run, message


def record_progress(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    produced_quantity: int,
    partner_id: str | None = None,
) -> tuple[ProductionRun, str]:
    """Partial output so far (accepted, in progress); the latest figure wins.

    It may exceed the run quantity (over-production happens) and may go down (a recount).
    """
    run = owned_run(session, run_id, partner_id)
    transitions.require(session, run, Action.PROGRESS)
    now = clock.now()
    before = run.produced_quantity
    run.produced_quantity = produced_quantity
    run.last_progress_at = now
    run.last_activity_at = now
    data: dict[str, Any] = {
        "produced_quantity": produced_quantity,
        "previous_produced_quantity": before,
        "quantity": run.quantity,
    }
    transitions.record_change(
        session, run, "progress_updated", actor, data=data, event=("progress_updated")
    )
    session.flush()
    total = f" of {run.quantity}" if run.quantity is not None else ""
    return run, f"Progress recorded: {produced_quantity}{total} produced"


def complete(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    partner_id: str | None,
    produced_quantity: int | None,
    rejected_quantity: int = 0,
    rejection_reason: str | None = None,
    rejection_notes: str | None = None,
    notes: str | None = None,
    allow_shortfall: bool = False,
    consumptions: Sequence[ConsumptionCreate] = (),
) -> CompletionResult:
    """The partner/admin complete: ownership, then ``completion.complete_run``."""
    run = owned_run(session, run_id, partner_id)
    return complete_run(
        session,
        run,
        actor=actor,
        produced_quantity=produced_quantity,
        rejected_quantity=rejected_quantity,
        rejection_reason=rejection_reason,
        rejection_notes=rejection_notes,
        notes=notes,
        allow_shortfall=allow_shortfall,
        consumptions=consumptions,
        source="partner" if partner_id is not None else "admin",
    )


def complete_as_requested(
    session: Session,
    run_id: str,
    request: CompleteRequest,
    *,
    actor: Actor,
    partner_id: str | None,
) -> CompletionResult:
    """:func:`complete` with the yield, rejects, notes and consumption of a complete request
    (the partner's and the admin's ``POST .../complete`` take the same body)."""
    return complete(
        session,
        run_id,
        actor=actor,
        partner_id=partner_id,
        produced_quantity=request.produced_quantity,
        rejected_quantity=request.rejected_quantity,
        rejection_reason=request.rejection_reason,
        rejection_notes=request.rejection_notes,
        notes=request.notes,
        allow_shortfall=request.allow_shortfall,
        consumptions=request.consumptions,
    )
