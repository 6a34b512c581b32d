"""``GET /partners/wa-auth?wa_token=...``: WhatsApp deep-link sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from atelier.auth.deeplinks import redeem_wa_token
from atelier.platform.deps import AppSettings, WriteDbSession
from atelier.platform.errors import DomainError, ErrorKind
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import OutputSchema
from atelier.platform.web_session import start_session

# The link token travels in the query string; ``create_app`` keeps it out of the access log
# (``platform.logging.install_access_log_redaction``).
router = APIRouter(tags=["auth"])


class WaAuthResponse(OutputSchema):
    token: str
    token_type: str = "bearer"
    partner_id: str
    production_run_id: str
    redirect_to: str


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


@router.get(
    "/partners/wa-auth",
    response_model=WaAuthResponse,
    responses={303: {"description": "signed in; redirect to the run in the partner portal"}},
)
def wa_auth(
    request: Request,
    session: WriteDbSession,
    settings: AppSettings,
    wa_token: Annotated[str, Query(min_length=1, max_length=4096)],
) -> Response:
    """Redeem a WhatsApp deep link: a partner session for the run's partner.

    ``Accept: application/json`` answers the session token as JSON; browsers get a 303 redirect
    to the run in the portal with the session cookie set.
    """
    wants_json = _wants_json(request)
    try:
        result = redeem_wa_token(session, settings, wa_token)
    except DomainError as exc:
        if wants_json or "text/html" not in request.headers.get("accept", "").lower():
            raise
        # A person tapped an old or broken link: the portal's sign-in page says so, never JSON.
        problem = "unavailable" if exc.kind is ErrorKind.NOT_FOUND else "expired"
        page = RedirectResponse(f"/portal/sign-in?link={problem}", status_code=303)
        page.headers["Referrer-Policy"] = "no-referrer"
        page.headers["Cache-Control"] = "no-store"
        return page
    if wants_json:
        body = WaAuthResponse(
            token=result.token,
            partner_id=result.partner_id,
            production_run_id=result.production_run_id,
            redirect_to=result.redirect_to,
        )
        return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})
    response = RedirectResponse(result.redirect_to, status_code=303)
    # The browser gets a web session (cookie), not the API token: the portal reads the cookie,
    # the JSON API only takes bearer tokens.
    start_session(
        response,
        settings,
        role="partner",
        subject=result.partner_user_id,
        partner_id=result.partner_id,
        extra={"via": "whatsapp"},
        version=result.token_version,
    )
    # The link token sits in the URL; keep it out of any Referer sent from the portal page.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
