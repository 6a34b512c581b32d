"""Admin feed entries and outbound messages (WhatsApp, email)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import Base, created_at_column, id_column


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


class Message(Base):
    """Every outbound send attempt, including dedup skips and failures."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_context", "context_type", "context_id"),)

    id: Mapped[str] = id_column("msg")
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(254))
    partner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    template: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    context_type: Mapped[str | None] = mapped_column(String(64))
    context_id: Mapped[str | None] = mapped_column(String(200))
    dedup_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
