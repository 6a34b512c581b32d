"""Admin feed entries and outbound messages (WhatsApp, email)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import (
    Base,
    JSONType,
    TimestampMixin,
    created_at_column,
    id_column,
    updated_at_column,
)


class AdminFeedEntry(Base):
    """Something the brand's admins should see (run sent, gate overdue, escalation)."""

    __tablename__ = "admin_feed_entries"
    __table_args__ = (Index("ix_admin_feed_entries_created", "created_at"),)

    id: Mapped[str] = id_column("feed")
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    production_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("production_runs.id", ondelete="CASCADE"), index=True
    )
    partner_id: Mapped[str | None] = mapped_column(String(64))
    # Makes "one entry per fact" a database guarantee (e.g. "<run>:overdue:accept").
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None]


class MessageStatus(StrEnum):
    """A message's status; ``RANK`` orders the delivery ladder (statuses never move back)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    DEDUPLICATED = "deduplicated"
    SKIPPED_NO_RECIPIENT = "skipped_no_recipient"


class MessageChannel(StrEnum):
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    LOG = "log"


class Message(Base):
    """Every outbound send attempt, including dedup skips, missing recipients and failures.

    Provider retries of one message stay on its row (``attempts``); ``send_started_at`` is set
    while a worker is talking to the provider, so a crashed worker's message is never sent twice.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_context", "context_type", "context_id"),
        Index("ix_messages_created", "created_at", "id"),
        Index("ix_messages_due", "status", "next_attempt_at"),
        Index("ix_messages_run_created", "production_run_id", "created_at"),
    )

    id: Mapped[str] = id_column("msg")
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(254))
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    production_run_id: Mapped[str | None] = mapped_column(String(64))
    platform_id: Mapped[str | None] = mapped_column(String(64))
    # ``template`` (a catalogue template name) or ``text`` (free-form, 24 h window only).
    kind: Mapped[str] = mapped_column(String(16), default="template")
    template_name: Mapped[str | None] = mapped_column("template", String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    # Quick-reply payloads and the deep-link run, for the provider call.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context_type: Mapped[str | None] = mapped_column(String(64))
    context_id: Mapped[str | None] = mapped_column(String(200))
    dedup_key: Mapped[str | None] = mapped_column(String(400), index=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), default=MessageStatus.QUEUED)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    send_started_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class MessageDedup(Base):
    """One row per dedup scope; a send wins the scope only while the previous claim has expired.

    Claimed with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at <= now RETURNING``,
    so two concurrent senders can never both win (no read-then-write).
    """

    __tablename__ = "message_dedup"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class WhatsAppPlatform(TimestampMixin, Base):
    """A WhatsApp Business account (phone number) the brand sends from.

    ``access_token``, ``app_secret`` and ``verify_token`` are write-only: never returned by the
    API and never logged.
    """

    __tablename__ = "whatsapp_platforms"

    id: Mapped[str] = id_column("waplat")
    label: Mapped[str] = mapped_column(String(100), unique=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    waba_id: Mapped[str] = mapped_column(String(64))
    access_token: Mapped[str] = mapped_column(Text)
    app_secret: Mapped[str] = mapped_column(String(255))
    verify_token: Mapped[str] = mapped_column(String(255))
    # Calling codes this number serves, e.g. ["+91"]; a partner's number picks its platform.
    country_codes: Mapped[list[str]] = mapped_column(default=list)
    # None: the language policy decides (``+91`` platforms en + hi, others en).
    languages: Mapped[list[str] | None] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(default=True)


class InboundMessage(Base):
    """A message a partner (or anyone) sent to one of the brand's WhatsApp numbers."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_from_received", "from_number", "received_at"),)

    id: Mapped[str] = id_column("wain")
    platform_id: Mapped[str | None] = mapped_column(String(64))
    # Unique: a webhook the provider redelivers is applied once.
    provider_message_id: Mapped[str] = mapped_column(String(200), unique=True)
    from_number: Mapped[str] = mapped_column(String(20))
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(String(256))
    context_message_id: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    action: Mapped[str | None] = mapped_column(String(32))
    action_result: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime]
