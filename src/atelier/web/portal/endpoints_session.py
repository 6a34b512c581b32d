"""Portal sign-in and sign-out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request, Response

from atelier.auth import service as auth
from atelier.partners import service as partners
from atelier.partners.schemas import PartnerUpdate
from atelier.platform.deps import AppSettings, DbSession
from atelier.platform.errors import DomainError
from atelier.web.portal.common import LANGUAGE_COOKIE, N_, page, portal_router
from atelier.web.portal.i18n import LANGUAGES
from atelier.web.shared.csrf import rotate_csrf
from atelier.web.shared.render import redirect
from atelier.web.shared.session import (
    WebPartner,
    end_session,
    safe_next,
    session_claims,
    start_session,
)

router = portal_router()

# Why the sign-in page opened, shown above the form (a deep link that no longer works).
LINK_PROBLEMS = {
    "expired": N_("This link has expired or is not valid. Sign in with your email and password."),
    "unavailable": N_(
        "This link no longer opens a run for your workshop. Sign in to see your runs."
    ),
}
BAD_SIGN_IN = N_("Email or password is incorrect, or the workshop's account is not active.")


def _sign_in_form(
    request: Request,
    session: DbSession,
    *,
    next_: str,
    email: str = "",
    error: str | None = None,
    link: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "next": next_,
        "email": email,
        "error": error,
        "link_problem": LINK_PROBLEMS.get(link or ""),
    }
    return page(request, session, "portal/sign_in.html", context, status_code=status_code)


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    next_: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    link: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The sign-in form; a partner who is already signed in goes straight to ``next``."""
    target = safe_next(next_, "portal")
    claims = session_claims(request, settings)
    if claims is not None and claims.role == "partner" and link is None:
        return redirect(request, target)
    return _sign_in_form(request, session, next_=target, link=link)


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/portal",
) -> Response:
    """Check the password; on success set the session cookie and go back to ``next``."""
    target = safe_next(next_, "portal")
    try:
        user, partner = auth.authenticate_partner(session, email.strip(), password)
    except DomainError:
        session.rollback()
        return _sign_in_form(
            request, session, next_=target, email=email, error=BAD_SIGN_IN, status_code=401
        )
    rotate_csrf(request)
    response = redirect(request, target)
    start_session(
        response,
        settings,
        role="partner",
        subject=user.id,
        partner_id=partner.id,
        version=user.token_version,
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, settings: AppSettings) -> Response:
    """Delete the session cookie and show the sign-in form."""
    rotate_csrf(request)
    response = redirect(request, "/portal/sign-in")
    end_session(response, settings)
    return response


@router.post("/language")
def switch_language(
    request: Request,
    session: DbSession,
    partner: WebPartner,
    lang: Annotated[str, Form(max_length=8)],
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/portal",
) -> Response:
    """Store the workshop's language (it also picks the language of its WhatsApp messages)."""
    target = safe_next(next_, "portal")
    if lang not in LANGUAGES:
        return redirect(request, target)
    assert partner.partner_id is not None
    partners.update_partner(session, partner.partner_id, PartnerUpdate(preferred_language=lang))
    response = redirect(request, target)
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
