"""Flows stored as data, their executions and each execution's step records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import Base, TimestampMixin, created_at_column, id_column


class FlowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"


class TriggerType(StrEnum):
    SCHEDULE = "schedule"
    EVENT = "event"
    MANUAL = "manual"


class ExecutionStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class StepStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class Flow(TimestampMixin, Base):
    """A named, ordered list of operation steps with a trigger (schedule, event or manual)."""

    __tablename__ = "flows"
    __table_args__ = (Index("ix_flows_status_trigger", "status", "trigger_type"),)

    id: Mapped[str] = id_column("flow")
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=FlowStatus.DRAFT)
    trigger_type: Mapped[str] = mapped_column(String(16), default=TriggerType.MANUAL)
    # {cron, timezone} for schedule flows, {event_pattern} for event flows, {} for manual ones.
    trigger_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    # Schedule slots before this moment never fire (a flow activated at 11:00 does not run the
    # 10:00 slot it missed while it was a draft).
    activated_at: Mapped[datetime | None]
    # Set by the seed for flows it created, so re-seeding never overwrites an operator's edits.
    seed_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class FlowExecution(Base):
    """One run of a flow. ``trigger_key`` makes a (flow, slot) or (flow, event) run once."""

    __tablename__ = "flow_executions"
    __table_args__ = (
        UniqueConstraint("flow_id", "trigger_key"),
        Index("ix_flow_executions_flow_started", "flow_id", "started_at"),
        Index("ix_flow_executions_started", "started_at"),
    )

    id: Mapped[str] = id_column("fexec")
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    flow_version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default=ExecutionStatus.RUNNING)
    # schedule:<slot> | event:<name> | manual:<admin id>
    triggered_by: Mapped[str] = mapped_column(String(200))
    # Unique per flow for schedule slots and event deliveries (NULL for manual runs).
    trigger_key: Mapped[str | None] = mapped_column(String(200))
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    failed_step: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]


class FlowExecutionStep(Base):
    """What one step received, returned or raised, and when."""

    __tablename__ = "flow_execution_steps"
    __table_args__ = (UniqueConstraint("execution_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("flow_executions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
