"""Starting and ending the web session cookie (a signed token of type ``web``).

Here rather than in ``atelier.web`` because the WhatsApp deep-link sign-in
(``auth.endpoints_deeplink``), which sits below the web apps, starts a portal session too.
``atelier.web.shared.session`` reads the cookie back.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Response

from atelier.platform.deps import SESSION_COOKIE
from atelier.platform.security import issue_token
from atelier.platform.settings import Settings

WEB_TOKEN_TYPE = "web"


def cookie_secure(settings: Settings) -> bool:
    """Secure cookies in production and whenever the public URL is HTTPS."""
    return settings.env == "production" or settings.public_base_url.lower().startswith("https://")


def start_session(
    response: Response,
    settings: Settings,
    *,
    role: Literal["admin", "partner"],
    subject: str,
    partner_id: str | None = None,
    extra: dict[str, Any] | None = None,
    version: int = 0,
) -> None:
    """Set the session cookie for ``subject`` on ``response``.

    ``version`` is the user's ``token_version``: a later password change ends the session.
    """
    token = issue_token(
        settings.secret_key.get_secret_value(),
        subject=subject,
        role=role,
        partner_id=partner_id,
        ttl=settings.token_ttl,
        token_type=WEB_TOKEN_TYPE,
        extra=extra,
        version=version,
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.token_ttl.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings),
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"


def end_session(response: Response, settings: Settings) -> None:
    """Delete the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(settings)
    )
    response.headers["Cache-Control"] = "no-store"
