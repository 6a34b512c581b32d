"""Partner workshops: list, detail (users, runs), create (with the first user) and edit forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from atelier.partners import service as partners
from atelier.partners.models import PartnerStatus
from atelier.partners.schemas import PartnerCreate, PartnerUpdate
from atelier.platform.deps import DbSession
from atelier.production import repository as runs
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.forms import Form, flag, text
from atelier.web.shared.render import FormError, redirect, service_errors
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZE = 25
LANGUAGES = ("en", "hi")
_PARTNER_FIELDS = ("name", "handle", "status", "whatsapp_number", "email", "preferred_language")
_USER_FIELDS = ("user_email", "first_name", "last_name", "password")


def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: text(form, name) or "" for name in (*_PARTNER_FIELDS, *_USER_FIELDS, "timezone")
    }
    values["whatsapp_verified"] = flag(form, "whatsapp_verified")
    values["status"] = values["status"] or PartnerStatus.ACTIVE.value
    return values


def _optional(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: values[name] or None for name in names}


def _show_form(
    request: Request,
    session: Session,
    values: dict[str, Any],
    *,
    partner_id: str | None = None,
    error: FormError | None = None,
) -> Response:
    context = {
        "values": values,
        "partner_id": partner_id,
        "error": error,
        "statuses": [s.value for s in PartnerStatus],
        "languages": LANGUAGES,
    }
    return page(
        request,
        session,
        "admin/partner_form.html",
        context,
        section="partners",
        status_code=error.status_code if error else 200,
    )


@router.get("/partners")
def partner_list(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Partners, newest first, filtered by status and a name/handle search."""
    q = (q or "").strip() or None
    status = status if status in {s.value for s in PartnerStatus} else None
    rows, count = partners.list_partners(
        session, status=status, q=q, limit=PAGE_SIZE, offset=offset
    )
    context = {
        "rows": rows,
        "q": q or "",
        "status": status or "",
        "statuses": [s.value for s in PartnerStatus],
        "args": {k: v for k, v in {"q": q, "status": status}.items() if v},
        "page_info": {"count": count, "limit": PAGE_SIZE, "offset": offset},
    }
    return page(request, session, "admin/partners.html", context, section="partners")


@router.get("/partners/new")
def new_partner(request: Request, session: DbSession, admin: WebAdmin) -> Response:
    """An empty partner form (the partner and its first user)."""
    return _show_form(request, session, _values(FormData()))


@router.post("/partners/new")
def create_partner(request: Request, session: DbSession, admin: WebAdmin, form: Form) -> Response:
    """Create the partner and its first user, as ``POST /admin/partners`` does."""
    values = _values(form)
    body = {
        "partner": {
            "name": values["name"],
            "handle": values["handle"],
            "status": values["status"],
            **_optional(values, "whatsapp_number", "email", "preferred_language", "timezone"),
        },
        "admin": {
            "email": values["user_email"],
            "first_name": values["first_name"],
            "last_name": values["last_name"],
            "password": values["password"] or None,
        },
    }
    with service_errors(session) as outcome:
        partner = partners.create_partner(session, PartnerCreate.model_validate(body))
    values["password"] = ""  # never echoed back into the page
    if outcome.error is not None:
        return _show_form(request, session, values, error=outcome.error)
    return redirect(request, f"/app/partners/{partner.id}", notice="Partner created.")


@router.get("/partners/{partner_id}")
def partner_detail(
    request: Request, session: DbSession, admin: WebAdmin, partner_id: str
) -> Response:
    """A partner: contact, language, users and its latest runs."""
    partner = partners.get_partner_with_users(session, partner_id)
    filters = runs.RunFilters(partner_id=partner.id, include_children=True)
    run_rows, run_count = runs.list_runs(session, filters, limit=10, offset=0)
    counts = runs.status_counts(session, filters)
    context = {
        "partner": partner,
        "runs": run_rows,
        "run_count": run_count,
        "status_counts": sorted(counts.items()),
    }
    return page(request, session, "admin/partner.html", context, section="partners")


@router.get("/partners/{partner_id}/edit")
def edit_partner(
    request: Request, session: DbSession, admin: WebAdmin, partner_id: str
) -> Response:
    """The partner's form with its current values (users are managed through the API)."""
    partner = partners.get_partner(session, partner_id)
    values = {
        "name": partner.name,
        "handle": partner.handle,
        "status": partner.status,
        "whatsapp_number": partner.whatsapp_number or "",
        "whatsapp_verified": partner.whatsapp_verified,
        "email": partner.email or "",
        "preferred_language": partner.preferred_language or "",
        "timezone": partner.timezone or "",
    }
    return _show_form(request, session, values, partner_id=partner.id)


@router.post("/partners/{partner_id}/edit")
def update_partner(
    request: Request, session: DbSession, admin: WebAdmin, partner_id: str, form: Form
) -> Response:
    """Save the partner's fields (the handle stays as it is)."""
    partner = partners.get_partner(session, partner_id)
    values = _values(form)
    values["handle"] = partner.handle
    body = {
        "name": values["name"],
        "status": values["status"],
        "whatsapp_verified": values["whatsapp_verified"],
        **_optional(values, "whatsapp_number", "email", "preferred_language", "timezone"),
    }
    with service_errors(session) as outcome:
        partners.update_partner(session, partner_id, PartnerUpdate.model_validate(body))
    if outcome.error is not None:
        return _show_form(request, session, values, partner_id=partner_id, error=outcome.error)
    return redirect(request, f"/app/partners/{partner_id}", notice="Partner saved.")
