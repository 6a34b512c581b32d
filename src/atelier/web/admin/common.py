"""What every admin page shares: the router settings, the navigation, rendering with the feed
badge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from atelier.notifications import feed
from atelier.platform.routers import APIRouter
from atelier.web.shared.csrf import csrf_protect
from atelier.web.shared.render import render

# (section key, path, label) in menu order.
ADMIN_NAV: list[tuple[str, str, str]] = [
    ("overview", "/app", "Overview"),
    ("runs", "/app/runs", "Production runs"),
    ("designs", "/app/designs", "Designs"),
    ("partners", "/app/partners", "Partners"),
    ("templates", "/app/task-templates", "Task templates"),
    ("flows", "/app/flows", "Flows"),
    ("messages", "/app/messages", "Messages"),
    ("feed", "/app/feed", "Feed"),
]


def admin_router() -> APIRouter:
    """A router for ``/app`` pages: CSRF checked on every unsafe method, hidden from OpenAPI."""
    return APIRouter(prefix="/app", include_in_schema=False, dependencies=[Depends(csrf_protect)])


def page(
    request: Request,
    session: Session,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    section: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """Render an admin page with the navigation and the unread-feed badge."""
    values = {
        "admin_nav": ADMIN_NAV,
        "section": section,
        "feed_count": feed.unread_count(session),
        **(context or {}),
    }
    return render(request, template, values, status_code=status_code)
