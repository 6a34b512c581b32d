"""Partner task API under /partners/assigned-tasks (reads): only the caller's tasks; a foreign or
unknown id answers 404. (There are deliberately no /partners/tasks/... routes.) The actions,
which touch the task's run too, are in ``production.endpoints_task_work``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from atelier.platform.deps import DbSession, PartnerPrincipal
from atelier.platform.http import IdPath, IdQuery
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import Page
from atelier.tasks import service
from atelier.tasks.models import TaskStatus
from atelier.tasks.schemas import CommentList, TaskEnvelope, TaskList, TaskRead

router = APIRouter(prefix="/partners/assigned-tasks", tags=["partner-tasks"])


def _partner(principal: PartnerPrincipal) -> str:
    assert principal.partner_id is not None  # guaranteed by require_partner
    return principal.partner_id


@router.get("", response_model=TaskList)
def list_tasks(
    session: DbSession,
    partner: PartnerPrincipal,
    page: Annotated[Page, Query()],
    status: TaskStatus | None = None,
    production_run_id: IdQuery = None,
) -> TaskList:
    rows, count = service.list_partner_tasks(
        session,
        _partner(partner),
        status=status.value if status else None,
        run_id=production_run_id,
        limit=page.limit,
        offset=page.offset,
    )
    return TaskList.of(rows, count, limit=page.limit, offset=page.offset)


@router.get("/{task_id}", response_model=TaskEnvelope)
def get_task(task_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> TaskEnvelope:
    task = service.visible_task(session, task_id, _partner(partner))
    return TaskEnvelope(task=TaskRead.model_validate(task))


@router.get("/{task_id}/comments", response_model=CommentList)
def list_comments(
    task_id: IdPath, session: DbSession, partner: PartnerPrincipal, page: Annotated[Page, Query()]
) -> CommentList:
    rows, count = service.list_comments(
        session, task_id, partner_id=_partner(partner), limit=page.limit, offset=page.offset
    )
    return CommentList.of(rows, count, limit=page.limit, offset=page.offset)
