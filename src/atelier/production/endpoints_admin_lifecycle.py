"""Admin on-behalf milestones, output corrections and consumption logs (runs and designs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from atelier.inventory import consumption
from atelier.inventory.consumption_schemas import ConsumptionCreate, ConsumptionLogRead
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.production import completion, milestones, transitions
from atelier.production.endpoints_partner import LogQuery, completion_out, run_out
from atelier.production.lifecycle_schemas import (
    CompleteRequest,
    CorrectionRequest,
    FinishRequest,
    ProgressRequest,
)

router = APIRouter(prefix="/admin", tags=["production-runs lifecycle"])


def _milestone(run: Any, message: str) -> dict[str, Any]:
    return {"production_run": run_out(run), "message": message}


@router.post("/production-runs/{run_id}/accept")
def accept(run_id: str, session: DbSession, admin: AdminPrincipal) -> Any:
    """Accept on the partner's behalf."""
    return _milestone(*milestones.accept_run(session, run_id, actor=admin.actor))


@router.post("/production-runs/{run_id}/start")
def start(run_id: str, session: DbSession, admin: AdminPrincipal) -> Any:
    """Start on the partner's behalf."""
    return _milestone(*milestones.start_run(session, run_id, actor=admin.actor))


@router.post("/production-runs/{run_id}/finish")
def finish(
    run_id: str, session: DbSession, admin: AdminPrincipal, body: FinishRequest | None = None
) -> Any:
    """Finish on the partner's behalf (``complete_tasks`` completes open tasks)."""
    body = body or FinishRequest()
    return _milestone(
        *milestones.finish_run(
            session, run_id, actor=admin.actor, notes=body.notes, complete_tasks=body.complete_tasks
        )
    )


@router.post("/production-runs/{run_id}/progress")
def progress(run_id: str, body: ProgressRequest, session: DbSession, admin: AdminPrincipal) -> Any:
    """Record the pieces produced so far on the partner's behalf."""
    return _milestone(
        *milestones.record_progress(
            session, run_id, actor=admin.actor, produced_quantity=body.produced_quantity
        )
    )


@router.post("/production-runs/{run_id}/complete")
def complete(
    run_id: str, session: DbSession, admin: AdminPrincipal, body: CompleteRequest | None = None
) -> Any:
    """Complete on the partner's behalf, with the yield."""
    body = body or CompleteRequest()
    result = milestones.complete(
        session,
        run_id,
        actor=admin.actor,
        partner_id=None,
        produced_quantity=body.produced_quantity,
        rejected_quantity=body.rejected_quantity,
        rejection_reason=body.rejection_reason,
        rejection_notes=body.rejection_notes,
        notes=body.notes,
        allow_shortfall=body.allow_shortfall,
        consumptions=body.consumptions,
    )
    return completion_out(result)


@router.post("/production-runs/{run_id}/corrections")
def correct(run_id: str, body: CorrectionRequest, session: DbSession, admin: AdminPrincipal) -> Any:
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
    return {"production_run": run_out(run), "correction": record, "message": message}


@router.get("/production-runs/{run_id}/consumption-logs")
def list_run_logs(run_id: str, session: DbSession, admin: AdminPrincipal, filters: LogQuery) -> Any:
    """A run's consumption logs."""
    transitions.get_run(session, run_id)
    return filters.page(session, run_id=run_id)


@router.post("/production-runs/{run_id}/consumption-logs", status_code=status.HTTP_201_CREATED)
def create_run_log(
    run_id: str, body: ConsumptionCreate, session: DbSession, admin: AdminPrincipal
) -> Any:
    """Log material used by a run in progress (consumed_by admin)."""
    run = transitions.lock_run(session, run_id)
    row = consumption.log_consumption(session, run, body, actor=admin.actor, locked=True)
    return {"consumption_log": ConsumptionLogRead.model_validate(row).model_dump(mode="json")}


@router.get("/designs/{design_id}/consumption-logs")
def list_design_logs(
    design_id: str, session: DbSession, admin: AdminPrincipal, filters: LogQuery
) -> Any:
    """Every consumption log of a design (its runs' and design-level ones)."""
    from atelier.catalog import service as catalog

    catalog.get_design(session, design_id)
    return filters.page(session, design_id=design_id)


@router.post("/designs/{design_id}/consumption-logs", status_code=status.HTTP_201_CREATED)
def create_design_log(
    design_id: str, body: ConsumptionCreate, session: DbSession, admin: AdminPrincipal
) -> Any:
    """A design-level log (sampling outside a run); it is never committed to stock."""
    row = consumption.log_design_consumption(session, design_id, body, actor=admin.actor)
    return {"consumption_log": ConsumptionLogRead.model_validate(row).model_dump(mode="json")}
