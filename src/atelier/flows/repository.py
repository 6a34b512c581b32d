"""SQL for flows and executions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from atelier.flows.models import (
    Flow,
    FlowExecution,
    FlowExecutionStep,
    FlowStatus,
    TriggerType,
)


def get_flow(session: Session, flow_id: str) -> Flow | None:
    return session.get(Flow, flow_id)


def flow_by_name(session: Session, name: str) -> Flow | None:
    return session.scalars(select(Flow).where(Flow.name == name)).one_or_none()


def flow_by_seed_key(session: Session, seed_key: str) -> Flow | None:
    return session.scalars(select(Flow).where(Flow.seed_key == seed_key)).one_or_none()


def list_flows(
    session: Session,
    *,
    name: str | None,
    status: str | None,
    trigger_type: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Flow], int]:
    conditions: list[ColumnElement[bool]] = []
    if name:
        conditions.append(Flow.name == name)
    if status:
        conditions.append(Flow.status == status)
    if trigger_type:
        conditions.append(Flow.trigger_type == trigger_type)
    rows = session.scalars(
        select(Flow).where(*conditions).order_by(Flow.name, Flow.id).limit(limit).offset(offset)
    ).all()
    count = session.scalar(select(func.count()).select_from(Flow).where(*conditions)) or 0
    return rows, int(count)


def active_flows(session: Session, trigger_type: TriggerType) -> Sequence[Flow]:
    return session.scalars(
        select(Flow)
        .where(Flow.status == FlowStatus.ACTIVE, Flow.trigger_type == trigger_type)
        .order_by(Flow.name, Flow.id)
    ).all()


def get_execution(session: Session, execution_id: str) -> FlowExecution | None:
    return session.get(FlowExecution, execution_id)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def list_executions(
    session: Session,
    flow_id: str,
    *,
    triggered_by: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[FlowExecution], int]:
    conditions: list[ColumnElement[bool]] = [FlowExecution.flow_id == flow_id]
    if triggered_by:
        conditions.append(FlowExecution.triggered_by.like(_like_prefix(triggered_by), escape="\\"))
    if status:
        conditions.append(FlowExecution.status == status)
    rows = session.scalars(
        select(FlowExecution)
        .where(*conditions)
        .order_by(FlowExecution.started_at.desc(), FlowExecution.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    count = session.scalar(select(func.count()).select_from(FlowExecution).where(*conditions))
    return rows, int(count or 0)


def steps_for(session: Session, execution_ids: Sequence[str]) -> dict[str, list[FlowExecutionStep]]:
    """Step records per execution, in order (one query for any number of executions)."""
    out: dict[str, list[FlowExecutionStep]] = {eid: [] for eid in execution_ids}
    if not execution_ids:
        return out
    rows = session.scalars(
        select(FlowExecutionStep)
        .where(FlowExecutionStep.execution_id.in_(execution_ids))
        .order_by(FlowExecutionStep.execution_id, FlowExecutionStep.position)
    )
    for row in rows:
        out[row.execution_id].append(row)
    return out


def last_executions(session: Session, flow_ids: Sequence[str]) -> dict[str, FlowExecution]:
    out: dict[str, FlowExecution] = {}
    for flow_id in flow_ids:
        row = session.scalars(
            select(FlowExecution)
            .where(FlowExecution.flow_id == flow_id)
            .order_by(FlowExecution.started_at.desc(), FlowExecution.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            out[flow_id] = row
    return out


def prune_executions(session: Session, before: datetime, *, batch_size: int = 1000) -> int:
    """Delete executions started before ``before`` (steps cascade); returns how many."""
    ids = list(
        session.scalars(
            select(FlowExecution.id).where(FlowExecution.started_at < before).limit(batch_size)
        )
    )
    if not ids:
        return 0
    # Steps first: SQLite only cascades with foreign keys on, and this must not depend on it.
    session.execute(delete(FlowExecutionStep).where(FlowExecutionStep.execution_id.in_(ids)))
    session.execute(delete(FlowExecution).where(FlowExecution.id.in_(ids)))
    return len(ids)
