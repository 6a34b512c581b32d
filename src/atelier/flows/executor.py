"""Run a flow: one execution row, one step record per step, in the caller's transaction.

Each step runs inside a SAVEPOINT, so a failing step leaves nothing half-done behind it while
the execution (and the steps before it) are still recorded. A failure ends the execution as
``failed`` naming the step; ``StopFlow`` ends it as ``skipped`` with a reason; either way the
remaining steps are recorded as ``skipped``. The ``(flow_id, trigger_key)`` unique key makes a
schedule slot or an event delivery run a flow once, whatever the number of workers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from atelier.flows.models import (
    ExecutionStatus,
    Flow,
    FlowExecution,
    FlowExecutionStep,
    StepStatus,
)
from atelier.flows.registry import StepContext, StopFlow, registry
from atelier.platform import clock
from atelier.platform.errors import DomainError
from atelier.platform.ids import new_id
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

# Stored step outputs keep at most this many entries per list (later steps still see all).
MAX_STORED_LIST = 500
_ERROR_LIMIT = 2000


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data (datetimes as ISO strings, sets as lists, ...)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def stored(value: Any) -> Any:
    """JSON-ready ``value`` with long lists cut to ``MAX_STORED_LIST`` (noted beside them)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, list) and len(item) > MAX_STORED_LIST:
                out[f"{key}_total"] = len(item)
                out[f"{key}_truncated"] = True
                item = item[:MAX_STORED_LIST]
            out[str(key)] = stored(item)
        return out
    if isinstance(value, list):
        return [stored(v) for v in value]
    return value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.detail}"[:_ERROR_LIMIT]
    return f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]


def claim_execution(
    session: Session,
    flow: Flow,
    *,
    triggered_by: str,
    trigger_key: str | None,
    input_data: Mapping[str, Any],
) -> FlowExecution | None:
    """Insert the execution row; ``None`` when this (flow, trigger_key) already ran."""
    execution = FlowExecution(
        id=new_id("fexec"),
        flow_id=flow.id,
        flow_version=flow.version,
        status=ExecutionStatus.RUNNING,
        triggered_by=triggered_by[:200],
        trigger_key=trigger_key[:200] if trigger_key else None,
        input=jsonable(dict(input_data)),
        started_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(execution)
    except IntegrityError:
        log.info(
            "flow already ran for this trigger",
            extra={"flow_id": flow.id, "trigger_key": trigger_key},
        )
        return None
    return execution


def execute(
    session: Session,
    flow: Flow,
    settings: Settings,
    *,
    triggered_by: str,
    trigger_key: str | None = None,
    input_data: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
) -> FlowExecution | None:
    """Run ``flow`` now; returns the execution, or ``None`` when ``trigger_key`` already ran."""
    input_data = dict(input_data or {})
    execution = claim_execution(
        session, flow, triggered_by=triggered_by, trigger_key=trigger_key, input_data=input_data
    )
    if execution is None:
        return None
    ctx = StepContext(
        session=session,
        settings=settings,
        flow_id=flow.id,
        flow_name=flow.name,
        execution_id=execution.id,
        triggered_by=triggered_by,
        now=clock.now(),
        input=input_data,
        event=dict(event or {}),
    )
    final = ExecutionStatus.SUCCEEDED
    steps = list(flow.steps or [])
    for position, step in enumerate(steps):
        key = str(step.get("key", f"step_{position}"))
        operation = str(step.get("operation", ""))
        if final is not ExecutionStatus.SUCCEEDED:
            _record_step(session, execution, position, key, operation, StepStatus.SKIPPED)
            continue
        status, output, error, recorded = _run_step(ctx, key, operation, step.get("options") or {})
        _record_step(
            session,
            execution,
            position,
            key,
            operation,
            status,
            input_data={"options": step.get("options") or {}, **recorded},
            output=output,
            error=error,
            started_at=ctx.now,
        )
        if status is StepStatus.FAILED:
            final = ExecutionStatus.FAILED
            execution.failed_step = key
            execution.error = f"step {key!r} ({operation}) failed: {error}"[:_ERROR_LIMIT]
        elif output is not None and output.get("_stop"):
            final = ExecutionStatus.SKIPPED
            execution.error = None
        ctx.steps[key] = (output or {}).get("_value", output)
        ctx.now = clock.now()
    execution.status = final
    execution.finished_at = clock.now()
    session.flush()
    log.info(
        "flow executed",
        extra={
            "flow_id": flow.id,
            "flow_name": flow.name,
            "execution_id": execution.id,
            "status": final.value,
            "triggered_by": triggered_by,
            "failed_step": execution.failed_step,
        },
    )
    return execution


def _run_step(
    ctx: StepContext, key: str, operation: str, raw_options: Mapping[str, Any]
) -> tuple[StepStatus, dict[str, Any] | None, str | None, dict[str, Any]]:
    """(status, output, error, recorded input) of one step, run in a SAVEPOINT."""
    ctx.recorded_input = {}
    op = registry.get(operation)
    if op is None:
        return StepStatus.FAILED, None, f"unknown operation {operation!r}", {}
    try:
        options = op.Options.model_validate(dict(raw_options))
    except ValidationError as exc:
        return StepStatus.FAILED, None, f"invalid options: {exc}"[:_ERROR_LIMIT], {}
    savepoint = ctx.session.begin_nested()
    try:
        output = op.run(ctx, options)
        savepoint.commit()
    except StopFlow as stop:
        savepoint.commit()
        value = {**stop.output, "stopped": True, "reason": stop.reason}
        return StepStatus.SUCCEEDED, {**value, "_stop": True, "_value": value}, None, _rec(ctx)
    except (OperationalError, InterfaceError):
        # The database itself failed: let the trigger's transaction (and its retry) handle it.
        raise
    except Exception as exc:
        if savepoint.is_active:
            savepoint.rollback()
        log.warning(
            "flow step failed",
            exc_info=not isinstance(exc, DomainError | ValueError),
            extra={"flow_id": ctx.flow_id, "execution_id": ctx.execution_id, "step": key},
        )
        return StepStatus.FAILED, None, _describe(exc), _rec(ctx)
    return StepStatus.SUCCEEDED, dict(output), None, _rec(ctx)


def _rec(ctx: StepContext) -> dict[str, Any]:
    return dict(ctx.recorded_input)


def _record_step(
    session: Session,
    execution: FlowExecution,
    position: int,
    key: str,
    operation: str,
    status: StepStatus,
    *,
    input_data: Mapping[str, Any] | None = None,
    output: Mapping[str, Any] | None = None,
    error: str | None = None,
    started_at: datetime | None = None,
) -> None:
    now = clock.now()
    visible = None
    if output is not None:
        visible = {k: v for k, v in output.items() if not k.startswith("_")}
    session.add(
        FlowExecutionStep(
            execution_id=execution.id,
            position=position,
            key=key,
            operation=operation,
            status=status,
            input=stored(jsonable(dict(input_data or {}))),
            output=stored(jsonable(visible)) if visible is not None else None,
            error=error,
            started_at=started_at or now,
            finished_at=None if status is StepStatus.SKIPPED else now,
        )
    )
