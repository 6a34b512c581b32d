"""Helpers for web tests through TestClient: sign in with the form, read CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.platform.deps import SESSION_COOKIE
from atelier.platform.security import issue_token
from atelier.platform.settings import Settings
from atelier.web.shared.session import WEB_TOKEN_TYPE
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a page's forms."""
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def web_client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def signed_in_admin(app: FastAPI) -> TestClient:
    """A browser-like client signed in as the bootstrap admin through the sign-in form."""
    browser = web_client(app)
    form = browser.get("/app/sign-in")
    response = browser.post(
        "/app/sign-in",
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "next": "/app",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert response.status_code == 303, response.text
    return browser


def web_cookie(settings: Settings, **claims: Any) -> str:
    """A web session token (the cookie's value) for arbitrary claims."""
    return issue_token(
        settings.secret_key.get_secret_value(),
        ttl=settings.token_ttl,
        token_type=WEB_TOKEN_TYPE,
        **claims,
    )


def client_with_cookie(app: FastAPI, token: str) -> TestClient:
    browser = web_client(app)
    browser.cookies.set(SESSION_COOKIE, token)
    return browser


def post_form(browser: TestClient, url: str, data: dict[str, Any], *, page: str) -> Any:
    """GET ``page`` for its CSRF token, then POST ``data`` with it to ``url``."""
    token = csrf_of(browser.get(page).text)
    return browser.post(url, data={**data, "csrf_token": token})
