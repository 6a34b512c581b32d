"""What every portal page shares: the router, the page language, rendering."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from atelier.media.storage import MEDIA_ROUTE
from atelier.partners import service as partners
from atelier.platform.deps import Principal
from atelier.platform.routers import APIRouter
from atelier.platform.settings import Settings
from atelier.web.portal.i18n import LANGUAGES, Translator, from_accept_language, supported
from atelier.web.shared.csrf import csrf_protect
from atelier.web.shared.render import render

LANGUAGE_COOKIE = "atelier_lang"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


def thumb_url(url: str | None, size: int = 192) -> str | None:
    """The thumbnail of a stored image (``/media/thumbs/<size>/...``); other URLs unchanged."""
    if not url or MEDIA_ROUTE + "/" not in url:
        return url
    return url.replace(MEDIA_ROUTE + "/", f"/media/thumbs/{size}/", 1)


def portal_router(*, csrf: bool = True) -> APIRouter:
    """A router for ``/portal`` pages: CSRF checked on every unsafe method, hidden from OpenAPI."""
    dependencies = [Depends(csrf_protect)] if csrf else []
    return APIRouter(prefix="/portal", include_in_schema=False, dependencies=dependencies)


def page_language(request: Request, session: Session, principal: Principal | None) -> str:
    """The partner's saved language, else the browser's, else English."""
    if principal is not None and principal.partner_id is not None:
        saved = supported(partners.get_partner(session, principal.partner_id).preferred_language)
        if saved:
            return saved
    chosen = supported(request.cookies.get(LANGUAGE_COOKIE))
    return chosen or from_accept_language(request.headers.get("accept-language")) or "en"


def translator(request: Request, session: Session, principal: Principal | None) -> Translator:
    settings: Settings = request.app.state.settings
    cached = getattr(request.state, "translator", None)
    if isinstance(cached, Translator):
        return cached
    result = Translator(page_language(request, session, principal), settings.zone)
    request.state.translator = result
    return result


def page(
    request: Request,
    session: Session,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a portal page in the partner's language."""
    words = translator(request, session, principal)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    values = {
        **words.helpers(),
        "languages": [(code, name) for code, (_, name) in LANGUAGES.items()],
        "here": here,
        "thumb_url": thumb_url,
        **(context or {}),
    }
    return render(request, template, values, status_code=status_code)
