"""All SQL of the notifications domain (messages, dedup claims, platforms, inbound messages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from atelier.notifications.errors import NotificationCode
from atelier.notifications.models import (
    InboundMessage,
    Message,
    MessageDedup,
    MessageStatus,
    WhatsAppPlatform,
)

# --- dedup --------------------------------------------------------------------------------------


def _upsert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def claim_dedup(
    session: Session, key: str, message_id: str, now: datetime, expires_at: datetime
) -> bool:
    """Take the dedup scope ``key`` for ``message_id``; False while an earlier claim is live.

    One statement: insert, or take over an expired claim, or do nothing. On PostgreSQL a
    concurrent claimer waits on the key's index entry and then sees the winner's live claim.
    """
    insert: Insert = _upsert(session)(MessageDedup).values(
        key=key, message_id=message_id, claimed_at=now, expires_at=expires_at
    )
    excluded = insert.excluded  # type: ignore[attr-defined]
    statement = insert.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["key"],
        set_={
            "message_id": excluded.message_id,
            "claimed_at": excluded.claimed_at,
            "expires_at": excluded.expires_at,
        },
        where=MessageDedup.expires_at <= now,
    ).returning(MessageDedup.key)
    return session.execute(statement).first() is not None


def dedup_owner(session: Session, key: str) -> str | None:
    return session.scalar(select(MessageDedup.message_id).where(MessageDedup.key == key))


# --- platforms ----------------------------------------------------------------------------------


def list_platforms(session: Session, *, active_only: bool = False) -> list[WhatsAppPlatform]:
    stmt = select(WhatsAppPlatform).order_by(WhatsAppPlatform.created_at, WhatsAppPlatform.id)
    if active_only:
        stmt = stmt.where(WhatsAppPlatform.is_active.is_(True))
    return list(session.scalars(stmt))


def get_platform(session: Session, platform_id: str) -> WhatsAppPlatform | None:
    return session.get(WhatsAppPlatform, platform_id)


def platform_by_phone_number_id(session: Session, phone_number_id: str) -> WhatsAppPlatform | None:
    return session.scalars(
        select(WhatsAppPlatform).where(WhatsAppPlatform.phone_number_id == phone_number_id)
    ).first()


def label_or_number_taken(
    session: Session, label: str, phone_number_id: str, exclude_id: str | None = None
) -> str | None:
    """``"label"`` or ``"phone_number_id"`` when another platform uses it, else None."""
    stmt = select(WhatsAppPlatform.label, WhatsAppPlatform.phone_number_id).where(
        or_(
            func.lower(WhatsAppPlatform.label) == label.lower(),
            WhatsAppPlatform.phone_number_id == phone_number_id,
        )
    )
    if exclude_id is not None:
        stmt = stmt.where(WhatsAppPlatform.id != exclude_id)
    for row in session.execute(stmt):
        return "label" if row.label.lower() == label.lower() else "phone_number_id"
    return None


# --- inbound ------------------------------------------------------------------------------------


def last_inbound_language(session: Session, partner_id: str) -> str | None:
    return session.scalar(
        select(InboundMessage.language)
        .where(InboundMessage.partner_id == partner_id, InboundMessage.language.is_not(None))
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(1)
    )


def last_inbound_at(session: Session, number: str) -> datetime | None:
    return session.scalar(
        select(func.max(InboundMessage.received_at)).where(InboundMessage.from_number == number)
    )


def inbound_exists(session: Session, provider_message_id: str) -> bool:
    return (
        session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.provider_message_id == provider_message_id
            )
        )
        is not None
    )


# --- messages -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageFilters:
    partner_id: str | None = None
    production_run_id: str | None = None
    status: str | None = None
    template_name: str | None = None
    context_id: str | None = None
    channel: str | None = None


def _conditions(filters: MessageFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.partner_id:
        conditions.append(Message.partner_id == filters.partner_id)
    if filters.production_run_id:
        conditions.append(Message.production_run_id == filters.production_run_id)
    if filters.status:
        conditions.append(Message.status == filters.status)
    if filters.template_name:
        conditions.append(Message.template_name == filters.template_name)
    if filters.context_id:
        conditions.append(Message.context_id == filters.context_id)
    if filters.channel:
        conditions.append(Message.channel == filters.channel)
    return conditions


def list_messages(
    session: Session, filters: MessageFilters, *, limit: int, offset: int
) -> tuple[list[Message], int]:
    """A page of messages newest first, and the total for the filters."""
    conditions = _conditions(filters)
    rows = session.scalars(
        select(Message)
        .where(*conditions)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
        .offset(offset)
    )
    count = session.scalar(select(func.count()).select_from(Message).where(*conditions))
    return list(rows), int(count or 0)


def get_message(session: Session, message_id: str) -> Message | None:
    return session.get(Message, message_id)


def message_by_provider_id(session: Session, provider_message_id: str) -> Message | None:
    return session.scalars(
        select(Message).where(Message.provider_message_id == provider_message_id).limit(1)
    ).first()


def message_by_provider_id_for_update(session: Session, provider_message_id: str) -> Message | None:
    return session.scalars(
        select(Message)
        .where(Message.provider_message_id == provider_message_id)
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def latest_message_to(
    session: Session, recipient: str, template_names: Sequence[str], since: datetime
) -> Message | None:
    """The newest message with one of ``template_names`` sent to ``recipient`` since ``since``."""
    return session.scalars(
        select(Message)
        .where(
            Message.recipient == recipient,
            Message.template_name.in_(list(template_names)),
            Message.created_at >= since,
            Message.status.in_([MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).first()


# --- delivery claims ----------------------------------------------------------------------------


def due_message_ids(session: Session, now: datetime, limit: int) -> list[str]:
    return list(
        session.scalars(
            select(Message.id)
            .where(
                Message.status == MessageStatus.QUEUED,
                Message.next_attempt_at <= now,
                Message.send_started_at.is_(None),
                or_(Message.locked_until.is_(None), Message.locked_until <= now),
            )
            .order_by(Message.next_attempt_at, Message.id)
            .limit(limit)
        )
    )


def start_send(
    session: Session, message_id: str, now: datetime, locked_until: datetime, worker: str
) -> bool:
    """Claim one due message for sending (conditional update); True when this worker won."""
    result = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.status == MessageStatus.QUEUED,
            Message.send_started_at.is_(None),
            or_(Message.locked_until.is_(None), Message.locked_until <= now),
        )
        .values(
            send_started_at=now,
            locked_until=locked_until,
            locked_by=worker,
            attempts=Message.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def finish_send(session: Session, message_id: str, worker: str, values: dict[str, Any]) -> bool:
    """Record the outcome of this worker's send (only while the claim is still ours)."""
    result = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.locked_by == worker,
            Message.send_started_at.is_not(None),
        )
        .values(send_started_at=None, locked_until=None, locked_by=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def has_abandoned_sends(session: Session, now: datetime) -> bool:
    return (
        session.scalar(
            select(Message.id)
            .where(
                Message.status == MessageStatus.QUEUED,
                Message.send_started_at.is_not(None),
                Message.locked_until <= now,
            )
            .limit(1)
        )
        is not None
    )


def fail_abandoned_sends(session: Session, now: datetime) -> int:
    """Messages whose worker died mid-call: outcome unknown, so fail them rather than resend."""
    result = session.execute(
        update(Message)
        .where(
            Message.status == MessageStatus.QUEUED,
            Message.send_started_at.is_not(None),
            Message.locked_until <= now,
        )
        .values(
            status=MessageStatus.FAILED,
            failed_at=now,
            error_code=NotificationCode.OUTCOME_UNKNOWN,
            error=("the worker stopped during the provider call; not resent, to never send twice"),
            send_started_at=None,
            locked_until=None,
            locked_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
