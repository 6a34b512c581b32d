"""Admin task API: templates and categories, task detail and comments."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status
from pydantic import AfterValidator

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import IdPath, IdQuery
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import Deleted, Page, no_nul
from atelier.tasks import service
from atelier.tasks.models import TaskPriority, TaskTemplate
from atelier.tasks.schemas import (
    CategoryCreate,
    CategoryEnvelope,
    CategoryList,
    CategoryRead,
    CommentCreate,
    CommentEnvelope,
    CommentList,
    TaskCommentRead,
    TaskEnvelope,
    TaskRead,
    TemplateCreate,
    TemplateEnvelope,
    TemplateList,
    TemplateRead,
    TemplateUpdate,
)

router = APIRouter(prefix="/admin", tags=["tasks"])


# Bounded, NUL-free search text (a NUL would otherwise reach PostgreSQL and fail there).
SearchText = Annotated[str | None, Query(max_length=200), AfterValidator(no_nul)]


def _template_out(template: TaskTemplate) -> TemplateEnvelope:
    return TemplateEnvelope(task_template=TemplateRead.model_validate(template))


@router.get("/task-templates/categories", response_model=CategoryList)
def list_categories(
    session: DbSession,
    admin: AdminPrincipal,
    page: Annotated[Page, Query()],
    name: SearchText = None,
) -> CategoryList:
    rows, count = service.list_categories(session, name=name, limit=page.limit, offset=page.offset)
    return CategoryList.of(rows, count, limit=page.limit, offset=page.offset)


@router.post(
    "/task-templates/categories",
    status_code=status.HTTP_201_CREATED,
    response_model=CategoryEnvelope,
)
def create_category(
    body: CategoryCreate, session: DbSession, admin: AdminPrincipal
) -> CategoryEnvelope:
    category = service.create_category(session, body.name, body.description)
    return CategoryEnvelope(category=CategoryRead.model_validate(category))


@router.get("/task-templates", response_model=TemplateList)
def list_templates(
    session: DbSession,
    admin: AdminPrincipal,
    page: Annotated[Page, Query()],
    name: SearchText = None,
    priority: TaskPriority | None = None,
    category_name: SearchText = None,
    category_id: IdQuery = None,
) -> TemplateList:
    rows, count = service.list_templates(
        session,
        name=name,
        priority=priority.value if priority else None,
        category_name=category_name,
        category_id=category_id,
        limit=page.limit,
        offset=page.offset,
    )
    return TemplateList.of(rows, count, limit=page.limit, offset=page.offset)


@router.post(
    "/task-templates", status_code=status.HTTP_201_CREATED, response_model=TemplateEnvelope
)
def create_template(
    body: TemplateCreate, session: DbSession, admin: AdminPrincipal
) -> TemplateEnvelope:
    return _template_out(service.create_template(session, body))


@router.get("/task-templates/{template_id}", response_model=TemplateEnvelope)
def get_template(
    template_id: IdPath, session: DbSession, admin: AdminPrincipal
) -> TemplateEnvelope:
    return _template_out(service.get_template(session, template_id))


@router.put("/task-templates/{template_id}", response_model=TemplateEnvelope)
def update_template(
    template_id: IdPath, body: TemplateUpdate, session: DbSession, admin: AdminPrincipal
) -> TemplateEnvelope:
    return _template_out(service.update_template(session, template_id, body))


@router.delete("/task-templates/{template_id}", response_model=Deleted)
def delete_template(template_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Deleted:
    """Delete; tasks created from the template keep existing (their template_id is cleared)."""
    service.delete_template(session, template_id)
    return Deleted(id=template_id, object="task_template")


@router.get("/tasks/{task_id}", response_model=TaskEnvelope)
def get_task(task_id: IdPath, session: DbSession, admin: AdminPrincipal) -> TaskEnvelope:
    return TaskEnvelope(task=TaskRead.model_validate(service.visible_task(session, task_id, None)))


@router.get("/tasks/{task_id}/comments", response_model=CommentList)
def list_comments(
    task_id: IdPath, session: DbSession, admin: AdminPrincipal, page: Annotated[Page, Query()]
) -> CommentList:
    rows, count = service.list_comments(
        session, task_id, partner_id=None, limit=page.limit, offset=page.offset
    )
    return CommentList.of(rows, count, limit=page.limit, offset=page.offset)


@router.post(
    "/tasks/{task_id}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentEnvelope
)
def add_comment(
    task_id: IdPath, body: CommentCreate, session: DbSession, admin: AdminPrincipal
) -> CommentEnvelope:
    comment = service.add_comment(session, task_id, body.text, admin.actor, partner_id=None)
    return CommentEnvelope(comment=TaskCommentRead.model_validate(comment))
