"""Platform tables: admin users, the transactional outbox, scheduler slots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import Base, TimestampMixin, created_at_column, id_column


class AdminUser(TimestampMixin, Base):
    __tablename__ = "admin_users"

    id: Mapped[str] = id_column("admin")
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    # Bumped by every password change; tokens carry the value they were issued with (``ver``)
    # and stop working once it moved on.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OutboxEvent(Base):
    """A domain event written in the same transaction as the change it announces.

    Its state is derived from the columns: ``delivered`` (``delivered_at``), ``dead`` (every
    subscriber still owed it used up its attempts: ``dead_at``), ``failing`` (``attempts`` > 0,
    a retry is scheduled at ``available_at``) or ``pending``.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_due", "delivered_at", "dead_at", "available_at"),)

    id: Mapped[str] = id_column("evt")
    name: Mapped[str] = mapped_column(String(120), index=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = created_at_column()
    available_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(120))
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime | None]
    # Admin retries that revived the event from ``dead`` (keys the feed entry of each death).
    manual_retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        if self.dead_at is not None:
            return "dead"
        return "failing" if self.attempts > 0 else "pending"


class OutboxDelivery(Base):
    """One row per (event, subscriber) that succeeded, written with the subscriber's own work."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscriber"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(200))
    delivered_at: Mapped[datetime] = created_at_column()


class OutboxFailure(Base):
    """Failed attempts of one subscriber on one event: its count, last error and dead state.

    Written by the dispatcher after the subscriber's transaction rolled back (success is only
    ever recorded in ``outbox_deliveries``); both writers (dispatcher, admin retry) lock the
    event row first, so the row is never updated by two at once.
    """

    __tablename__ = "outbox_failures"
    __table_args__ = (UniqueConstraint("event_id", "subscriber"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    dead_at: Mapped[datetime | None]


class ScheduledSlot(Base):
    """A (job, slot) claimed by exactly one worker; the unique key decides who runs it."""

    __tablename__ = "scheduled_slots"
    __table_args__ = (UniqueConstraint("job", "slot_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(200))
    slot_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(120))
    claimed_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
