"""Flows: list with status and trigger, activate/deactivate, run now, executions filtered by
``triggered_by``, and each execution's steps with their input and output as readable JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from atelier.flows import service as flows
from atelier.flows.models import ExecutionStatus, FlowStatus, TriggerType
from atelier.platform.deps import AppSettings, DbSession
from atelier.web.admin.common import admin_router, page
from atelier.web.shared.render import FormError, redirect, service_errors
from atelier.web.shared.session import WebAdmin

router = admin_router()

PAGE_SIZE = 50
EXECUTIONS_PAGE = 25
Text = Annotated[str | None, Query(max_length=200)]


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/flows")
def flow_list(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    status: Text = None,
    trigger_type: Text = None,
) -> Response:
    """Every flow with its status, trigger and last execution."""
    status = _blank(status)
    trigger_type = _blank(trigger_type)
    rows, count = flows.list_flows(
        session,
        status=status if status in {s.value for s in FlowStatus} else None,
        trigger_type=trigger_type if trigger_type in {t.value for t in TriggerType} else None,
        limit=PAGE_SIZE,
    )
    context = {
        "rows": rows,
        "count": count,
        "last": flows.last_executions(session, [f.id for f in rows]),
        "status": status or "",
        "trigger_type": trigger_type or "",
        "statuses": [s.value for s in FlowStatus],
        "trigger_types": [t.value for t in TriggerType],
    }
    return page(request, session, "admin/flows.html", context, section="flows")


def _show_flow(
    request: Request,
    session: DbSession,
    flow_id: str,
    *,
    triggered_by: str | None = None,
    status: str | None = None,
    offset: int = 0,
    error: FormError | None = None,
) -> Response:
    flow = flows.get_flow(session, flow_id)
    executions, count = flows.list_executions(
        session,
        flow.id,
        triggered_by=triggered_by,
        status=ExecutionStatus(status) if status else None,
        limit=EXECUTIONS_PAGE,
        offset=offset,
    )
    args = {k: v for k, v in {"triggered_by": triggered_by, "status": status}.items() if v}
    context = {
        "flow": flow,
        "executions": executions,
        "triggered_by": triggered_by or "",
        "status": status or "",
        "statuses": [s.value for s in ExecutionStatus],
        "args": args,
        "page_info": {"count": count, "limit": EXECUTIONS_PAGE, "offset": offset},
        "error": error,
    }
    return page(
        request,
        session,
        "admin/flow.html",
        context,
        section="flows",
        status_code=error.status_code if error else 200,
    )


@router.get("/flows/{flow_id}")
def flow_detail(
    request: Request,
    session: DbSession,
    admin: WebAdmin,
    flow_id: str,
    triggered_by: Text = None,
    status: Text = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The flow's trigger and steps, and its executions (filter by ``triggered_by`` prefix)."""
    status = _blank(status)
    return _show_flow(
        request,
        session,
        flow_id,
        triggered_by=_blank(triggered_by),
        status=status if status in {s.value for s in ExecutionStatus} else None,
        offset=offset,
    )


@router.post("/flows/{flow_id}/activate")
def activate(request: Request, session: DbSession, admin: WebAdmin, flow_id: str) -> Response:
    """Set the flow active: its schedule or event trigger fires from now on."""
    flow = flows.activate(session, flow_id)
    return redirect(request, f"/app/flows/{flow.id}", notice=f"{flow.name} is active.")


@router.post("/flows/{flow_id}/deactivate")
def deactivate(request: Request, session: DbSession, admin: WebAdmin, flow_id: str) -> Response:
    """Set the flow back to draft: its triggers stop firing."""
    flow = flows.deactivate(session, flow_id)
    return redirect(request, f"/app/flows/{flow.id}", notice=f"{flow.name} is a draft again.")


@router.post("/flows/{flow_id}/run")
def run_now(
    request: Request, session: DbSession, admin: WebAdmin, settings: AppSettings, flow_id: str
) -> Response:
    """Run the flow now (draft or active) and open the execution it produced."""
    with service_errors(session) as outcome:
        execution = flows.execute_now(
            session, flow_id, settings, triggered_by=f"manual:{admin.user_id}", input_data={}
        )
    if outcome.error is not None:
        return _show_flow(request, session, flow_id, error=outcome.error)
    return redirect(
        request,
        f"/app/flow-executions/{execution.id}",
        notice=f"Run {execution.status}.",
    )


@router.get("/flow-executions/{execution_id}")
def execution_detail(
    request: Request, session: DbSession, admin: WebAdmin, execution_id: str
) -> Response:
    """One execution: trigger, status, timing, error, and every step's input and output."""
    execution = flows.get_execution(session, execution_id)
    flow = flows.get_flow(session, execution.flow_id)
    steps = flows.steps_for(session, [execution]).get(execution.id, [])
    context = {"execution": execution, "flow": flow, "steps": steps}
    return page(request, session, "admin/flow_execution.html", context, section="flows")
