"""Designs: list, detail (BOM, linked partners, runs), create and edit forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from atelier.catalog import service as catalog
from atelier.catalog.models import DesignStatus
from atelier.catalog.schemas import DesignCreate, DesignUpdate
from atelier.platform.deps import DbSession
from atelier.production import repository as runs
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.forms import Form, comma_list, key_value_text, key_values, text
from atelier.web.shared.render import FormError, redirect, service_errors
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZE = 25
Search = Annotated[str | None, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


# Structured fields the form edits as text; ``None`` marks one the form cannot edit (it holds
# nested values set through the API), which is then left out of the update.
_STRUCTURED = ("specifications", "colors", "sizes")


def _form_values(form: FormData) -> dict[str, Any]:
    """What the form holds, as the admin typed it (shown again after a refusal)."""
    values: dict[str, Any] = {
        "name": text(form, "name") or "",
        "description": text(form, "description") or "",
        "status": text(form, "status") or DesignStatus.CONCEPTUAL.value,
        "thumbnail_url": text(form, "thumbnail_url") or "",
    }
    for name in _STRUCTURED:
        values[name] = (text(form, name) or "") if name in form or not form else None
    return values


def _body(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON API's body for the same design."""
    body: dict[str, Any] = {
        "name": values["name"],
        "description": values["description"] or None,
        "status": values["status"],
        "thumbnail_url": values["thumbnail_url"] or None,
    }
    if values["specifications"] is not None:
        body["specifications"] = key_values(values["specifications"])
    for name in ("colors", "sizes"):
        if values[name] is not None:
            body[name] = comma_list(values[name])
    return body


def _editable_list(items: list[Any] | None) -> str | None:
    items = items or []
    if all(isinstance(i, str) for i in items):
        return ", ".join(items)
    return None


def _editable_specs(specs: dict[str, Any] | None) -> str | None:
    specs = specs or {}
    if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in specs.values()):
        return key_value_text(specs)
    return None


def _show_form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    *,
    design_id: str | None = None,
    error: FormError | None = None,
) -> Response:
    context = {
        "values": values,
        "design_id": design_id,
        "error": error,
        "statuses": [s.value for s in DesignStatus],
    }
    status_code = error.status_code if error else 200
    return page(
        request,
        session,
        "admin/design_form.html",
        context,
        section="designs",
        status_code=status_code,
    )


@router.get("/designs")
def designs(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    q: Search = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    offset: Offset = 0,
) -> Response:
    """Designs by name, filtered by status and a name search."""
    q = (q or "").strip() or None
    status = status if status in {s.value for s in DesignStatus} else None
    rows, count = catalog.list_designs(
        session, status=status, q=q, sort="name", limit=PAGE_SIZE, offset=offset
    )
    args = {k: v for k, v in {"q": q, "status": status}.items() if v}
    context = {
        "rows": rows,
        "args": args,
        "q": q or "",
        "status": status or "",
        "statuses": [s.value for s in DesignStatus],
        "page_info": {"count": count, "limit": PAGE_SIZE, "offset": offset},
    }
    return page(request, session, "admin/designs.html", context, section="designs")


@router.get("/designs/new")
def new_design(request: Request, session: DbSession, admin: WebAdmin) -> Response:
    """An empty design form."""
    return _show_form(request, session, _form_values(FormData()))


@router.post("/designs/new")
def create_design(request: Request, session: DbSession, admin: WebAdmin, form: Form) -> Response:
    """Create the design (the API's validation); a refusal shows the form again, filled in."""
    values = _form_values(form)
    with service_errors(session) as outcome:
        design = catalog.create_design(session, DesignCreate.model_validate(_body(values)))
    if outcome.error is not None:
        return _show_form(request, session, values, error=outcome.error)
    return redirect(request, f"/app/designs/{design.id}", notice="Design created.")


@router.get("/designs/{design_id}")
def design_detail(
    request: Request, session: DbSession, admin: WebAdmin, design_id: str
) -> Response:
    """A design: fields, bill of materials, linked partners and its latest runs."""
    design = catalog.get_design(session, design_id)
    detail = catalog.design_detail(session, design)
    filters = runs.RunFilters(design_id=design.id, include_children=True)
    run_rows, run_count = runs.list_runs(session, filters, limit=10, offset=0)
    context = {"design": detail, "runs": run_rows, "run_count": run_count}
    return page(request, session, "admin/design.html", context, section="designs")


@router.get("/designs/{design_id}/edit")
def edit_design(request: Request, session: DbSession, admin: WebAdmin, design_id: str) -> Response:
    """The design's form, filled with its current values."""
    design = catalog.get_design(session, design_id)
    values = {
        "name": design.name,
        "description": design.description or "",
        "status": design.status,
        "thumbnail_url": design.thumbnail_url or "",
        "specifications": _editable_specs(design.specifications),
        "colors": _editable_list(design.colors),
        "sizes": _editable_list(design.sizes),
    }
    return _show_form(request, session, values, design_id=design.id)


@router.post("/designs/{design_id}/edit")
def update_design(
    request: Request, session: DbSession, admin: WebAdmin, design_id: str, form: Form
) -> Response:
    """Save the form's fields (the API's partial update with every field of the form)."""
    catalog.get_design(session, design_id)
    values = _form_values(form)
    with service_errors(session) as outcome:
        catalog.update_design(session, design_id, DesignUpdate.model_validate(_body(values)))
    if outcome.error is not None:
        return _show_form(request, session, values, design_id=design_id, error=outcome.error)
    return redirect(request, f"/app/designs/{design_id}", notice="Design saved.")
