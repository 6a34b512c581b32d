"""CSRF protection for every web form post (signed double submit).

A random value lives in its own HttpOnly cookie; each page embeds
``HMAC(secret_key, value)`` in its forms (hidden ``csrf_token`` field) and in the
``X-CSRF-Token`` header htmx sends. A post whose token does not match the cookie is refused
with a 403 page. The value is replaced at sign-in and sign-out, so a token planted before
signing in is useless afterwards. SameSite=Lax on the session cookie is the second layer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from atelier.platform.settings import Settings
from atelier.web.shared.session import cookie_secure

CSRF_COOKIE = "atelier_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Exception):
    """The form's CSRF token is missing or does not match: a 403 page."""


def _sign(settings: Settings, value: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"csrf:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token to embed in this request's page; creates the cookie value when missing."""
    settings: Settings = request.app.state.settings
    value: str | None = getattr(request.state, "csrf_value", None)
    if value is None:
        value = request.cookies.get(CSRF_COOKIE) or None
        if value is None or len(value) > 128:
            value = secrets.token_urlsafe(32)
            request.state.csrf_new = True
        request.state.csrf_value = value
    return _sign(settings, value)


def rotate_csrf(request: Request) -> None:
    """Use a fresh value from now on (called at sign-in and sign-out)."""
    request.state.csrf_value = secrets.token_urlsafe(32)
    request.state.csrf_new = True


def attach_csrf_cookie(request: Request, response: Response) -> None:
    """Set the CSRF cookie on ``response`` when this request created or rotated the value."""
    if not getattr(request.state, "csrf_new", False):
        return
    settings: Settings = request.app.state.settings
    response.set_cookie(
        CSRF_COOKIE,
        request.state.csrf_value,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings),
        path="/",
    )


async def csrf_protect(request: Request) -> None:
    """Router dependency: every unsafe method must carry the page's token."""
    if request.method in _SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            field = form.get(CSRF_FIELD)
            submitted = field if isinstance(field, str) else None
    if not cookie or not submitted:
        raise CsrfRejected()
    settings: Settings = request.app.state.settings
    if not hmac.compare_digest(_sign(settings, cookie), submitted):
        raise CsrfRejected()
