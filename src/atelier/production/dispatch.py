"""Dispatch: turn an approved run into partner work (tasks from templates).

``start_dispatch`` pauses the run in ``awaiting_templates``; ``dispatch_run`` resolves the
templates *before* writing anything, creates the tasks and moves the run to
``sent_to_partner``. ``dispatch_with_intent`` is what approval and the cascade call: it uses the
template intent recorded on the run at approval. Every change goes through
``transitions.lock_run`` + ``require`` + mutate + ``record_change``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, DomainError
from atelier.production import transitions
from atelier.production.lifecycle import Action, RunStatus
from atelier.production.models import DispatchState, ProductionRun
from atelier.tasks import service as tasks_service
from atelier.tasks.models import Task

log = logging.getLogger(__name__)

OutcomeStatus = Literal["dispatched", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class DispatchOutcome:
    """What an automatic dispatch did to one run."""

    run_id: str
    status: OutcomeStatus
    reason: str | None = None
    code: str | None = None
    task_ids: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "production_run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "code": self.code,
            "task_ids": list(self.task_ids),
        }


def start_dispatch(session: Session, run_id: str, *, actor: Actor) -> ProductionRun:
    """approved run → ``dispatch_state = awaiting_templates`` (the admin then confirms)."""
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.DISPATCH)
    run.dispatch_state = DispatchState.AWAITING_TEMPLATES
    run.dispatch_started_at = clock.now()
    run.dispatch_completed_at = None
    session.flush()
    transitions.record_change(session, run, "dispatch_started", actor)
    return run


def cancel_pending_dispatch(session: Session, run_id: str, *, actor: Actor) -> ProductionRun:
    """Leave ``awaiting_templates`` without dispatching (back to ``idle``)."""
    run = transitions.lock_run(session, run_id)
    if run.dispatch_state != DispatchState.AWAITING_TEMPLATES:
        raise Conflict("the run is not waiting for templates", code="dispatch_not_pending")
    run.dispatch_state = DispatchState.IDLE
    run.dispatch_started_at = None
    session.flush()
    transitions.record_change(session, run, "dispatch_cancelled", actor)
    return run


def _require_dispatchable(session: Session, run: ProductionRun, *, confirm: bool) -> None:
    awaiting = run.dispatch_state == DispatchState.AWAITING_TEMPLATES
    if confirm and not awaiting:
        # Say *why* when the run is past dispatch (terminal, already sent ...), else plainly.
        if run.status != RunStatus.APPROVED:
            transitions.require(session, run, Action.DISPATCH)
        raise Conflict(
            "the run is not waiting for templates; start with POST .../dispatch",
            code="dispatch_not_pending",
        )
    if not awaiting:
        transitions.require(session, run, Action.DISPATCH)
        return
    # A paused dispatch is being confirmed: same rules as DISPATCH except the pause itself.
    if run.status != RunStatus.APPROVED:
        transitions.require(session, run, Action.DISPATCH)
    if run.partner_id is None:
        raise Conflict("assign a partner before dispatching the run", code="partner_required")
    waiting = transitions.waiting_on(session, run)
    if waiting:
        raise Conflict(
            f"the run waits on runs that are not completed yet: {', '.join(waiting)}",
            code="dependencies_pending",
        )


def dispatch_run(
    session: Session,
    run: ProductionRun,
    *,
    actor: Actor,
    template_names: Sequence[str] | None = None,
    template_ids: Sequence[str] | None = None,
    category: str | None = None,
    confirm: bool = False,
) -> list[Task]:
    """Create one task per template (plus subtasks) and send the run to its partner.

    Allowed for an approved run (partner set, dependencies completed) whether idle or waiting
    for templates; ``confirm=True`` insists on the pause (409 ``dispatch_not_pending``).
    Templates are resolved before anything is written: unknown or ambiguous → 422.
    """
    run = transitions.lock_run(session, run.id)
    _require_dispatchable(session, run, confirm=confirm)
    templates = tasks_service.resolve_templates(
        session, template_names=template_names, template_ids=template_ids, category=category
    )
    created = tasks_service.create_tasks(
        session,
        run_id=run.id,
        partner_id=run.partner_id,
        design_id=run.design_id,
        templates=templates,
    )
    now = clock.now()
    from_status = run.status
    run.status = RunStatus.SENT_TO_PARTNER
    run.dispatch_state = DispatchState.COMPLETED
    run.dispatch_started_at = run.dispatch_started_at or now
    run.dispatch_completed_at = now
    run.dispatched_template_ids = [t.id for t in templates]
    session.flush()
    transitions.record_change(
        session,
        run,
        "sent_to_partner",
        actor,
        from_status=from_status,
        data={
            "template_ids": [t.id for t in templates],
            "template_names": [t.name for t in templates],
            "task_ids": [t.id for t in created],
        },
        event="sent_to_partner",
    )
    log.info(
        "run dispatched",
        extra={"run_id": run.id, "partner_id": run.partner_id, "tasks": len(created)},
    )
    return created


def dispatch_with_intent(session: Session, run: ProductionRun, *, actor: Actor) -> DispatchOutcome:
    """Dispatch with the template intent recorded at approval.

    ``skipped`` when the run has no intent; ``failed`` (rolled back to a SAVEPOINT, nothing
    written) when the lifecycle refuses or a template no longer resolves.
    """
    names = list(run.dispatch_template_names or [])
    ids = list(run.dispatch_template_ids or [])
    if not names and not ids:
        return DispatchOutcome(run.id, "skipped", "no template intent", "no_template_intent")
    savepoint = session.begin_nested()
    try:
        created = dispatch_run(
            session,
            run,
            actor=actor,
            template_ids=ids or None,
            template_names=None if ids else names,
        )
    except DomainError as exc:
        savepoint.rollback()
        log.info(
            "automatic dispatch failed",
            extra={"run_id": run.id, "partner_id": run.partner_id, "code": exc.code},
        )
        return DispatchOutcome(run.id, "failed", exc.detail, exc.code)
    savepoint.commit()
    return DispatchOutcome(run.id, "dispatched", None, None, tuple(t.id for t in created))


def send_to_production(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    template_names: Sequence[str] | None = None,
    template_ids: Sequence[str] | None = None,
    category: str | None = None,
) -> tuple[ProductionRun, list[Task]]:
    """Dispatch in one call; with no templates named, the run's approval intent is used."""
    run = transitions.lock_run(session, run_id)
    if not (template_names or template_ids or category):
        template_ids = list(run.dispatch_template_ids or []) or None
        template_names = None if template_ids else (list(run.dispatch_template_names or []) or None)
    created = dispatch_run(
        session,
        run,
        actor=actor,
        template_names=template_names,
        template_ids=template_ids,
        category=category,
    )
    return run, created


