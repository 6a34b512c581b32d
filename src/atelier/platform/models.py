"""Platform tables: admin users, the transactional outbox, scheduler slots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
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


class PrincipalEpoch(Base):
    """One row whose ``epoch`` moves on whenever a signed-in principal may have changed.

    Database triggers (:func:`trigger_ddl`) bump it when an admin user, a partner user or
    a partner is deleted or has a column that authorisation reads updated, in the same
    transaction, whoever writes (any process, the ORM or plain SQL). The principal cache
    checks it with one primary-key read per request (``platform.principals``).
    """

    __tablename__ = "principal_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# The columns authorisation reads, per table: updating one (or deleting a row) bumps the epoch.
# Changing this needs a migration that runs ``trigger_ddl`` again (it drops and recreates).
PRINCIPAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "admin_users": ("email", "first_name", "last_name", "is_active", "token_version"),
    "partner_users": (
        "partner_id",
        "first_name",
        "last_name",
        "is_active",
        "token_version",
    ),
    "partners": ("name", "status"),
}
_BUMP_SQL = (
    "INSERT INTO principal_epoch (id, epoch) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET epoch = principal_epoch.epoch + 1"
)
_PG_FUNCTION = "atelier_bump_principal_epoch"


def trigger_ddl(dialect: str) -> list[str]:
    """The statements that create the epoch triggers (also used by the migration)."""
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(
            f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP_SQL}; RETURN NULL; END $$"
        )
    for table, columns in PRINCIPAL_COLUMNS.items():
        for action, timing in (("u", f"UPDATE OF {', '.join(columns)}"), ("d", "DELETE")):
            name = f"tr_{table}_principal_epoch_{action}"
            if dialect == "postgresql":
                statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {timing} ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()"
                )
            else:
                statements.append(f"DROP TRIGGER IF EXISTS {name}")
                statements.append(
                    f"CREATE TRIGGER {name} AFTER {timing} ON {table} BEGIN {_BUMP_SQL}; END"
                )
    return statements


@event.listens_for(Base.metadata, "after_create")
def _create_triggers(_target: Any, connection: Connection, **_kw: Any) -> None:
    """``metadata.create_all`` (tests, benches) gets the triggers the migration creates."""
    if not set(PRINCIPAL_COLUMNS) | {PrincipalEpoch.__tablename__} <= set(Base.metadata.tables):
        return
    for statement in trigger_ddl(connection.dialect.name):
        connection.exec_driver_sql(statement)
