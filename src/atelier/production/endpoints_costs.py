"""Run costs and the consumption-log CSV export (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from atelier.platform.db import Database
from atelier.platform.deps import AdminPrincipal, DbSession, get_database
from atelier.platform.errors import Invalid, PlatformCode
from atelier.platform.routers import APIRouter
from atelier.production import costs, export, transitions
from atelier.production.schemas import CostsEnvelope, CostSummaryRead

router = APIRouter(prefix="/admin", tags=["production-runs"])

IdQuery = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("/production-runs/{run_id}/costs", response_model=CostsEnvelope)
def run_costs(run_id: str, session: DbSession, admin: AdminPrincipal) -> CostsEnvelope:
    """Materials consumed × unit cost, the partner's estimate, and cost per good piece."""
    summary = costs.run_costs(session, run_id)
    return CostsEnvelope(costs=CostSummaryRead.model_validate(summary))


def consumption_csv(
    database: Database, *, run_id: str | None, design_id: str | None
) -> StreamingResponse:
    name = run_id or design_id or "all"
    return StreamingResponse(
        export.consumption_csv_stream(database, run_id=run_id, design_id=design_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="consumption-logs-{name}.csv"'},
    )


@router.get("/consumption-logs/export.csv")
def export_consumption_logs(
    session: DbSession,
    admin: AdminPrincipal,
    database: Annotated[Database, Depends(get_database)],
    production_run_id: IdQuery = None,
    design_id: IdQuery = None,
) -> StreamingResponse:
    """Consumption logs of one run or one design as CSV (header row first), oldest first."""
    if not production_run_id and not design_id:
        raise Invalid("give production_run_id or design_id", code=PlatformCode.VALIDATION_ERROR)
    if production_run_id:
        transitions.get_run(session, production_run_id)
    if design_id:
        from atelier.catalog import service as catalog

        catalog.get_design(session, design_id)
    return consumption_csv(database, run_id=production_run_id, design_id=design_id)
