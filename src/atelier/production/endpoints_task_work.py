"""Partner task actions under /partners/assigned-tasks: accept, finish, complete a subtask,
comment. They live with production because each one touches the task's run too (its lock,
accepting it, its activity); the reads are in ``tasks.endpoints_partner``."""

from __future__ import annotations

from fastapi import status as http_status

from atelier.platform.deps import DbSession, PartnerPrincipal
from atelier.platform.http import IdPath
from atelier.platform.routers import APIRouter
from atelier.production import task_work
from atelier.tasks.models import TaskStatus
from atelier.tasks.schemas import (
    CommentCreate,
    CommentEnvelope,
    SubtaskCompleted,
    TaskActionResult,
    TaskCommentRead,
    TaskRead,
)

router = APIRouter(prefix="/partners/assigned-tasks", tags=["partner-tasks"])


def _partner(principal: PartnerPrincipal) -> str:
    assert principal.partner_id is not None  # guaranteed by require_partner
    return principal.partner_id


@router.post("/{task_id}/accept", response_model=TaskActionResult)
def accept_task(task_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> TaskActionResult:
    task = task_work.accept_task(session, task_id, partner.actor, partner_id=_partner(partner))
    return TaskActionResult(task=TaskRead.model_validate(task), message="Task accepted")


@router.post("/{task_id}/finish", response_model=TaskActionResult)
def finish_task(task_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> TaskActionResult:
    task = task_work.finish_task(session, task_id, partner.actor, partner_id=_partner(partner))
    return TaskActionResult(task=TaskRead.model_validate(task), message="Task completed")


@router.post("/{task_id}/subtasks/{subtask_id}/complete", response_model=SubtaskCompleted)
def complete_subtask(
    task_id: IdPath, subtask_id: IdPath, session: DbSession, partner: PartnerPrincipal
) -> SubtaskCompleted:
    parent, subtask = task_work.complete_subtask(
        session, task_id, subtask_id, partner.actor, partner_id=_partner(partner)
    )
    return SubtaskCompleted(
        task=TaskRead.model_validate(parent),
        subtask=TaskRead.model_validate(subtask),
        parent_completed=parent.status == TaskStatus.COMPLETED,
    )


@router.post(
    "/{task_id}/comments", status_code=http_status.HTTP_201_CREATED, response_model=CommentEnvelope
)
def add_comment(
    task_id: IdPath, body: CommentCreate, session: DbSession, partner: PartnerPrincipal
) -> CommentEnvelope:
    comment = task_work.add_comment(
        session, task_id, body.text, partner.actor, partner_id=_partner(partner)
    )
    return CommentEnvelope(comment=TaskCommentRead.model_validate(comment))
