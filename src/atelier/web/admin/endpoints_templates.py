"""Task templates: list (by category), detail, create and edit forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from atelier.platform.deps import DbSession
from atelier.tasks import service as tasks
from atelier.tasks.models import TaskPriority
from atelier.tasks.schemas import TemplateCreate, TemplateUpdate
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.forms import Form, line_list, text
from atelier.web.shared.render import FormError, redirect, service_errors
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZE = 50


def _values(form: FormData) -> dict[str, Any]:
    return {
        name: text(form, name) or ""
        for name in (
            "name",
            "description",
            "category",
            "priority",
            "estimated_duration",
            "cost",
            "message_template",
            "subtasks",
        )
    }


def _body(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON API's body (empty optional fields are cleared)."""
    return {
        "name": values["name"],
        "description": values["description"] or None,
        "category": values["category"] or None,
        "priority": values["priority"] or TaskPriority.MEDIUM.value,
        "estimated_duration": values["estimated_duration"] or None,
        "cost": values["cost"] or None,
        "message_template": values["message_template"] or None,
        "subtasks": [_subtask(line) for line in line_list(values["subtasks"])],
    }


def _subtask(line: str) -> dict[str, Any]:
    """``title | description`` (the description is optional)."""
    title, _, description = line.partition("|")
    return {"title": title.strip(), "description": description.strip() or None}


def _subtask_line(definition: dict[str, Any]) -> str:
    title = str(definition.get("title", ""))
    description = definition.get("description")
    return f"{title} | {description}" if description else title


def _show_form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    *,
    template_id: str | None = None,
    error: FormError | None = None,
) -> Response:
    categories, _ = tasks.list_categories(session, limit=200)
    context = {
        "values": values,
        "template_id": template_id,
        "error": error,
        "priorities": [p.value for p in TaskPriority],
        "categories": sorted(c.name for c in categories),
    }
    return page(
        request,
        session,
        "admin/template_form.html",
        context,
        section="templates",
        status_code=error.status_code if error else 200,
    )


@router.get("/task-templates")
def template_list(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Templates filtered by a name fragment and a category."""
    q = (q or "").strip() or None
    category = (category or "").strip() or None
    rows, count = tasks.list_templates(
        session, name=q, category_name=category, limit=PAGE_SIZE, offset=offset
    )
    categories, _ = tasks.list_categories(session, limit=200)
    context = {
        "rows": rows,
        "q": q or "",
        "category": category or "",
        "categories": sorted(c.name for c in categories),
        "args": {k: v for k, v in {"q": q, "category": category}.items() if v},
        "page_info": {"count": count, "limit": PAGE_SIZE, "offset": offset},
    }
    return page(request, session, "admin/templates.html", context, section="templates")


@router.get("/task-templates/new")
def new_template(request: Request, session: DbSession, admin: WebAdmin) -> Response:
    """An empty template form."""
    return _show_form(request, session, _values(FormData()))


@router.post("/task-templates/new")
def create_template(request: Request, session: DbSession, admin: WebAdmin, form: Form) -> Response:
    """Create the template as ``POST /admin/task-templates`` does (a new category is created)."""
    values = _values(form)
    with service_errors(session) as outcome:
        template = tasks.create_template(session, TemplateCreate.model_validate(_body(values)))
    if outcome.error is not None:
        return _show_form(request, session, values, error=outcome.error)
    return redirect(request, f"/app/task-templates/{template.id}", notice="Template created.")


@router.get("/task-templates/{template_id}")
def template_detail(
    request: Request, session: DbSession, admin: WebAdmin, template_id: str
) -> Response:
    """A template with its category and subtasks."""
    template = tasks.get_template(session, template_id)
    return page(
        request, session, "admin/template.html", {"template": template}, section="templates"
    )


@router.get("/task-templates/{template_id}/edit")
def edit_template(
    request: Request, session: DbSession, admin: WebAdmin, template_id: str
) -> Response:
    """The template's form with its current values."""
    t = tasks.get_template(session, template_id)
    values = {
        "name": t.name,
        "description": t.description or "",
        "category": t.category.name if t.category else "",
        "priority": t.priority,
        "estimated_duration": "" if t.estimated_duration is None else str(t.estimated_duration),
        "cost": "" if t.cost is None else str(t.cost),
        "message_template": t.message_template or "",
        "subtasks": "\n".join(_subtask_line(s) for s in t.subtasks or []),
    }
    return _show_form(request, session, values, template_id=t.id)


@router.post("/task-templates/{template_id}/edit")
def update_template(
    request: Request, session: DbSession, admin: WebAdmin, template_id: str, form: Form
) -> Response:
    """Save the form (tasks created earlier keep what they were created with)."""
    tasks.get_template(session, template_id)
    values = _values(form)
    with service_errors(session) as outcome:
        tasks.update_template(session, template_id, TemplateUpdate.model_validate(_body(values)))
    if outcome.error is not None:
        return _show_form(request, session, values, template_id=template_id, error=outcome.error)
    return redirect(request, f"/app/task-templates/{template_id}", notice="Template saved.")
