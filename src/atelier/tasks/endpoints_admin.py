"""Admin task API: templates and categories, task detail and comments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import AfterValidator

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.schemas import Page, no_nul
from atelier.tasks import service
from atelier.tasks.models import TaskPriority
from atelier.tasks.schemas import (
    CategoryCreate,
    CategoryRead,
    CommentCreate,
    TemplateCreate,
    TemplateRead,
    TemplateUpdate,
)

router = APIRouter(prefix="/admin", tags=["tasks"])


# Shared by the task and dispatch routers: bounded, NUL-free ids and search text (a NUL would
# otherwise reach PostgreSQL and fail there).
IdPath = Annotated[str, Path(min_length=1, max_length=64), AfterValidator(no_nul)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=64), AfterValidator(no_nul)]
SearchText = Annotated[str | None, Query(max_length=200), AfterValidator(no_nul)]


def _template_out(template: Any) -> dict[str, Any]:
    return {"task_template": TemplateRead.model_validate(template).model_dump(mode="json")}


@router.get("/task-templates/categories")
def list_categories(
    session: DbSession,
    admin: AdminPrincipal,
    page: Annotated[Page, Query()],
    name: SearchText = None,
) -> Any:
    rows, count = service.list_categories(session, name=name, limit=page.limit, offset=page.offset)
    return {
        "categories": [CategoryRead.model_validate(c).model_dump(mode="json") for c in rows],
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/task-templates/categories", status_code=status.HTTP_201_CREATED)
def create_category(body: CategoryCreate, session: DbSession, admin: AdminPrincipal) -> Any:
    category = service.create_category(session, body.name, body.description)
    return {"category": CategoryRead.model_validate(category).model_dump(mode="json")}


@router.get("/task-templates")
def list_templates(
    session: DbSession,
    admin: AdminPrincipal,
    page: Annotated[Page, Query()],
    name: SearchText = None,
    priority: TaskPriority | None = None,
    category_name: SearchText = None,
    category_id: IdQuery = None,
) -> Any:
    rows, count = service.list_templates(
        session,
        name=name,
        priority=priority.value if priority else None,
        category_name=category_name,
        category_id=category_id,
        limit=page.limit,
        offset=page.offset,
    )
    return {
        "task_templates": [TemplateRead.model_validate(t).model_dump(mode="json") for t in rows],
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/task-templates", status_code=status.HTTP_201_CREATED)
def create_template(body: TemplateCreate, session: DbSession, admin: AdminPrincipal) -> Any:
    return _template_out(service.create_template(session, body))


@router.get("/task-templates/{template_id}")
def get_template(template_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Any:
    return _template_out(service.get_template(session, template_id))


@router.put("/task-templates/{template_id}")
def update_template(
    template_id: IdPath, body: TemplateUpdate, session: DbSession, admin: AdminPrincipal
) -> Any:
    return _template_out(service.update_template(session, template_id, body))


@router.delete("/task-templates/{template_id}")
def delete_template(template_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Any:
    """Delete; tasks created from the template keep existing (their template_id is cleared)."""
    service.delete_template(session, template_id)
    return {"id": template_id, "object": "task_template", "deleted": True}


@router.get("/tasks/{task_id}")
def get_task(task_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Any:
    return {"task": service.serialize_task(service.visible_task(session, task_id, None))}


@router.get("/tasks/{task_id}/comments")
def list_comments(
    task_id: IdPath, session: DbSession, admin: AdminPrincipal, page: Annotated[Page, Query()]
) -> Any:
    rows, count = service.list_comments(
        session, task_id, partner_id=None, limit=page.limit, offset=page.offset
    )
    return {
        "comments": [service.serialize_comment(c) for c in rows],
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/tasks/{task_id}/comments", status_code=status.HTTP_201_CREATED)
def add_comment(
    task_id: IdPath, body: CommentCreate, session: DbSession, admin: AdminPrincipal
) -> Any:
    comment = service.add_comment(session, task_id, body.text, admin.actor, partner_id=None)
    return {"comment": service.serialize_comment(comment)}
