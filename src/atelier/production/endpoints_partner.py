"""Partner runs API: read, milestones (accept/decline/start/finish/progress/complete), consumption.

Every route is scoped to the caller's partner: a foreign or partner-less run answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from atelier.inventory import consumption
from atelier.inventory.consumption_schemas import ConsumptionCreate, ConsumptionLogRead
from atelier.inventory.models import ConsumptionType
from atelier.platform.deps import DbSession, PartnerPrincipal
from atelier.platform.http import Limit, Offset
from atelier.production import milestones, partner_views
from atelier.production.lifecycle import RunStatus
from atelier.production.lifecycle_schemas import (
    CompleteRequest,
    FinishRequest,
    ProgressRequest,
)
from atelier.production.models import RunType
from atelier.production.schemas import DeclineRequest, ProductionRunRead

router = APIRouter(prefix="/partners/production-runs", tags=["partner production runs"])


def _partner_id(partner: PartnerPrincipal) -> str:
    # require_partner always resolves a partner; the assert narrows the type for mypy.
    assert partner.partner_id is not None
    return partner.partner_id


def run_out(run: Any) -> dict[str, Any]:
    return ProductionRunRead.model_validate(run).model_dump(mode="json")


def _milestone(run: Any, message: str) -> dict[str, Any]:
    return {"production_run": run_out(run), "message": message}


@router.get("")
def list_runs(
    session: DbSession,
    partner: PartnerPrincipal,
    status: RunStatus | None = None,
    run_type: RunType | None = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The caller's runs (filters status, run_type, role) with design and task progress."""
    return partner_views.list_partner_runs(
        session,
        _partner_id(partner),
        status=status,
        run_type=run_type,
        role=role,
        limit=limit,
        offset=offset,
    )


@router.get("/{run_id}")
def get_run(run_id: str, session: DbSession, partner: PartnerPrincipal) -> Any:
    """One of the caller's runs with design, snapshot, tasks, progress and related runs."""
    return partner_views.partner_run_detail(session, run_id, _partner_id(partner))


@router.post("/{run_id}/accept")
def accept(run_id: str, session: DbSession, partner: PartnerPrincipal) -> Any:
    """sent_to_partner → in_progress."""
    run, message = milestones.accept_run(
        session, run_id, actor=partner.actor, partner_id=_partner_id(partner)
    )
    return _milestone(run, message)


@router.post("/{run_id}/decline")
def decline(
    run_id: str, body: DeclineRequest, session: DbSession, partner: PartnerPrincipal
) -> Any:
    """Give the run back before starting it: → awaiting_reassignment (twice → "already queued")."""
    from atelier.production import service

    run, message = service.decline_run(
        session,
        run_id,
        partner_id=_partner_id(partner),
        reason=body.reason,
        notes=body.notes,
        actor=partner.actor,
    )
    return _milestone(run, message)


@router.post("/{run_id}/start")
def start(run_id: str, session: DbSession, partner: PartnerPrincipal) -> Any:
    """Stamp started_at (a sample run's design → In_Development)."""
    run, message = milestones.start_run(
        session, run_id, actor=partner.actor, partner_id=_partner_id(partner)
    )
    return _milestone(run, message)


@router.post("/{run_id}/finish")
def finish(
    run_id: str, session: DbSession, partner: PartnerPrincipal, body: FinishRequest | None = None
) -> Any:
    """Stamp finished_at with notes; ``complete_tasks`` completes the remaining open tasks."""
    body = body or FinishRequest()
    run, message = milestones.finish_run(
        session,
        run_id,
        actor=partner.actor,
        partner_id=_partner_id(partner),
        notes=body.notes,
        complete_tasks=body.complete_tasks,
    )
    return _milestone(run, message)


@router.post("/{run_id}/progress")
def progress(
    run_id: str, body: ProgressRequest, session: DbSession, partner: PartnerPrincipal
) -> Any:
    """Record the pieces produced so far."""
    run, message = milestones.record_progress(
        session,
        run_id,
        actor=partner.actor,
        produced_quantity=body.produced_quantity,
        partner_id=_partner_id(partner),
    )
    return _milestone(run, message)


def completion_out(result: Any) -> dict[str, Any]:
    return {
        "production_run": run_out(result.run),
        "consumptions_logged": result.consumptions_logged,
        "consumptions_committed": result.consumptions_committed,
        "message": result.message,
    }


@router.post("/{run_id}/complete")
def complete(
    run_id: str, session: DbSession, partner: PartnerPrincipal, body: CompleteRequest | None = None
) -> Any:
    """Close the run with its yield; commits consumption and stocks good output, once."""
    body = body or CompleteRequest()
    result = milestones.complete(
        session,
        run_id,
        actor=partner.actor,
        partner_id=_partner_id(partner),
        produced_quantity=body.produced_quantity,
        rejected_quantity=body.rejected_quantity,
        rejection_reason=body.rejection_reason,
        rejection_notes=body.rejection_notes,
        notes=body.notes,
        allow_shortfall=body.allow_shortfall,
        consumptions=body.consumptions,
    )
    return completion_out(result)


def logs_out(rows: list[Any], count: int, limit: int, offset: int) -> dict[str, Any]:
    return {
        "consumption_logs": [
            ConsumptionLogRead.model_validate(r).model_dump(mode="json") for r in rows
        ],
        "count": count,
        "limit": limit,
        "offset": offset,
    }


@dataclass(frozen=True, slots=True)
class LogFilters:
    consumption_type: ConsumptionType | None
    committed: bool | None
    limit: int
    offset: int

    def page(
        self, session: DbSession, *, run_id: str | None = None, design_id: str | None = None
    ) -> dict[str, Any]:
        """One page of consumption logs of a run or a design, in the list envelope."""
        rows, count = consumption.list_consumption(
            session,
            run_id=run_id,
            design_id=design_id,
            consumption_type=self.consumption_type,
            committed=self.committed,
            limit=self.limit,
            offset=self.offset,
        )
        return logs_out(rows, count, self.limit, self.offset)


async def _log_filters(
    consumption_type: ConsumptionType | None = None,
    committed: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LogFilters:
    return LogFilters(consumption_type, committed, limit, offset)


# Query parameters shared by every consumption-log list (partner and admin routes).
LogQuery = Annotated[LogFilters, Depends(_log_filters)]


@router.get("/{run_id}/consumption-logs")
def list_consumption_logs(
    run_id: str, session: DbSession, partner: PartnerPrincipal, filters: LogQuery
) -> Any:
    """The run's consumption logs (filters consumption_type, committed)."""
    partner_views.visible_run(session, run_id, _partner_id(partner))
    return filters.page(session, run_id=run_id)


@router.post("/{run_id}/consumption-logs", status_code=status.HTTP_201_CREATED)
def create_consumption_log(
    run_id: str, body: ConsumptionCreate, session: DbSession, partner: PartnerPrincipal
) -> Any:
    """Log material used while the run is in progress; stock moves when the run completes."""
    run = milestones.owned_run(session, run_id, _partner_id(partner))
    row = consumption.log_consumption(session, run, body, actor=partner.actor, locked=True)
    return {"consumption_log": ConsumptionLogRead.model_validate(row).model_dump(mode="json")}
