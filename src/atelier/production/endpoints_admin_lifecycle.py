"""Admin on-behalf milestones, output corrections and consumption logs (runs and designs)."""

from __future__ import annotations

from fastapi import Response, status

from atelier.catalog import service as catalog
from atelier.inventory.consumption_schemas import (
    ConsumptionCreate,
    ConsumptionLogEnvelope,
    ConsumptionLogList,
    ConsumptionLogRead,
)
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import IdPath
from atelier.platform.routers import APIRouter
from atelier.production import completion, consumption, milestones, transitions
from atelier.production.endpoints_partner import LogQuery, completion_out, milestone_out
from atelier.production.lifecycle_schemas import (
    CompleteRequest,
    CompleteResponse,
    CorrectionRequest,
    CorrectionResponse,
    FinishRequest,
    ProgressRequest,
)
from atelier.production.schemas import MessageRunResponse, ProductionRunRead

router = APIRouter(prefix="/admin", tags=["production-runs lifecycle"])


@router.post("/production-runs/{run_id}/accept", response_model=MessageRunResponse)
def accept(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Response:
    """Accept on the partner's behalf."""
    return milestone_out(*milestones.accept_run(session, run_id, actor=admin.actor))


@router.post("/production-runs/{run_id}/start", response_model=MessageRunResponse)
def start(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Response:
    """Start on the partner's behalf."""
    return milestone_out(*milestones.start_run(session, run_id, actor=admin.actor))


@router.post("/production-runs/{run_id}/finish", response_model=MessageRunResponse)
def finish(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal, body: FinishRequest | None = None
) -> Response:
    """Finish on the partner's behalf (``complete_tasks`` completes open tasks)."""
    body = body or FinishRequest()
    return milestone_out(
        *milestones.finish_run(
            session, run_id, actor=admin.actor, notes=body.notes, complete_tasks=body.complete_tasks
        )
    )


@router.post("/production-runs/{run_id}/progress", response_model=MessageRunResponse)
def progress(
    run_id: IdPath, body: ProgressRequest, session: DbSession, admin: AdminPrincipal
) -> Response:
    """Record the pieces produced so far on the partner's behalf."""
    return milestone_out(
        *milestones.record_progress(
            session, run_id, actor=admin.actor, produced_quantity=body.produced_quantity
        )
    )


@router.post("/production-runs/{run_id}/complete", response_model=CompleteResponse)
def complete(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal, body: CompleteRequest | None = None
) -> CompleteResponse:
    """Complete on the partner's behalf, with the yield."""
    result = milestones.complete_as_requested(
        session, run_id, body or CompleteRequest(), actor=admin.actor, partner_id=None
    )
    return completion_out(result)


@router.post("/production-runs/{run_id}/corrections", response_model=CorrectionResponse)
def correct(
    run_id: IdPath, body: CorrectionRequest, session: DbSession, admin: AdminPrincipal
) -> CorrectionResponse:
    """Correct a completed run's produced/rejected; the good-output change moves stock."""
    run, record = completion.correct_output(
        session,
        run_id,
        actor=admin.actor,
        reason=body.reason,
        produced_quantity=body.produced_quantity,
        rejected_quantity=body.rejected_quantity,
        rejection_reason=body.rejection_reason,
    )
    message = "Output corrected" if record else "Nothing to correct: the values are unchanged"
    return CorrectionResponse(
        production_run=ProductionRunRead.model_validate(run), correction=record, message=message
    )


@router.get("/production-runs/{run_id}/consumption-logs", response_model=ConsumptionLogList)
def list_run_logs(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal, filters: LogQuery
) -> ConsumptionLogList:
    """A run's consumption logs."""
    transitions.get_run(session, run_id)
    return filters.page(session, run_id=run_id)


@router.post(
    "/production-runs/{run_id}/consumption-logs",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsumptionLogEnvelope,
)
def create_run_log(
    run_id: IdPath, body: ConsumptionCreate, session: DbSession, admin: AdminPrincipal
) -> ConsumptionLogEnvelope:
    """Log material used by a run in progress (consumed_by admin)."""
    run = transitions.lock_run(session, run_id)
    row = consumption.log_consumption(session, run, body, actor=admin.actor, locked=True)
    return ConsumptionLogEnvelope(consumption_log=ConsumptionLogRead.model_validate(row))


@router.get("/designs/{design_id}/consumption-logs", response_model=ConsumptionLogList)
def list_design_logs(
    design_id: IdPath, session: DbSession, admin: AdminPrincipal, filters: LogQuery
) -> ConsumptionLogList:
    """Every consumption log of a design (its runs' and design-level ones)."""
    catalog.get_design(session, design_id)
    return filters.page(session, design_id=design_id)


@router.post(
    "/designs/{design_id}/consumption-logs",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsumptionLogEnvelope,
)
def create_design_log(
    design_id: IdPath, body: ConsumptionCreate, session: DbSession, admin: AdminPrincipal
) -> ConsumptionLogEnvelope:
    """A design-level log (sampling outside a run); it is never committed to stock."""
    row = consumption.log_design_consumption(session, design_id, body, actor=admin.actor)
    return ConsumptionLogEnvelope(consumption_log=ConsumptionLogRead.model_validate(row))
