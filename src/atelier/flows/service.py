"""Flow rules: create, update, activate/deactivate, run now, and the triggers' entry points.

Services never commit: the request, the scheduler slot or the outbox delivery owns the
transaction, so an execution and everything its steps wrote commit (or roll back) together.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.flows import executor, repository
from atelier.flows.errors import FlowError
from atelier.flows.models import (
    ExecutionStatus,
    Flow,
    FlowExecution,
    FlowExecutionStep,
    FlowStatus,
    TriggerType,
)
from atelier.flows.schemas import FlowCreate, FlowUpdate, parse_trigger
from atelier.platform import clock
from atelier.platform.errors import Conflict, Invalid, NotFound, PlatformCode
from atelier.platform.outbox import Event
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)


def get_flow(session: Session, flow_id: str) -> Flow:
    """The flow, or 404 ``flow_not_found``."""
    flow = repository.get_flow(session, flow_id)
    if flow is None:
        raise NotFound(f"flow {flow_id!r} was not found", code=FlowError.FLOW_NOT_FOUND)
    return flow


def get_flow_by_name(session: Session, name: str) -> Flow:
    flow = repository.flow_by_name(session, name)
    if flow is None:
        raise NotFound(f"no flow is named {name!r}", code=FlowError.UNKNOWN_FLOW)
    return flow


def list_flows(
    session: Session,
    *,
    name: str | None = None,
    status: str | None = None,
    trigger_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Flow], int]:
    return repository.list_flows(
        session, name=name, status=status, trigger_type=trigger_type, limit=limit, offset=offset
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a flow named {name!r} already exists", code=FlowError.NAME_TAKEN)


def _default_zone(config: dict[str, Any], trigger_type: str, settings: Settings) -> dict[str, Any]:
    if trigger_type == TriggerType.SCHEDULE and not config.get("timezone"):
        return {**config, "timezone": settings.timezone}
    return config


def create_flow(
    session: Session, data: FlowCreate, settings: Settings, *, seed_key: str | None = None
) -> Flow:
    """A new flow (``draft`` unless ``status`` says otherwise); 409 when the name is taken."""
    if repository.flow_by_name(session, data.name) is not None:
        raise _name_taken(data.name)
    now = clock.now()
    flow = Flow(
        name=data.name,
        description=data.description,
        status=data.status,
        trigger_type=data.trigger_type,
        trigger_config=_default_zone(dict(data.trigger_config), data.trigger_type, settings),
        steps=[step.model_dump(mode="json") for step in data.steps],
        activated_at=now if data.status is FlowStatus.ACTIVE else None,
        seed_key=seed_key,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(flow)
    except IntegrityError as exc:
        raise _name_taken(data.name) from exc
    log.info("flow created", extra={"flow_id": flow.id, "flow_name": flow.name})
    return flow


def update_flow(session: Session, flow_id: str, data: FlowUpdate, settings: Settings) -> Flow:
    """Change any of name, description, status, trigger, steps (all validated)."""
    flow = get_flow(session, flow_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "trigger_type", "trigger_config", "steps", "status"):
        if field in changes and changes[field] is None:
            raise Invalid(f"{field}: may not be null", code=PlatformCode.VALIDATION_ERROR)
    if data.name is not None and data.name != flow.name:
        other = repository.flow_by_name(session, data.name)
        if other is not None and other.id != flow.id:
            raise _name_taken(data.name)
        flow.name = data.name
    if "description" in changes:
        flow.description = data.description
    trigger_changed = False
    if data.trigger_type is not None or data.trigger_config is not None:
        trigger_type = TriggerType(data.trigger_type or flow.trigger_type)
        if data.trigger_config is not None:
            raw = data.trigger_config
        elif trigger_type.value == flow.trigger_type:
            raw = dict(flow.trigger_config)
        else:
            raw = {}
        try:
            config = parse_trigger(trigger_type, dict(raw))
        except ValueError as exc:
            raise Invalid(f"trigger_config: {exc}", code=FlowError.INVALID_TRIGGER) from exc
        config = _default_zone(config, trigger_type, settings)
        trigger_changed = (trigger_type.value, config) != (flow.trigger_type, flow.trigger_config)
        flow.trigger_type = trigger_type
        flow.trigger_config = config
    if data.steps is not None:
        flow.steps = [step.model_dump(mode="json") for step in data.steps]
    if data.status is not None:
        _set_status(flow, data.status)
    elif trigger_changed and flow.status == FlowStatus.ACTIVE:
        # A new schedule counts from now: slots of the old cron are not "missed" slots.
        flow.activated_at = clock.now()
    flow.version += 1
    flow.updated_at = clock.now()
    try:
        session.flush()
    except IntegrityError as exc:
        raise _name_taken(flow.name) from exc
    log.info("flow updated", extra={"flow_id": flow.id, "fields": sorted(changes)})
    return flow


def _set_status(flow: Flow, status: FlowStatus) -> bool:
    if flow.status == status:
        return False
    flow.status = status
    flow.activated_at = clock.now() if status is FlowStatus.ACTIVE else None
    return True


def activate(session: Session, flow_id: str) -> Flow:
    """``draft`` → ``active`` (idempotent). Schedule slots count from now on."""
    flow = get_flow(session, flow_id)
    if _set_status(flow, FlowStatus.ACTIVE):
        flow.updated_at = clock.now()
        log.info("flow activated", extra={"flow_id": flow.id, "flow_name": flow.name})
    return flow


def deactivate(session: Session, flow_id: str) -> Flow:
    """``active`` → ``draft`` (idempotent): no more scheduled or event runs."""
    flow = get_flow(session, flow_id)
    if _set_status(flow, FlowStatus.DRAFT):
        flow.updated_at = clock.now()
        log.info("flow deactivated", extra={"flow_id": flow.id, "flow_name": flow.name})
    return flow


def execute_now(
    session: Session,
    flow_id: str,
    settings: Settings,
    *,
    triggered_by: str,
    input_data: Mapping[str, Any] | None = None,
) -> FlowExecution:
    """Run a flow now, draft or active (the operator's "Run now")."""
    flow = get_flow(session, flow_id)
    execution = executor.execute(
        session, flow, settings, triggered_by=triggered_by, input_data=input_data
    )
    assert execution is not None  # no trigger key: nothing to collide with
    return execution


# --- triggers ---------------------------------------------------------------------------------


def run_scheduled(session: Session, flow_id: str, slot: datetime, settings: Settings) -> None:
    """The scheduler's handler for ``flow:<id>``: run the flow for ``slot`` if still active."""
    flow = repository.get_flow(session, flow_id)
    if flow is None or flow.status != FlowStatus.ACTIVE:
        return
    if flow.trigger_type != TriggerType.SCHEDULE:
        return
    if flow.activated_at is not None and slot < flow.activated_at:
        return
    stamp = slot.isoformat().replace("+00:00", "Z")
    executor.execute(
        session,
        flow,
        settings,
        triggered_by=f"schedule:{stamp}",
        trigger_key=f"schedule:{stamp}",
        input_data={"slot": stamp},
    )


def matching_event_flows(session: Session, event_name: str) -> list[Flow]:
    """Active event flows whose pattern matches ``event_name``."""
    return [
        flow
        for flow in repository.active_flows(session, TriggerType.EVENT)
        if fnmatch.fnmatchcase(event_name, str(flow.trigger_config.get("event_pattern", "")))
    ]


def run_for_event(session: Session, event: Event, settings: Settings) -> list[FlowExecution]:
    """Run every active flow matching ``event`` once for this event (a redelivery is a no-op)."""
    executions = []
    for flow in matching_event_flows(session, event.name):
        execution = executor.execute(
            session,
            flow,
            settings,
            triggered_by=f"event:{event.name}",
            trigger_key=f"event:{event.id}",
            input_data=event.payload,
            event={"id": event.id, "name": event.name},
        )
        if execution is not None:
            executions.append(execution)
    return executions


# --- executions -------------------------------------------------------------------------------


def get_execution(session: Session, execution_id: str) -> FlowExecution:
    execution = repository.get_execution(session, execution_id)
    if execution is None:
        raise NotFound(
            f"flow execution {execution_id!r} was not found", code=FlowError.EXECUTION_NOT_FOUND
        )
    return execution


def list_executions(
    session: Session,
    flow_id: str,
    *,
    triggered_by: str | None = None,
    status: ExecutionStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[FlowExecution], int]:
    get_flow(session, flow_id)
    return repository.list_executions(
        session,
        flow_id,
        triggered_by=triggered_by,
        status=status.value if status else None,
        limit=limit,
        offset=offset,
    )


def steps_for(
    session: Session, executions: Sequence[FlowExecution]
) -> dict[str, list[FlowExecutionStep]]:
    return repository.steps_for(session, [e.id for e in executions])


def last_executions(session: Session, flow_ids: Sequence[str]) -> dict[str, FlowExecution]:
    """The newest execution of each flow in ``flow_ids`` (flows never run are absent)."""
    return repository.last_executions(session, flow_ids)


def prune_executions(session: Session, now: datetime, retention_days: int) -> int:
    """Delete executions older than ``retention_days``; returns how many."""
    before = now - timedelta(days=retention_days)
    total = 0
    while True:
        deleted = repository.prune_executions(session, before)
        total += deleted
        if deleted == 0:
            break
        session.flush()
    return total
