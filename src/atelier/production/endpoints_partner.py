"""Partner runs API: read, milestones (accept/decline/start/finish/progress/complete), consumption.

Every route is scoped to the caller's partner: a foreign or partner-less run answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Response, status

from atelier.inventory import consumption as inventory_consumption
from atelier.inventory.consumption_schemas import (
    ConsumptionCreate,
    ConsumptionLogEnvelope,
    ConsumptionLogList,
    ConsumptionLogRead,
)
from atelier.inventory.models import ConsumptionType
from atelier.platform.deps import DbSession, PartnerPrincipal, answer_committed
from atelier.platform.hotpath import bounded_read, hot
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.rows import json_response
from atelier.production import consumption, milestones, partner_views
from atelier.production.completion import CompletionResult
from atelier.production.lifecycle import RunStatus
from atelier.production.lifecycle_schemas import (
    CompleteRequest,
    CompleteResponse,
    FinishRequest,
    PartnerRunEnvelope,
    PartnerRunList,
    ProgressRequest,
)
from atelier.production.milestones import RunBody
from atelier.production.models import ProductionRun, RunType
from atelier.production.schemas import DeclineRequest, MessageRunResponse, ProductionRunRead

router = APIRouter(prefix="/partners/production-runs", tags=["partner production runs"])


def _partner_id(partner: PartnerPrincipal) -> str:
    # require_partner always resolves a partner; the assert narrows the type for mypy.
    assert partner.partner_id is not None
    return partner.partner_id


def milestone_out(run: RunBody, message: str) -> Response:
    """``MessageRunResponse`` from a milestone's run (its ``ProductionRunRead`` dict), encoded
    once: no model is built or validated (the bytes are FastAPI's for the validated model)."""
    return json_response({"production_run": run, "message": message})


def orm_milestone_out(run: ProductionRun, message: str) -> Response:
    """``MessageRunResponse`` built from an ORM run and encoded once (FastAPI would validate it
    a second time and encode it through ``jsonable_encoder``; the bytes are the same)."""
    body = MessageRunResponse(production_run=ProductionRunRead.model_validate(run), message=message)
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


@router.get("", response_model=PartnerRunList)
@hot
def list_runs(
    session: DbSession,
    partner: PartnerPrincipal,
    status: RunStatus | None = None,
    run_type: RunType | None = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The caller's runs (filters status, run_type, role) with design and task progress."""
    listing = partner_views.partner_runs_body(
        session,
        _partner_id(partner),
        status=status,
        run_type=run_type,
        role=role,
        limit=limit,
        offset=offset,
    )
    return json_response(listing)


@router.get("/{run_id}", response_model=PartnerRunEnvelope)
@hot
@bounded_read
def get_run(run_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> Response:
    """One of the caller's runs with design, snapshot, tasks, progress, related runs and the
    verbs the partner may use now (``allowed_actions``)."""
    detail = partner_views.partner_run_body(session, run_id, _partner_id(partner))
    return json_response(detail)


@router.post("/{run_id}/accept", response_model=MessageRunResponse)
def accept(run_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> Response:
    """sent_to_partner → in_progress."""
    run, message = milestones.accept_run(
        session, run_id, actor=partner.actor, partner_id=_partner_id(partner)
    )
    return answer_committed(session, milestone_out(run, message))


@router.post("/{run_id}/decline", response_model=MessageRunResponse)
def decline(
    run_id: IdPath, body: DeclineRequest, session: DbSession, partner: PartnerPrincipal
) -> Response:
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
    return answer_committed(session, orm_milestone_out(run, message))


@router.post("/{run_id}/start", response_model=MessageRunResponse)
def start(run_id: IdPath, session: DbSession, partner: PartnerPrincipal) -> Response:
    """Stamp started_at (a sample run's design → In_Development)."""
    run, message = milestones.start_run(
        session, run_id, actor=partner.actor, partner_id=_partner_id(partner)
    )
    return answer_committed(session, milestone_out(run, message))


@router.post("/{run_id}/finish", response_model=MessageRunResponse)
def finish(
    run_id: IdPath,
    session: DbSession,
    partner: PartnerPrincipal,
    body: FinishRequest | None = None,
) -> Response:
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
    return answer_committed(session, milestone_out(run, message))


@router.post("/{run_id}/progress", response_model=MessageRunResponse)
def progress(
    run_id: IdPath, body: ProgressRequest, session: DbSession, partner: PartnerPrincipal
) -> Response:
    """Record the pieces produced so far."""
    run, message = milestones.record_progress(
        session,
        run_id,
        actor=partner.actor,
        produced_quantity=body.produced_quantity,
        partner_id=_partner_id(partner),
    )
    return answer_committed(session, milestone_out(run, message))


def completion_out(result: CompletionResult) -> CompleteResponse:
    return CompleteResponse(
        production_run=ProductionRunRead.model_validate(result.run),
        consumptions_logged=result.consumptions_logged,
        consumptions_committed=result.consumptions_committed,
        message=result.message,
    )


@router.post("/{run_id}/complete", response_model=CompleteResponse)
def complete(
    run_id: IdPath,
    session: DbSession,
    partner: PartnerPrincipal,
    body: CompleteRequest | None = None,
) -> CompleteResponse:
    """Close the run with its yield; commits consumption and stocks good output, once."""
    result = milestones.complete_as_requested(
        session,
        run_id,
        body or CompleteRequest(),
        actor=partner.actor,
        partner_id=_partner_id(partner),
    )
    return completion_out(result)


@dataclass(frozen=True, slots=True)
class LogFilters:
    consumption_type: ConsumptionType | None
    committed: bool | None
    limit: int
    offset: int

    def page(
        self, session: DbSession, *, run_id: str | None = None, design_id: str | None = None
    ) -> ConsumptionLogList:
        """One page of consumption logs of a run or a design, in the list envelope."""
        rows, count = inventory_consumption.list_consumption(
            session,
            run_id=run_id,
            design_id=design_id,
            consumption_type=self.consumption_type,
            committed=self.committed,
            limit=self.limit,
            offset=self.offset,
        )
        return ConsumptionLogList.of(rows, count, limit=self.limit, offset=self.offset)


async def _log_filters(
    consumption_type: ConsumptionType | None = None,
    committed: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LogFilters:
    return LogFilters(consumption_type, committed, limit, offset)


# Query parameters shared by every consumption-log list (partner and admin routes).
LogQuery = Annotated[LogFilters, Depends(_log_filters)]


@router.get("/{run_id}/consumption-logs", response_model=ConsumptionLogList)
def list_consumption_logs(
    run_id: IdPath, session: DbSession, partner: PartnerPrincipal, filters: LogQuery
) -> ConsumptionLogList:
    """The run's consumption logs (filters consumption_type, committed)."""
    partner_views.visible_run(session, run_id, _partner_id(partner))
    return filters.page(session, run_id=run_id)


@router.post(
    "/{run_id}/consumption-logs",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsumptionLogEnvelope,
)
def create_consumption_log(
    run_id: IdPath, body: ConsumptionCreate, session: DbSession, partner: PartnerPrincipal
) -> ConsumptionLogEnvelope:
    """Log material used while the run is in progress; stock moves when the run completes."""
    run = milestones.owned_run(session, run_id, _partner_id(partner))
    row = consumption.log_consumption(session, run, body, actor=partner.actor, locked=True)
    return ConsumptionLogEnvelope(consumption_log=ConsumptionLogRead.model_validate(row))
