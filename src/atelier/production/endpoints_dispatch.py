"""Admin dispatch API: pause/confirm, send-to-production, redo tasks, a run's tasks."""

from __future__ import annotations

from fastapi import status

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import IdPath
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import OutputSchema
from atelier.production import dispatch, transitions
from atelier.production.models import ProductionRun
from atelier.production.schemas import ProductionRunEnvelope, ProductionRunRead
from atelier.tasks import service as tasks_service
from atelier.tasks.models import Task
from atelier.tasks.schemas import (
    CreatedTasks,
    RedoTasksCreate,
    RunTaskProgress,
    RunTasks,
    TaskRead,
    TemplateSelection,
)

router = APIRouter(prefix="/admin/production-runs", tags=["dispatch"])


class RunAndTasks(OutputSchema):
    production_run: ProductionRunRead
    tasks: list[TaskRead]


def _created_tasks(session: DbSession, run_id: str, created: list[Task]) -> list[Task]:
    """The tasks just created, loaded with subtasks and comments, in the run's order."""
    session.flush()
    wanted = {t.id for t in created}
    return [t for t in tasks_service.tasks_for_run(session, run_id) if t.id in wanted]


def _run_and_tasks(session: DbSession, run: ProductionRun, created: list[Task]) -> RunAndTasks:
    tasks = _created_tasks(session, run.id, created)
    session.refresh(run)
    return RunAndTasks(
        production_run=ProductionRunRead.model_validate(run),
        tasks=[TaskRead.model_validate(t) for t in tasks],
    )


@router.post(
    "/{run_id}/dispatch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ProductionRunEnvelope,
)
def start_dispatch(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal
) -> ProductionRunEnvelope:
    """Pause the approved run in ``awaiting_templates`` until templates are confirmed."""
    run = dispatch.start_dispatch(session, run_id, actor=admin.actor)
    return ProductionRunEnvelope(production_run=ProductionRunRead.model_validate(run))


@router.post("/{run_id}/dispatch/confirm", response_model=RunAndTasks)
def confirm_dispatch(
    run_id: IdPath, body: TemplateSelection, session: DbSession, admin: AdminPrincipal
) -> RunAndTasks:
    """Create the tasks from the chosen templates and send the run to its partner."""
    run = transitions.get_run(session, run_id)
    created = dispatch.dispatch_run(
        session,
        run,
        actor=admin.actor,
        template_names=body.template_names,
        template_ids=body.template_ids,
        category=body.category,
        confirm=True,
    )
    return _run_and_tasks(session, run, created)


@router.post("/{run_id}/dispatch/cancel", response_model=ProductionRunEnvelope)
def cancel_dispatch(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal
) -> ProductionRunEnvelope:
    """Abandon a paused dispatch; the run stays approved (``dispatch_state`` back to idle)."""
    run = dispatch.cancel_pending_dispatch(session, run_id, actor=admin.actor)
    return ProductionRunEnvelope(production_run=ProductionRunRead.model_validate(run))


@router.post("/{run_id}/send-to-production", response_model=RunAndTasks)
def send_to_production(
    run_id: IdPath,
    session: DbSession,
    admin: AdminPrincipal,
    body: TemplateSelection | None = None,
) -> RunAndTasks:
    """Dispatch in one call (templates from the body, else the run's approval intent)."""
    selection = body or TemplateSelection()
    run, created = dispatch.send_to_production(
        session,
        run_id,
        actor=admin.actor,
        template_names=selection.template_names,
        template_ids=selection.template_ids,
        category=selection.category,
    )
    return _run_and_tasks(session, run, created)


@router.post("/{run_id}/tasks", status_code=status.HTTP_201_CREATED, response_model=CreatedTasks)
def add_redo_tasks(
    run_id: IdPath, body: RedoTasksCreate, session: DbSession, admin: AdminPrincipal
) -> CreatedTasks:
    """Redo: add tasks from templates to a dispatched run; they block completion until done."""
    created = dispatch.add_tasks(
        session,
        run_id,
        actor=admin.actor,
        template_names=body.template_names,
        template_ids=body.template_ids,
    )
    tasks = _created_tasks(session, run_id, created)
    return CreatedTasks(tasks=[TaskRead.model_validate(t) for t in tasks])


@router.get("/{run_id}/tasks", response_model=RunTasks)
def list_run_tasks(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> RunTasks:
    """The run's top-level tasks with subtasks and comments, in order."""
    transitions.get_run(session, run_id)
    tasks = tasks_service.tasks_for_run(session, run_id)
    done, total = tasks_service.run_task_progress(session, [run_id]).get(run_id, (0, 0))
    return RunTasks(
        tasks=[TaskRead.model_validate(t) for t in tasks],
        count=len(tasks),
        progress=RunTaskProgress(completed=done, total=total),
    )
