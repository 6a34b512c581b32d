"""Production runs and the stored lifecycle policy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import Base, TimestampMixin, id_column, updated_at_column
from atelier.production import search_index


class RunType(StrEnum):
    PRODUCTION = "production"
    SAMPLE = "sample"


class DispatchState(StrEnum):
    IDLE = "idle"
    AWAITING_TEMPLATES = "awaiting_templates"
    COMPLETED = "completed"


class ProductionRun(TimestampMixin, Base):
    __tablename__ = "production_runs"
    __table_args__ = (
        Index("ix_production_runs_status_created", "status", "created_at"),
        # A partner's runs by status (the partner list, the FK), and the admin list's search:
        # a word's runs by partner (see repository_search), read from the index alone.
        Index(
            "ix_production_runs_partner_list",
            "partner_id",
            "status",
            "parent_run_id",
            "design_id",
            "created_at",
            "id",
        ),
        # A design's runs (the FK) and, like the partner's, a word's runs by design.
        Index(
            "ix_production_runs_design_list",
            "design_id",
            "status",
            "parent_run_id",
            "created_at",
            "id",
        ),
        Index("ix_production_runs_gate_deadline", "gate_deadline_at"),
        # Children of a parent, in order (and the parent FK's cascade).
        Index("ix_production_runs_parent_created", "parent_run_id", "created_at", "id"),
        # The admin list's default page: top-level runs newest first, id as the tie-breaker.
        # Partial, because neither planner treats "IS NULL" as an equality that fixes the order.
        Index(
            "ix_production_runs_toplevel_created",
            "created_at",
            "id",
            postgresql_where=text("parent_run_id IS NULL"),
            sqlite_where=text("parent_run_id IS NULL"),
        ),
    )

    id: Mapped[str] = id_column("prod_run")
    status: Mapped[str] = mapped_column(String(32), default="pending_review")
    run_type: Mapped[str] = mapped_column(String(16), default=RunType.PRODUCTION, index=True)
    quantity: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(64))

    parent_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("production_runs.id", ondelete="CASCADE")
    )
    design_id: Mapped[str] = mapped_column(ForeignKey("designs.id", ondelete="RESTRICT"))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id", ondelete="RESTRICT"))
    previous_partner_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), index=True
    )
    # One run per order line, enforced by the database (NULLs are allowed many times).
    order_line_item_id: Mapped[str | None] = mapped_column(
        ForeignKey("order_line_items.id", ondelete="SET NULL"), unique=True
    )
    product_id: Mapped[str | None] = mapped_column(String(64))
    variant_id: Mapped[str | None] = mapped_column(String(64))
    depends_on_run_ids: Mapped[list[str]] = mapped_column(default=list)
    # Position of this child's assignment group: later groups depend on earlier ones.
    sequence: Mapped[int | None] = mapped_column(Integer)

    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    captured_at: Mapped[datetime | None]

    accepted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    finish_notes: Mapped[str | None] = mapped_column(Text)
    completion_notes: Mapped[str | None] = mapped_column(Text)

    produced_quantity: Mapped[int | None] = mapped_column(Integer)
    rejected_quantity: Mapped[int | None] = mapped_column(Integer)
    rejection_reason: Mapped[str | None] = mapped_column(String(64))
    rejection_notes: Mapped[str | None] = mapped_column(Text)
    last_progress_at: Mapped[datetime | None]
    # Last real partner activity (task update, progress, consumption, media): idle is measured here.
    last_activity_at: Mapped[datetime | None]

    dispatch_state: Mapped[str] = mapped_column(String(32), default=DispatchState.IDLE)
    dispatch_started_at: Mapped[datetime | None]
    dispatch_completed_at: Mapped[datetime | None]
    dispatch_template_names: Mapped[list[str]] = mapped_column(default=list)
    dispatch_template_ids: Mapped[list[str]] = mapped_column(default=list)
    dispatched_template_ids: Mapped[list[str]] = mapped_column(default=list)

    partner_cost_estimate: Mapped[Decimal | None]
    cost_type: Mapped[str | None] = mapped_column(String(16))

    # Lifecycle gate after dispatch (accept, start, finish, complete) and when it times out.
    current_gate: Mapped[str | None] = mapped_column(String(16))
    gate_deadline_at: Mapped[datetime | None]
    overdue_gate: Mapped[str | None] = mapped_column(String(16))
    overdue_at: Mapped[datetime | None]

    # Reminder bookkeeping; reset when the run is reassigned.
    last_reminder_at: Mapped[datetime | None]
    reminder_counts: Mapped[dict[str, Any]] = mapped_column(default=dict)

    # An admin hold (e.g. materials not yet sent): no reminders, and the gate deadline pauses.
    on_hold: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    held_at: Mapped[datetime | None]
    # Time the current gate spent on hold; added to its deadline (reset when the gate moves on).
    gate_paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class RunReminder(Base):
    """Reminder state of one run in one bucket (``assignment_pending``, ``not_started``,
    ``idle``) for the current stall episode; written by the reminders domain through
    ``production.reminder_state``, shown in the admin run read."""

    __tablename__ = "run_reminders"
    __table_args__ = (UniqueConstraint("run_id", "bucket"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("production_runs.id", ondelete="CASCADE"))
    bucket: Mapped[str] = mapped_column(String(32))
    # Start of the stall this state counts (sent / accepted / last activity): a new episode
    # (re-dispatch, fresh activity) starts the count again.
    anchor_at: Mapped[datetime]
    # Reminders that reached the partner (delivered, not failed) in this episode.
    count: Mapped[int] = mapped_column(Integer, default=0)
    # Reminders handed to the dispatcher in this episode: [{context_id, at, status}].
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    last_attempt_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    parked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = updated_at_column()


class PolicySetting(Base):
    """A named policy document (``lifecycle``, ``auto_approval``) that admins read and change."""

    __tablename__ = "policy_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = updated_at_column()
    updated_by: Mapped[str | None] = mapped_column(String(64))


class ProductionRunSearch(Base):
    """One row per run: the text the admin list's ``q`` searches (see ``search_index``).

    Written only by database triggers, in the same transaction as the run, design or partner
    change; indexed by FTS5 trigram (SQLite) or pg_trgm GIN (PostgreSQL)."""

    __tablename__ = search_index.TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    design_name: Mapped[str | None] = mapped_column(Text)
    partner_name: Mapped[str | None] = mapped_column(Text)
    partner_handle: Mapped[str | None] = mapped_column(Text)
    # The run's list columns, so a search is counted and sorted here (see search_index).
    status: Mapped[str | None] = mapped_column(String(32))
    top_level: Mapped[bool | None] = mapped_column()
    created_at: Mapped[datetime | None] = mapped_column()
