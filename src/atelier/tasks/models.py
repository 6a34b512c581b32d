"""Task templates and categories; tasks, subtasks and comments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atelier.platform.db import Base, TimestampMixin, created_at_column, id_column


class TaskStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


OPEN_TASK_STATUSES = frozenset({TaskStatus.PENDING, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS})


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TaskCategory(TimestampMixin, Base):
    __tablename__ = "task_categories"

    id: Mapped[str] = id_column("tcat")
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class TaskTemplate(TimestampMixin, Base):
    __tablename__ = "task_templates"

    id: Mapped[str] = id_column("ttpl")
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[str | None] = mapped_column(
        ForeignKey("task_categories.id", ondelete="SET NULL"), index=True
    )
    priority: Mapped[str] = mapped_column(String(16), default=TaskPriority.MEDIUM)
    estimated_duration: Mapped[int | None] = mapped_column(Integer)  # minutes
    cost: Mapped[Decimal | None]
    message_template: Mapped[str | None] = mapped_column(Text)
    subtasks: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    category: Mapped[TaskCategory | None] = relationship(lazy="raise")


class Task(TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_run_status", "production_run_id", "status"),
        Index("ix_tasks_partner_status", "partner_id", "status"),
        # Subtasks of a task (and the self-FK's cascade). Partial: most tasks are top-level, and
        # a plain index's statistics (a third of all rows behind the NULL key) made the planner
        # scan the table for "parent_task_id IN (...)".
        Index(
            "ix_tasks_parent_task_id_not_null",
            "parent_task_id",
            sqlite_where=text("parent_task_id IS NOT NULL"),
            postgresql_where=text("parent_task_id IS NOT NULL"),
        ),
        # The runs lists' task progress (top-level tasks of a page of runs). Partial, so its
        # estimate holds without planner statistics: on a bulk-loaded PostgreSQL database never
        # analysed, ix_tasks_run_status looked costlier than scanning every task.
        Index(
            "ix_tasks_run_top_level",
            "production_run_id",
            "status",
            sqlite_where=text("parent_task_id IS NULL"),
            postgresql_where=text("parent_task_id IS NULL"),
        ),
    )

    id: Mapped[str] = id_column("task")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.PENDING)
    priority: Mapped[str] = mapped_column(String(16), default=TaskPriority.MEDIUM)
    production_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("production_runs.id", ondelete="CASCADE")
    )
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    design_id: Mapped[str | None] = mapped_column(ForeignKey("designs.id", ondelete="SET NULL"))
    template_id: Mapped[str | None] = mapped_column(
        ForeignKey("task_templates.id", ondelete="SET NULL")
    )
    parent_task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_redo: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[datetime | None]
    due_date: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    # Loaded explicitly (selectinload) by tasks.service; never lazily.
    subtasks: Mapped[list[Task]] = relationship(
        lazy="raise", order_by="Task.position", passive_deletes=True
    )
    comments: Mapped[list[TaskComment]] = relationship(
        lazy="raise", order_by="TaskComment.created_at", passive_deletes=True
    )


class TaskComment(Base):
    __tablename__ = "task_comments"
    __table_args__ = (Index("ix_task_comments_task_created", "task_id", "created_at"),)

    id: Mapped[str] = id_column("tcom")
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    author_type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
