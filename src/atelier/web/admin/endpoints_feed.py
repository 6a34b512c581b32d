"""The admin feed page (gates overdue, escalations, dependencies cancelled...) and its badge."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from atelier.notifications import feed
from atelier.platform.deps import DbSession
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.render import redirect
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZE = 50


@router.get("/feed")
def feed_page(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    show: Annotated[str, Query(pattern="^(unread|all)$")] = "unread",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Unread entries first (or all of them), newest first, each linking to its run."""
    result = feed.list_feed(
        session, unread=True if show == "unread" else None, limit=PAGE_SIZE, offset=offset
    )
    context = {
        "entries": result.entries,
        "show": show,
        "unread_count": result.unread_count,
        "args": {"show": show} if show != "unread" else {},
        "page_info": {"count": result.count, "limit": PAGE_SIZE, "offset": offset},
    }
    return page(request, session, "admin/feed.html", context, section="feed")


@router.post("/feed/{entry_id}/read")
def read_entry(request: Request, session: DbSession, admin: WebAdmin, entry_id: str) -> Response:
    """Mark one entry read (idempotent)."""
    feed.mark_read(session, entry_id)
    return redirect(request, "/app/feed")


@router.post("/feed/read-all")
def read_all(request: Request, session: DbSession, admin: WebAdmin) -> Response:
    """Mark every unread entry read."""
    count = feed.mark_all_read(session)
    return redirect(request, "/app/feed", notice=f"Marked {count} entries read.")
