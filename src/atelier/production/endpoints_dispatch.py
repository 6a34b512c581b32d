"""Admin dispatch API: pause/confirm, send-to-production, redo tasks, a run's tasks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.production import dispatch, transitions
from atelier.production.models import ProductionRun
from atelier.production.schemas import ProductionRunRead
from atelier.tasks import service as tasks_service
from atelier.tasks.endpoints_admin import IdPath
from atelier.tasks.schemas import RedoTasksCreate, TemplateSelection

router = APIRouter(prefix="/admin/production-runs", tags=["dispatch"])


def _run_out(run: ProductionRun) -> dict[str, Any]:
    return ProductionRunRead.model_validate(run).model_dump(mode="json")


def _run_and_tasks(session: DbSession, run: ProductionRun, task_ids: list[str]) -> dict[str, Any]:
    session.flush()
    session.refresh(run)
    wanted = set(task_ids)
    tasks = [t for t in tasks_service.tasks_for_run(session, run.id) if t.id in wanted]
    return {"production_run": _run_out(run), "tasks": tasks_service.serialize_tasks(tasks)}


@router.post("/{run_id}/dispatch", status_code=status.HTTP_202_ACCEPTED)
def start_dispatch(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Any:
    """Pause the approved run in ``awaiting_templates`` until templates are confirmed."""
    run = dispatch.start_dispatch(session, run_id, actor=admin.actor)
    return {"production_run": _run_out(run)}


@router.post("/{run_id}/dispatch/confirm")
def confirm_dispatch(
    run_id: IdPath, body: TemplateSelection, session: DbSession, admin: AdminPrincipal
) -> Any:
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
    return _run_and_tasks(session, run, [t.id for t in created])


@router.post("/{run_id}/dispatch/cancel")
def cancel_dispatch(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Any:
    """Abandon a paused dispatch; the run stays approved (``dispatch_state`` back to idle)."""
    run = dispatch.cancel_pending_dispatch(session, run_id, actor=admin.actor)
    return {"production_run": _run_out(run)}


@router.post("/{run_id}/send-to-production")
def send_to_production(
    run_id: IdPath,
    session: DbSession,
    admin: AdminPrincipal,
    body: TemplateSelection | None = None,
) -> Any:
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
    return _run_and_tasks(session, run, [t.id for t in created])


@router.post("/{run_id}/tasks", status_code=status.HTTP_201_CREATED)
def add_redo_tasks(
    run_id: IdPath, body: RedoTasksCreate, session: DbSession, admin: AdminPrincipal
) -> Any:
    """Redo: add tasks from templates to a dispatched run; they block completion until done."""
    created = dispatch.add_tasks(
        session,
        run_id,
        actor=admin.actor,
        template_names=body.template_names,
        template_ids=body.template_ids,
    )
    session.flush()
    wanted = {t.id for t in created}
    tasks = [t for t in tasks_service.tasks_for_run(session, run_id) if t.id in wanted]
    return {"tasks": tasks_service.serialize_tasks(tasks)}


@router.get("/{run_id}/tasks")
def list_run_tasks(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Any:
    """The run's top-level tasks with subtasks and comments, in order."""
    transitions.get_run(session, run_id)
    tasks = tasks_service.tasks_for_run(session, run_id)
    done, total = tasks_service.run_task_progress(session, [run_id]).get(run_id, (0, 0))
    return {
        "tasks": tasks_service.serialize_tasks(tasks),
        "count": len(tasks),
        "progress": {"completed": done, "total": total},
    }
