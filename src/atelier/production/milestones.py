"""Run milestones a partner (or an admin on its behalf) reports: accept, start, finish, progress.

Each one is the run locked, ownership, the lifecycle's check, the change and its audit row and
event, in the caller's transaction (accept, start, finish and progress without the ORM: see
``_write``). ``partner_id`` is the caller's partner (ownership is checked under the lock; a foreign
or partner-less run is a 404); admins pass ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, not_found
from atelier.production import repository_writes, transitions
from atelier.production.completion import CompletionResult, complete_run
from atelier.production.errors import ProductionCode
from atelier.production.gates import gate_changes
from atelier.production.lifecycle import Action, RunStatus, check
from atelier.production.lifecycle_schemas import CompleteRequest
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)


def owned_run(session: Session, run_id: str, partner_id: str | None) -> ProductionRun:
    """The run locked for update; 404 when unknown or (for a partner) not the caller's."""
    run = transitions.lock_run(session, run_id)
    if partner_id is not None and run.partner_id != partner_id:
        raise not_found("production_run", run_id)
    return run


# A milestone is written without the ORM's unit of work: the run's row read (and locked) with
# the lifecycle policy in one statement, the lifecycle's check on its facts, a guarded UPDATE,
# the audit row and the event; the answer is the row's dict with the written values.
RunBody = dict[str, Any]

# Attempts before giving up when the guarded UPDATE keeps finding the run's facts changed
# (never seen with the run locked; a bound, not a loop that may spin).
_ATTEMPTS = 3


def _write(
    session: Session,
    run_id: str,
    partner_id: str | None,
    action: Action,
    change: Callable[[RunBody], dict[str, Any]],
) -> tuple[RunBody, RunBody]:
    """Lock the run, check ``action``, write ``change(run)`` (plus the gate and ``updated_at``)
    guarded by the facts checked; (the run after, the changed columns' values before).

    404 when the run is unknown or (for a partner) not the caller's; the lifecycle's 409 when
    ``action`` is not allowed, also when the facts changed under the guard (checked again)."""
    for _ in range(_ATTEMPTS):
        found = repository_writes.locked_run_row(session, run_id, transitions.LIFECYCLE_POLICY_KEY)
        if found is None:
            raise not_found("production_run", run_id)
        run, paused, document = found
        if partner_id is not None and run["partner_id"] != partner_id:
            raise not_found("production_run", run_id)
        policy = transitions.cache_policy(session, document)
        decision = check(action, transitions.facts_from(run), policy)
        if not decision:
            raise Conflict(decision.detail, code=decision.code)
        changes = change(run)
        changes.update(gate_changes({**run, **changes}, paused))
        changes["updated_at"] = clock.now()
        if repository_writes.update_if_unchanged(session, run_id, run, changes):
            before = {name: run[name] for name in changes if name in run}
            changes.pop("gate_paused_seconds", None)  # not a field of the answer
            run.update(changes)
            _forget_loaded(session, run_id)
            return run, before
        log.info("run changed under its milestone; checking again", extra={"run_id": run_id})
    raise Conflict(
        "the run kept changing while this step was recorded; try again",
        code=ProductionCode.RUN_CHANGED,
    )


def _forget_loaded(session: Session, run_id: str) -> None:
    """A run loaded as an ORM object earlier in the session now holds old values: expire it."""
    loaded = session.identity_map.get(identity_key(ProductionRun, run_id))
    if loaded is not None:
        session.expire(loaded)


def accept_run(
    session: Session, run_id: str, *, actor: Actor, partner_id: str | None = None
) -> tuple[RunBody, str]:
    """sent_to_partner → in_progress with accepted_at; a non-terminal parent follows."""

    def change(run: RunBody) -> dict[str, Any]:
        now = clock.now()
        return {"status": RunStatus.IN_PROGRESS.value, "accepted_at": now, "last_activity_at": now}

    run, before = _write(session, run_id, partner_id, Action.ACCEPT, change)
    transitions.record_change_of(
        session, run, "accepted", actor, from_status=before["status"], event="accepted"
    )
    from atelier.production import cascade

    cascade.on_child_accepted(session, run_id, run["parent_run_id"], actor)
    log.info("run accepted", extra={"run_id": run_id, "partner_id": run["partner_id"]})
    return run, "Production run accepted"


def start_run(
    session: Session, run_id: str, *, actor: Actor, partner_id: str | None = None
) -> tuple[RunBody, str]:
    """Stamp started_at on an accepted run (a sample's design follows, by subscriber)."""

    def change(run: RunBody) -> dict[str, Any]:
        now = clock.now()
        return {"started_at": now, "last_activity_at": now}

    run, _ = _write(session, run_id, partner_id, Action.START, change)
    transitions.record_change_of(session, run, "started", actor, event="started")
    log.info("run started", extra={"run_id": run_id, "partner_id": run["partner_id"]})
    return run, "Production run started"


def finish_run(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    partner_id: str | None = None,
    notes: str | None = None,
    complete_tasks: bool = False,
) -> tuple[RunBody, str]:
    """Stamp finished_at (+ notes) on a started run, optionally completing its open tasks.

    The run itself is not completed here: completion records the yield (``/complete``).
    """

    def change(_run: RunBody) -> dict[str, Any]:
        now = clock.now()
        changes: dict[str, Any] = {"finished_at": now, "last_activity_at": now}
        if notes is not None:
            changes["finish_notes"] = notes
        return changes

    run, _ = _write(session, run_id, partner_id, Action.FINISH, change)
    completed_tasks = 0
    if complete_tasks:
        from atelier.tasks import service as tasks

        completed_tasks = tasks.complete_open_tasks(session, run_id, actor)
    transitions.record_change_of(
        session,
        run,
        "finished",
        actor,
        data={"notes": notes, "completed_tasks": completed_tasks},
        event="finished",
    )
    log.info("run finished", extra={"run_id": run_id, "partner_id": run["partner_id"]})
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
) -> tuple[RunBody, str]:
    """Partial output so far (accepted, in progress); the latest figure wins.

    It may exceed the run quantity (over-production happens) and may go down (a recount).
    """

    def change(_run: RunBody) -> dict[str, Any]:
        now = clock.now()
        return {
            "produced_quantity": produced_quantity,
            "last_progress_at": now,
            "last_activity_at": now,
        }

    run, before = _write(session, run_id, partner_id, Action.PROGRESS, change)
    data: dict[str, Any] = {
        "produced_quantity": produced_quantity,
        "previous_produced_quantity": before["produced_quantity"],
        "quantity": run["quantity"],
    }
    transitions.record_change_of(
        session, run, "progress_updated", actor, data=data, event="progress_updated"
    )
    quantity = run["quantity"]
    total = f" of {quantity}" if quantity is not None else ""
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
