"""Admin sign-in and sign-out, and the overview page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request, Response

from atelier.auth import service as auth
from atelier.platform.deps import AppSettings, DbSession
from atelier.platform.errors import DomainError
from atelier.production import repository as runs
from atelier.production.lifecycle import RunStatus
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.csrf import rotate_csrf
from atelier.web.shared.render import redirect
from atelier.web.shared.session import (
    WebAdmin,
    end_session,
    safe_next,
    session_claims,
    start_session,
)

router = admin_router()

Email = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=1024)]
Next = Annotated[str, Form(max_length=2000)]


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    """The sign-in form; an admin who is already signed in goes straight to ``next``."""
    target = safe_next(next_, "admin")
    claims = session_claims(request, settings)
    if claims is not None and claims.role == "admin":
        return redirect(request, target)
    return page(
        request, session, "admin/sign_in.html", {"next": target, "email": "", "error": None}
    )


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Email,
    password: Password,
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/app",
) -> Response:
    """Check the password; on success set the session cookie and go back to ``next``."""
    target = safe_next(next_, "admin")
    try:
        user = auth.authenticate_admin(session, email.strip(), password)
    except DomainError as exc:
        session.rollback()
        context = {"next": target, "email": email, "error": exc.detail}
        return page(request, session, "admin/sign_in.html", context, status_code=401)
    rotate_csrf(request)
    response = redirect(request, target)
    start_session(response, settings, role="admin", subject=user.id, version=user.token_version)
    return response


@router.post("/sign-out")
def sign_out(request: Request, settings: AppSettings) -> Response:
    """Delete the session cookie and show the sign-in form."""
    rotate_csrf(request)
    response = redirect(request, "/app/sign-in", notice="You are signed out.")
    end_session(response, settings)
    return response


@router.get("")
def overview(request: Request, session: DbSession, admin: WebAdmin) -> Response:
    """Counts of top-level runs per status, each linking to the filtered runs table."""
    counts = runs.status_counts(session, runs.RunFilters())
    status_counts = [(status.value, counts.get(status.value, 0)) for status in RunStatus]
    return page(
        request, session, "admin/home.html", {"status_counts": status_counts}, section="overview"
    )
