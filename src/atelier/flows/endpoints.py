"""Admin flows API: definitions, activation, run now, executions, the operation registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Path, Query, status

from atelier.flows import service
from atelier.flows.models import ExecutionStatus, FlowExecution, FlowStatus, TriggerType
from atelier.flows.registry import registry
from atelier.flows.schemas import (
    ExecuteRequest,
    ExecutionEnvelope,
    ExecutionList,
    ExecutionRead,
    ExecutionStepRead,
    FlowCreate,
    FlowEnvelope,
    FlowList,
    FlowRead,
    FlowUpdate,
    OperationList,
    OperationRead,
)
from atelier.platform.deps import AdminPrincipal, AppSettings, DbSession
from atelier.platform.http import Limit, Offset
from atelier.platform.routers import APIRouter

router = APIRouter(prefix="/admin", tags=["flows"])

FlowId = Annotated[str, Path(min_length=1, max_length=64)]
ExecutionId = Annotated[str, Path(min_length=1, max_length=64)]


def _executions_out(session: DbSession, executions: Sequence[FlowExecution]) -> list[ExecutionRead]:
    steps = service.steps_for(session, executions)
    out = []
    for execution in executions:
        item = ExecutionRead.model_validate(execution)
        item.steps = [ExecutionStepRead.model_validate(s) for s in steps.get(execution.id, [])]
        out.append(item)
    return out


@router.get("/flows", response_model=FlowList)
def list_flows(
    _admin: AdminPrincipal,
    session: DbSession,
    name: Annotated[str | None, Query(max_length=200)] = None,
    status_: Annotated[FlowStatus | None, Query(alias="status")] = None,
    trigger_type: TriggerType | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> FlowList:
    """Flows by name; filter by exact name, status, trigger type."""
    flows, count = service.list_flows(
        session,
        name=name,
        status=status_.value if status_ else None,
        trigger_type=trigger_type.value if trigger_type else None,
        limit=limit,
        offset=offset,
    )
    return FlowList.of(flows, count, limit=limit, offset=offset)


@router.post("/flows", status_code=status.HTTP_201_CREATED, response_model=FlowEnvelope)
def create_flow(
    body: FlowCreate, _admin: AdminPrincipal, session: DbSession, settings: AppSettings
) -> FlowEnvelope:
    """Create a flow; every step's options are validated by its operation (422 otherwise)."""
    flow = service.create_flow(session, body, settings)
    return FlowEnvelope(flow=FlowRead.model_validate(flow))


@router.get("/flows/{flow_id}", response_model=FlowEnvelope)
def get_flow(flow_id: FlowId, _admin: AdminPrincipal, session: DbSession) -> FlowEnvelope:
    return FlowEnvelope(flow=FlowRead.model_validate(service.get_flow(session, flow_id)))


@router.put("/flows/{flow_id}", response_model=FlowEnvelope)
def update_flow(
    flow_id: FlowId,
    body: FlowUpdate,
    _admin: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> FlowEnvelope:
    """Change a flow (fields given are replaced and validated; others are kept)."""
    flow = service.update_flow(session, flow_id, body, settings)
    return FlowEnvelope(flow=FlowRead.model_validate(flow))


@router.post("/flows/{flow_id}/activate", response_model=FlowEnvelope)
def activate_flow(flow_id: FlowId, _admin: AdminPrincipal, session: DbSession) -> FlowEnvelope:
    """Set the flow ``active``: its schedule or event trigger fires from now on."""
    return FlowEnvelope(flow=FlowRead.model_validate(service.activate(session, flow_id)))


@router.post("/flows/{flow_id}/deactivate", response_model=FlowEnvelope)
def deactivate_flow(flow_id: FlowId, _admin: AdminPrincipal, session: DbSession) -> FlowEnvelope:
    """Set the flow back to ``draft`` (the rollback switch): its triggers stop firing."""
    return FlowEnvelope(flow=FlowRead.model_validate(service.deactivate(session, flow_id)))


@router.post(
    "/flows/{flow_id}/execute",
    status_code=status.HTTP_201_CREATED,
    response_model=ExecutionEnvelope,
)
def execute_flow(
    flow_id: FlowId,
    admin: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
    body: ExecuteRequest | None = None,
) -> ExecutionEnvelope:
    """Run the flow now (draft or active) and answer its execution with every step."""
    execution = service.execute_now(
        session,
        flow_id,
        settings,
        triggered_by=f"manual:{admin.user_id}",
        input_data=(body.input if body else None) or {},
    )
    return ExecutionEnvelope(execution=_executions_out(session, [execution])[0])


@router.get("/flows/{flow_id}/executions", response_model=ExecutionList)
def list_executions(
    flow_id: FlowId,
    _admin: AdminPrincipal,
    session: DbSession,
    triggered_by: Annotated[
        str | None, Query(max_length=200, description="prefix, e.g. event:production_run.")
    ] = None,
    status_: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ExecutionList:
    """The flow's executions, newest first, with their steps."""
    executions, count = service.list_executions(
        session, flow_id, triggered_by=triggered_by, status=status_, limit=limit, offset=offset
    )
    return ExecutionList(
        items=_executions_out(session, executions), count=count, limit=limit, offset=offset
    )


@router.get("/flow-executions/{execution_id}", response_model=ExecutionEnvelope)
def get_execution(
    execution_id: ExecutionId, _admin: AdminPrincipal, session: DbSession
) -> ExecutionEnvelope:
    execution = service.get_execution(session, execution_id)
    return ExecutionEnvelope(execution=_executions_out(session, [execution])[0])


@router.get("/flow-operations", response_model=OperationList)
def list_operations(_admin: AdminPrincipal) -> OperationList:
    """Every operation a step can use, with the JSON schema of its options."""
    return OperationList(
        operations=[
            OperationRead(name=o.name, description=o.description, options_schema=o.options_schema)
            for o in registry.describe()
        ]
    )
