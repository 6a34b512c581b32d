"""Admin holds: ``POST /admin/production-runs/:id/hold {reason}`` and ``.../release``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.routers import APIRouter
from atelier.production import holds
from atelier.production.schemas import HoldRequest, ProductionRunEnvelope, ProductionRunRead

router = APIRouter(prefix="/admin", tags=["production-runs"])

RunId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/production-runs/{run_id}/hold", response_model=ProductionRunEnvelope)
def hold(
    run_id: RunId, body: HoldRequest, session: DbSession, admin: AdminPrincipal
) -> ProductionRunEnvelope:
    """The run waits on the brand: no reminders, and its gate deadline pauses."""
    run = holds.hold_run(session, run_id, reason=body.reason, actor=admin.actor)
    return ProductionRunEnvelope(production_run=ProductionRunRead.model_validate(run))


@router.post("/production-runs/{run_id}/release", response_model=ProductionRunEnvelope)
def release(run_id: RunId, session: DbSession, admin: AdminPrincipal) -> ProductionRunEnvelope:
    """End the hold: reminders resume and the gate deadline moves by the time held."""
    run = holds.release_run(session, run_id, actor=admin.actor)
    return ProductionRunEnvelope(production_run=ProductionRunRead.model_validate(run))
