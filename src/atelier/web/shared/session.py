"""The web session: a signed, expiring token in an HttpOnly, SameSite=Lax cookie.

The cookie holds a token of type ``web`` (signed like the API's tokens, checked against the
injected clock), so it is never accepted as a bearer token and the JSON API never reads the
cookie. Signing out deletes the cookie. Pages depend on :data:`WebAdmin` or :data:`WebPartner`;
a missing or expired session redirects to the sign-in page (and back afterwards), a session of
the other role gets a 403 page.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Request

from atelier.platform.actors import Channel
from atelier.platform.deps import (
    SESSION_COOKIE,
    AppSettings,
    DbSession,
    Principal,
    cached_admin,
    cached_partner,
)
from atelier.platform.errors import DomainError, Unauthorized
from atelier.platform.security import TokenClaims, decode_token
from atelier.platform.settings import Settings
from atelier.platform.web_session import (
    WEB_TOKEN_TYPE,
    cookie_secure,
    end_session,
    start_session,
)

__all__ = ["WEB_TOKEN_TYPE", "cookie_secure", "end_session", "start_session"]

ADMIN_SIGN_IN = "/app/sign-in"
PORTAL_SIGN_IN = "/portal/sign-in"

Area = Literal["admin", "portal"]


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to ``sign_in_url``."""

    def __init__(self, sign_in_url: str) -> None:
        super().__init__(sign_in_url)
        self.sign_in_url = sign_in_url


class WrongArea(Exception):
    """A valid session of the other role (a partner on ``/app``): a 403 page."""

    def __init__(self, area: Area, detail: str) -> None:
        super().__init__(detail)
        self.area = area
        self.detail = detail


def session_claims(request: Request, settings: Settings) -> TokenClaims | None:
    """The verified claims of the request's session cookie, or ``None``."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return decode_token(
            settings.secret_key.get_secret_value(), token, token_type=WEB_TOKEN_TYPE
        )
    except Unauthorized:
        return None


def safe_next(value: str | None, area: Area) -> str:
    """``value`` when it is a path inside ``area`` on this site, else the area's home."""
    home = "/app" if area == "admin" else "/portal"
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return home
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return home
    if parts.path != home and not parts.path.startswith(home + "/"):
        return home
    if parts.path.startswith(f"{home}/sign-in") or parts.path.startswith(f"{home}/sign-out"):
        return home
    return value


def sign_in_url(request: Request, area: Area) -> str:
    """The area's sign-in page with ``next`` pointing back at this page (GET only)."""
    base = ADMIN_SIGN_IN if area == "admin" else PORTAL_SIGN_IN
    if request.method != "GET":
        # After a form post the page to come back to is the one that holds the form.
        referer = request.headers.get("referer", "")
        target = urlsplit(referer)
        here = target.path + (f"?{target.query}" if target.query else "")
    else:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    here = safe_next(here, area)
    return f"{base}?{urlencode({'next': here})}"


async def _principal(
    request: Request, session: DbSession, settings: Settings, area: Area
) -> Principal:
    claims = session_claims(request, settings)
    if claims is None:
        raise SignInRequired(sign_in_url(request, area))
    channel = Channel.WHATSAPP if claims.extra.get("via") == "whatsapp" else Channel.WEB
    try:
        if area == "admin":
            return await cached_admin(request, session, claims, channel)
        # A pending partner's portal pages read; its form posts are refused.
        acting = request.method not in ("GET", "HEAD", "OPTIONS")
        return await cached_partner(request, session, claims, channel, acting=acting)
    except Unauthorized as exc:
        raise SignInRequired(sign_in_url(request, area)) from exc
    except DomainError as exc:
        if exc.code == "partner_pending":
            raise  # the error page says why (403), not "wrong area"
        raise WrongArea(area, exc.detail) from exc


async def web_admin(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    """The signed-in admin of an ``/app`` page."""
    principal = await _principal(request, session, settings, "admin")
    request.state.principal = principal
    return principal


async def web_partner(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    """The signed-in partner user of a ``/portal`` page."""
    principal = await _principal(request, session, settings, "portal")
    request.state.principal = principal
    return principal


WebAdmin = Annotated[Principal, Depends(web_admin)]
WebPartner = Annotated[Principal, Depends(web_partner)]
