"""Helpers for portal tests through TestClient: a partner signed in with the portal form."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories.catalog import PartnerHandle
from tests.web.support import csrf_of, web_client


def portal_client(app: FastAPI, partner: PartnerHandle) -> TestClient:
    """A browser-like client signed in as ``partner``'s first user through /portal/sign-in."""
    browser = web_client(app)
    form = browser.get("/portal/sign-in")
    assert form.status_code == 200, form.text
    response = browser.post(
        "/portal/sign-in",
        data={
            "email": partner.email,
            "password": partner.password,
            "next": "/portal",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert response.status_code == 303, response.text
    return browser


def portal_post(
    browser: TestClient, run_id: str, action: str, data: dict[str, Any] | None = None
) -> Any:
    """POST a run page's form (with the page's CSRF token)."""
    page = browser.get(f"/portal/runs/{run_id}")
    assert page.status_code == 200, page.text
    body = {**(data or {}), "csrf_token": csrf_of(page.text)}
    return browser.post(f"/portal/runs/{run_id}/{action}", data=body)
