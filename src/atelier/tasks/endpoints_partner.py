"""Partner task API under /partners/assigned-tasks: only the caller's tasks; a foreign or
unknown id answers 404. (There are deliberately no /partners/tasks/... routes.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import status as http_status

from atelier.platform.deps import DbSession, PartnerPrincipal
from atelier.platform.schemas import Page
from atelier.tasks import service
from atelier.tasks.endpoints_admin import IdPath, IdQuery
from atelier.tasks.models import TaskStatus
from atelier.tasks.schemas import CommentCreate

router = APIRouter(prefix="/partners/assigned-tasks", tags=["partner-tasks"])


def _partner(principal: PartnerPrincipal) -> str:
    assert principal.partner_id is not None  # guaranteed by require_partner
    return principal.partner_id


@router.get("")
def list_tasks(
    session: DbSession,
    partner: PartnerPrincipal,
    page: Annotated[Page, Query()],
    status: TaskStatus | None = None,
    production_run_id: IdQuery = None,
) -> Any:
    rows, count = service.list_partner_tasks(
        session,
        _partner(partner),
        status=status.value if status else None,
        run_id=production_run_id,
        limit=page.limit,
        offset=page.offset,
    )
    return {
        "tasks": service.serialize_tasks(rows),
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.get("/{task_id}")
def get_task(task_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> Any:
    return {
        "task": service.serialize_task(service.visible_task(session, task_id, _partner(partner)))
    }


@router.post("/{task_id}/accept")
def accept_task(task_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> Any:
    task = service.accept_task(session, task_id, partner.actor, partner_id=_partner(partner))
    return {"task": service.serialize_task(task), "message": "Task accepted"}


@router.post("/{task_id}/finish")
def finish_task(task_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> Any:
    task = service.finish_task(session, task_id, partner.actor, partner_id=_partner(partner))
    return {"task": service.serialize_task(task), "message": "Task completed"}


@router.post("/{task_id}/subtasks/{subtask_id}/complete")
def complete_subtask(
    task_id: IdPath, subtask_id: IdPath, session: DbSession, partner: PartnerPrincipal
) -> Any:
    parent, subtask = service.complete_subtask(
        session, task_id, subtask_id, partner.actor, partner_id=_partner(partner)
    )
    return {
        "task": service.serialize_task(parent),
        "subtask": service.serialize_task(subtask),
        "parent_completed": parent.status == TaskStatus.COMPLETED,
    }


@router.get("/{task_id}/comments")
def list_comments(
    task_id: IdPath, session: DbSession, partner: PartnerPrincipal, page: Annotated[Page, Query()]
) -> Any:
    rows, count = service.list_comments(
        session, task_id, partner_id=_partner(partner), limit=page.limit, offset=page.offset
    )
    return {
        "comments": [service.serialize_comment(c) for c in rows],
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/{task_id}/comments", status_code=http_status.HTTP_201_CREATED)
def add_comment(
    task_id: IdPath, body: CommentCreate, session: DbSession, partner: PartnerPrincipal
) -> Any:
    comment = service.add_comment(
        session, task_id, body.text, partner.actor, partner_id=_partner(partner)
    )
    return {"comment": service.serialize_comment(comment)}
