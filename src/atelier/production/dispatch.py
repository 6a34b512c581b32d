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
from typing import Any, Literal

from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import DomainError
from atelier.production import transitions
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import Action, RunStatus
from atelier.production.models import DispatchState, ProductionRun
from atelier.tasks import service as tasks_service
from atelier.tasks.models import Task, TaskTemplate

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
    transitions.require(session, run, Action.CANCEL_DISPATCH)
    run.dispatch_state = DispatchState.IDLE
    run.dispatch_started_at = None
    session.flush()
    transitions.record_change(session, run, "dispatch_cancelled", actor)
    return run


@dataclass(frozen=True, slots=True)
class _NewTasks:
    templates: list[TaskTemplate]
    tasks: list[Task]

    def audit_data(self) -> dict[str, Any]:
        return {
            "template_ids": [t.id for t in self.templates],
            "template_names": [t.name for t in self.templates],
            "task_ids": [t.id for t in self.tasks],
        }


def _tasks_from_templates(
    session: Session,
    run: ProductionRun,
    *,
    template_names: Sequence[str] | None,
    template_ids: Sequence[str] | None,
    category: str | None = None,
    is_redo: bool = False,
) -> _NewTasks:
    """Resolve the templates (422 before anything is written), then create the run's tasks."""
    templates = tasks_service.resolve_templates(
        session, template_names=template_names, template_ids=template_ids, category=category
    )
    created = tasks_service.create_tasks(
        session,
        run_id=run.id,
        partner_id=run.partner_id,
        design_id=run.design_id,
        templates=templates,
        is_redo=is_redo,
    )
    return _NewTasks(templates, created)


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
    transitions.require(
        session, run, Action.CONFIRM_DISPATCH if confirm else Action.SEND_TO_PRODUCTION
    )
    new = _tasks_from_templates(
        session, run, template_names=template_names, template_ids=template_ids, category=category
    )
    now = clock.now()
    from_status = run.status
    run.status = RunStatus.SENT_TO_PARTNER
    run.dispatch_state = DispatchState.COMPLETED
    run.dispatch_started_at = run.dispatch_started_at or now
    run.dispatch_completed_at = now
    run.dispatched_template_ids = [t.id for t in new.templates]
    session.flush()
    transitions.record_change(
        session,
        run,
        "sent_to_partner",
        actor,
        from_status=from_status,
        data=new.audit_data(),
        event="sent_to_partner",
    )
    log.info(
        "run dispatched",
        extra={"run_id": run.id, "partner_id": run.partner_id, "tasks": len(new.tasks)},
    )
    return new.tasks


def dispatch_with_intent(session: Session, run: ProductionRun, *, actor: Actor) -> DispatchOutcome:
    """Dispatch with the template intent recorded at approval.

    ``skipped`` when the run has no intent; ``failed`` (rolled back to a SAVEPOINT, nothing
    written) when the lifecycle refuses or a template no longer resolves.
    """
    names = list(run.dispatch_template_names or [])
    ids = list(run.dispatch_template_ids or [])
    if not names and not ids:
        return DispatchOutcome(
            run.id, "skipped", "no template intent", ProductionCode.NO_TEMPLATE_INTENT
        )
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
    new = _tasks_from_templates(
        session, run, template_names=template_names, template_ids=template_ids, is_redo=True
    )
    session.flush()
    transitions.record_change(
        session,
        run,
        "tasks_added",
        actor,
        data={**new.audit_data(), "is_redo": True},
        event="updated",
    )
    for task in new.tasks:
        tasks_service.emit_task_updated(session, task, actor)
    return new.tasks