def add_tasks(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    template_names: Sequence[str] | None = None,
    template_ids: Sequence[str] | None = None,
) -> list[Task]:
    """Redo: more tasks (``is_redo``) on a dispatched, unfinished run; they block completion."""
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.ADD_TASKS)
    templates = tasks_service.resolve_templates(
        session, template_names=template_names, template_ids=template_ids
    )
    created = tasks_service.create_tasks(
        session,
        run_id=run.id,
        partner_id=run.partner_id,
        design_id=run.design_id,
        templates=templates,
        is_redo=True,
    )
    session.flush()
    transitions.record_change(
        session,
        run,
        "tasks_added",
        actor,
        data={
            "template_ids": [t.id for t in templates],
            "template_names": [t.name for t in templates],
            "task_ids": [t.id for t in created],
            "is_redo": True,
        },
        event="updated",
    )
    for task in created:
        tasks_service.emit_task_updated(session, task, actor)
    return created


def accept_run_for_task(session: Session, run_id: str, actor: Actor) -> ProductionRun:
    """Accept a ``sent_to_partner`` run because its partner started working on one of its tasks.

    Goes through the run's own accept (``production.milestones.accept_run``) so the RunEvent,
    the ``production_run.accepted`` event and the parent cascade are exactly those of
    ``POST .../accept``.
    """
    from atelier.production import milestones

    run = transitions.lock_run(session, run_id)
    if run.status != RunStatus.SENT_TO_PARTNER:
        return run
    accepted, _message = milestones.accept_run(session, run_id, actor=actor)
    return accepted
