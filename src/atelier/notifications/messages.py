"""Reading the message log and applying provider status callbacks to it."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from atelier.notifications import repository
from atelier.notifications.models import Message, MessageStatus
from atelier.notifications.repository import MessageFilters
from atelier.platform.errors import not_found

log = logging.getLogger(__name__)

# The delivery ladder: a callback may only move a message up it.
RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


def list_messages(
    session: Session, filters: MessageFilters, *, limit: int, offset: int
) -> tuple[list[Message], int]:
    """A page of messages newest first, and the total for the filters."""
    return repository.list_messages(session, filters, limit=limit, offset=offset)


def get_message(session: Session, message_id: str) -> Message:
    """The message, or 404 ``message_not_found``."""
    message = repository.get_message(session, message_id)
    if message is None:
        raise not_found("message", message_id)
    return message


def status_change_allowed(current: str, new: str) -> bool:
    """Pure rule: statuses move forward only (sent → delivered → read); ``failed`` only from
    queued/sent (a delivered or read message did reach the partner)."""
    if new == MessageStatus.FAILED:
        return current in (MessageStatus.QUEUED, MessageStatus.SENT)
    if current not in RANK or new not in RANK:
        return False
    return RANK[new] > RANK[current]


def apply_status(
    session: Session,
    provider_message_id: str,
    new_status: str,
    at: datetime,
    *,
    error_code: str | None = None,
    error: str | None = None,
) -> Message | None:
    """Apply one provider status callback; None when the provider id is unknown.

    The message row is re-read under a row lock (PostgreSQL) so two callbacks racing on one
    message cannot move it backwards.
    """
    message = repository.message_by_provider_id_for_update(session, provider_message_id)
    if message is None:
        log.info(
            "status for an unknown message ignored",
            extra={"provider_message_id": provider_message_id, "status": new_status},
        )
        return None
    if not status_change_allowed(message.status, new_status):
        log.debug(
            "status callback would move backwards; ignored",
            extra={"message_id": message.id, "current": message.status, "status": new_status},
        )
        return message
    message.status = new_status
    if new_status == MessageStatus.SENT:
        message.sent_at = message.sent_at or at
    elif new_status == MessageStatus.DELIVERED:
        message.sent_at = message.sent_at or at
        message.delivered_at = message.delivered_at or at
    elif new_status == MessageStatus.READ:
        message.delivered_at = message.delivered_at or at
        message.read_at = message.read_at or at
    elif new_status == MessageStatus.FAILED:
        message.failed_at = at
        message.error_code = error_code
        message.error = error
    session.flush()
    log.info(
        "message status updated",
        extra={"message_id": message.id, "status": new_status, "error_code": error_code},
    )
    return message
