"""What one run's milestone does to its family.

Inline, atomic with the child's change: the parent following its children (``in_progress`` on
the first acceptance, ``completed`` once every live child is). A reaction, run by the
``production_run.completed`` subscriber in its own transaction: the automatic dispatch of
dependants (``depends_on_run_ids``) once everything they wait on is completed."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.platform import clock, outbox
from atelier.platform.actors import Actor
from atelier.production import dispatch, repository, transitions
from atelier.production.lifecycle import TERMINAL, RunStatus
from atelier.production.models import DispatchState, ProductionRun

log = logging.getLogger(__name__)


def on_child_accepted(
    session: Session, run_id: str, parent_run_id: str | None, actor: Actor
) -> None:
    """Run ``run_id`` (a child of ``parent_run_id``) was accepted: its non-terminal parent, not
    yet in progress, moves to ``in_progress`` (the family's work has started)."""
    if parent_run_id is None:
        return
    parent = transitions.lock_run(session, parent_run_id)
    if RunStatus(parent.status) in TERMINAL or parent.status == RunStatus.IN_PROGRESS:
        return
    # The parent has no partner and is never accepted itself; it follows its children, so the
    # partner lifecycle (which guards accept/start on a partner's run) does not apply here.
    from_status = parent.status
    parent.status = RunStatus.IN_PROGRESS
    session.flush()
    transitions.record_change(
        session,
        parent,
        "child_accepted",
        actor,
        from_status=from_status,
        data={"child_run_id": run_id},
        event="updated",
    )


def on_run_completed(session: Session, run: ProductionRun, actor: Actor) -> None:
    """``run`` just completed: complete its parent when every child is done (its dependants
    are released by the ``production_run.completed`` subscriber)."""
    if run.parent_run_id is not None:
        settle_parent(session, run.parent_run_id, run.id, actor)


def settle_parent(session: Session, parent_id: str, child_id: str, actor: Actor) -> None:
    """Complete the parent when every child that was not cancelled is completed (at least one)."""
    parent = transitions.lock_run(session, parent_id)
    if RunStatus(parent.status) in TERMINAL:
        return
    statuses = repository.child_statuses(session, parent_id)
    # Cancelled children no longer count (their work was dropped); at least one must be done.
    live = [s for s in statuses if s != RunStatus.CANCELLED]
    if not live or any(s != RunStatus.COMPLETED for s in live):
        return
    # Parent completion goes around lifecycle.check on purpose: the parent has no partner and is
    # never accepted/started/finished itself — its work is its children's, all completed now.
    # Inventory was moved by each child's completion; the parent moves none.
    from_status = parent.status
    now = clock.now()
    parent.status = RunStatus.COMPLETED
    parent.completed_at = now
    session.flush()
    transitions.record_change(
        session,
        parent,
        "completed",
        actor,
        from_status=from_status,
        data={"via": "children", "last_child_run_id": child_id},
        event="completed",
    )
    log.info("parent run completed by its children", extra={"run_id": parent.id})
    on_run_completed(session, parent, actor)


def release_dependants(session: Session, run_id: str, actor: Actor) -> None:
    """Dispatch the approved runs that waited on ``run_id`` and now wait on nothing, with their
    template intent; a dependant that cannot go is audited ``manual_dispatch_required``.

    Idempotent: a dependant already dispatched is no longer ``approved`` + ``idle``.
    """
    for dependant in repository.approved_dependants(session, run_id):
        if dependant.dispatch_state != DispatchState.IDLE:
            continue
        if transitions.waiting_on(session, dependant):
            continue
        outcome = dispatch.dispatch_with_intent(session, dependant, actor=actor)
        if outcome.status == "dispatched":
            log.info(
                "dependant dispatched",
                extra={"run_id": dependant.id, "partner_id": dependant.partner_id},
            )
            continue
        # Skipped (no template intent) or failed (the lifecycle refused, a template is gone).
        data: dict[str, object] = {"reason": outcome.reason}
        if outcome.status == "failed":
            data["code"] = outcome.code
        data["released_by_run_id"] = run_id
        audit.record(session, dependant.id, "manual_dispatch_required", actor, data=data)


def flag_dependants_of_cancelled(session: Session, run_id: str, actor: Actor) -> int:
    """A cancelled run leaves its dependants waiting forever: say so on each of them — a
    ``dependency_cancelled`` timeline event and ``production_run.dependency_cancelled`` (whose
    subscriber adds the admin feed entry with the choices) — once per dependant and cancelled
    run."""
    flagged = 0
    for dependant in repository.dependants_waiting_on(session, run_id):
        data = {"cancelled_run_id": run_id}
        if audit.has_event(session, dependant.id, "dependency_cancelled", data):
            continue
        audit.record(session, dependant.id, "dependency_cancelled", actor, data=data)
        outbox.emit(
            session,
            "production_run.dependency_cancelled",
            transitions.event_payload(dependant, actor, **data),
        )
        flagged += 1
        log.info(
            "dependant of a cancelled run flagged",
            extra={"run_id": dependant.id, "cancelled_run_id": run_id},
        )
    return flagged
