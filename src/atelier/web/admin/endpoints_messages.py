"""The message log: every outbound WhatsApp/email attempt with its status and provider error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from atelier.notifications import messages
from atelier.notifications.models import MessageChannel, MessageStatus
from atelier.notifications.repository import MessageFilters
from atelier.partners import service as partners
from atelier.platform.deps import DbSession
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=200)]


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/messages")
def message_log(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    partner_id: Text = None,
    production_run_id: Text = None,
    status: Text = None,
    template_name: Text = None,
    channel: Text = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """Newest first, filtered by partner, run, status, template and channel."""
    status = _blank(status)
    channel = _blank(channel)
    filters = MessageFilters(
        partner_id=_blank(partner_id),
        production_run_id=_blank(production_run_id),
        status=status if status in {s.value for s in MessageStatus} else None,
        template_name=_blank(template_name),
        channel=channel if channel in {c.value for c in MessageChannel} else None,
    )
    rows, count = messages.list_messages(session, filters, limit=PAGE_SIZE, offset=offset)
    partner_rows, _ = partners.list_partners(session, status=None, q=None, limit=500, offset=0)
    names = {p.id: p.name for p in partner_rows}
    names.update(
        {
            pid: info["name"]
            for pid, info in partners.partner_display(
                session, [r.partner_id for r in rows if r.partner_id and r.partner_id not in names]
            ).items()
        }
    )
    args = {
        "partner_id": filters.partner_id,
        "production_run_id": filters.production_run_id,
        "status": filters.status,
        "template_name": filters.template_name,
        "channel": filters.channel,
    }
    context = {
        "rows": rows,
        "filters": filters,
        "args": {k: v for k, v in args.items() if v},
        "partners": sorted(partner_rows, key=lambda p: p.name.lower()),
        "partner_names": names,
        "statuses": [s.value for s in MessageStatus],
        "channels": [c.value for c in MessageChannel],
        "page_info": {"count": count, "limit": PAGE_SIZE, "offset": offset},
    }
    return page(request, session, "admin/messages.html", context, section="messages")


@router.get("/messages/{message_id}")
def message_detail(
    request: Request, session: DbSession, admin: WebAdmin, message_id: str
) -> Response:
    """One message: recipient, template and variables, every status time, the provider error."""
    message = messages.get_message(session, message_id)
    names = partners.partner_display(session, [message.partner_id] if message.partner_id else [])
    context = {
        "message": message,
        "partner_name": names.get(message.partner_id or "", {}).get("name"),
    }
    return page(request, session, "admin/message.html", context, section="messages")
