"""Admin API: the message log (``GET /admin/messages[/:id]``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from atelier.notifications import messages
from atelier.notifications.models import MessageChannel, MessageStatus
from atelier.notifications.repository import MessageFilters
from atelier.notifications.schemas import MessageEnvelope, MessageList, MessageOut
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import Limit, Offset
from atelier.platform.routers import APIRouter

router = APIRouter(prefix="/admin/messages", tags=["notifications"])

FilterId = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("", response_model=MessageList)
def list_messages(
    _admin: AdminPrincipal,
    session: DbSession,
    partner_id: FilterId = None,
    production_run_id: FilterId = None,
    status: Annotated[MessageStatus | None, Query()] = None,
    template_name: FilterId = None,
    context_id: FilterId = None,
    channel: Annotated[MessageChannel | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> MessageList:
    """Every outbound message attempt (sent, failed, deduplicated, skipped), newest first."""
    filters = MessageFilters(
        partner_id=partner_id,
        production_run_id=production_run_id,
        status=status.value if status else None,
        template_name=template_name,
        context_id=context_id,
        channel=channel.value if channel else None,
    )
    rows, count = messages.list_messages(session, filters, limit=limit, offset=offset)
    return MessageList.of(rows, count, limit=limit, offset=offset)


@router.get("/{message_id}", response_model=MessageEnvelope)
def get_message(
    message_id: Annotated[str, Path(min_length=1, max_length=64)],
    _admin: AdminPrincipal,
    session: DbSession,
) -> MessageEnvelope:
    """One message; unknown id → 404 ``message_not_found``."""
    return MessageEnvelope(
        message=MessageOut.model_validate(messages.get_message(session, message_id))
    )
