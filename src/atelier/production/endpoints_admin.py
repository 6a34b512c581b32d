"""Admin production-runs API: create, read, list, export, approve, edit, cancel, reassign, audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, status
from fastapi.responses import Response, StreamingResponse
from pydantic import AfterValidator

from atelier.audit import service as audit
from atelier.platform.db import Database
from atelier.platform.deps import AdminPrincipal, DbSession, get_database
from atelier.platform.errors import Invalid, PlatformCode
from atelier.platform.hotpath import bounded_read, hot
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.rows import json_response
from atelier.platform.schemas import EntityId, no_nul
from atelier.production import export, repository, service, transitions, views
from atelier.production.lifecycle import RunStatus
from atelier.production.models import RunType
from atelier.production.schemas import (
    AlreadyCancelledResponse,
    ApprovalResponse,
    ApproveRequest,
    Assignment,
    CancelRequest,
    CancelResponse,
    DesignRunsCreate,
    DispatchReport,
    NoteRequest,
    ProductionRunCreate,
    ProductionRunDependencies,
    ProductionRunDetailEnvelope,
    ProductionRunEnvelope,
    ProductionRunList,
    ProductionRunUpdate,
    ReassignRequest,
    ReassignResponse,
    RunEventEnvelope,
    RunEventRead,
    RunEventsResponse,
)

router = APIRouter(prefix="/admin", tags=["production-runs"])

SearchText = Annotated[str, Query(max_length=200), AfterValidator(no_nul)]
SortParam = Annotated[str, Query(max_length=32, pattern=r"^-?[a-z_]+$")]


def assignment_specs(assignments: list[Assignment] | None) -> list[service.AssignmentSpec]:
    """Request assignments as the service's specs (the web app's approve form uses it too)."""
    return [
        service.AssignmentSpec(
            partner_id=a.partner_id,
            quantity=a.quantity,
            role=a.role,
            order=a.order,
            template_names=tuple(a.template_names or ()),
            template_ids=tuple(a.template_ids or ()),
        )
        for a in assignments or []
    ]


def _approval_out(result: service.ApprovalResult) -> ApprovalResponse:
    return ApprovalResponse(
        production_run=views.run_read(result.run),
        children=[views.run_read(child) for child in result.children],
        dispatch=DispatchReport.model_validate(result.dispatch.as_dict()),
    )


def parse_filters(
    *,
    status_: list[str] | None = None,
    partner_id: str | None = None,
    design_id: str | None = None,
    order_id: str | None = None,
    run_type: RunType | None = None,
    parent_run_id: str | None = None,
    include_children: bool = False,
    q: str | None = None,
    sort: str = "-created_at",
) -> repository.RunFilters:
    """The list filters from their query values (the JSON list, the CSV export and the admin
    pages refuse the same values the same way)."""
    statuses: list[str] = []
    for raw in status_ or []:
        for part in raw.split(","):
            value = part.strip()
            if not value:
                continue
            try:
                statuses.append(RunStatus(value).value)
            except ValueError as exc:
                allowed = ", ".join(s.value for s in RunStatus)
                raise Invalid(
                    f"status: unknown status {value!r} (one of: {allowed})",
                    code=PlatformCode.VALIDATION_ERROR,
                ) from exc
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in repository.SORTS:
        allowed = ", ".join(repository.SORTS)
        raise Invalid(
            f"sort: must be one of {allowed} (prefix - for descending)",
            code=PlatformCode.VALIDATION_ERROR,
        )
    return repository.RunFilters(
        statuses=tuple(dict.fromkeys(statuses)),
        partner_id=partner_id,
        design_id=design_id,
        order_id=order_id,
        run_type=run_type.value if run_type else None,
        parent_run_id=parent_run_id,
        include_children=include_children,
        q=(q or "").strip() or None,
        sort=key,
        descending=descending,
    )


# ``async``: pure computation, so FastAPI calls it on the loop (no worker-thread hop).
async def list_filters(
    status_: Annotated[list[str] | None, Query(alias="status", max_length=20)] = None,
    partner_id: Annotated[EntityId | None, Query()] = None,
    design_id: Annotated[EntityId | None, Query()] = None,
    order_id: Annotated[EntityId | None, Query()] = None,
    run_type: Annotated[RunType | None, Query()] = None,
    parent_run_id: Annotated[EntityId | None, Query()] = None,
    include_children: bool = False,
    q: SearchText | None = None,
    sort: SortParam = "-created_at",
) -> repository.RunFilters:
    """Query parameters shared by the JSON list and the CSV export."""
    return parse_filters(
        status_=status_,
        partner_id=partner_id,
        design_id=design_id,
        order_id=order_id,
        run_type=run_type,
        parent_run_id=parent_run_id,
        include_children=include_children,
        q=q,
        sort=sort,
    )


Filters = Annotated[repository.RunFilters, Depends(list_filters)]


@router.get("/production-runs", response_model=ProductionRunList)
@hot
def list_runs(
    filters: Filters,
    session: DbSession,
    admin: AdminPrincipal,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Runs (top-level unless ``parent_run_id``/``include_children``), filtered and searched.

    Two statements (count, page) and one serialisation: the JSON is built from plain rows and
    sent as is (``ProductionRunList`` stays the documented contract)."""
    rows, count = repository.list_page(session, filters, limit=limit, offset=offset)
    body = views.list_json(rows, count, limit=limit, offset=offset)
    return Response(content=body, media_type="application/json")


@router.get("/production-runs/export.csv")
def export_runs(
    filters: Filters, admin: AdminPrincipal, database: Annotated[Database, Depends(get_database)]
) -> StreamingResponse:
    """The filtered list as CSV (header row first), streamed in batches."""
    return StreamingResponse(
        export.csv_stream(database, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="production-runs.csv"'},
    )


@router.post(
    "/production-runs", status_code=status.HTTP_201_CREATED, response_model=ProductionRunEnvelope
)
def create_run(
    body: ProductionRunCreate, session: DbSession, admin: AdminPrincipal
) -> ProductionRunEnvelope:
    """Create a run in ``pending_review`` with a snapshot of the design."""
    run = service.create_run(
        session,
        design_id=body.design_id,
        actor=admin.actor,
        partner_id=body.partner_id,
        quantity=body.quantity,
        run_type=body.run_type,
        role=body.role,
        product_id=body.product_id,
        variant_id=body.variant_id,
        order_id=body.order_id,
        order_line_item_id=body.order_line_item_id,
        metadata=body.metadata,
    )
    return ProductionRunEnvelope(production_run=views.run_read(run))


@router.get("/production-runs/{run_id}", response_model=ProductionRunDetailEnvelope)
@hot
@bounded_read
def get_run(run_id: IdPath, session: DbSession, admin: AdminPrincipal) -> Response:
    """One run with partner, parent, children, tasks, the auto-approval evaluation and the
    verbs the lifecycle allows now (``allowed_actions``)."""
    return json_response({"production_run": views.run_detail_body(session, run_id)})


@router.post("/production-runs/{run_id}", response_model=ProductionRunEnvelope)
def update_run(
    run_id: IdPath, body: ProductionRunUpdate, session: DbSession, admin: AdminPrincipal
) -> ProductionRunEnvelope:
    """Edit quantity/role/run_type (before acceptance), metadata, cost estimate and type."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("quantity", "role", "run_type"):
        if name in changes and changes[name] is None:
            raise Invalid(f"{name}: may not be null", code=PlatformCode.VALIDATION_ERROR)
    if "run_type" in changes:
        changes["run_type"] = str(changes["run_type"])
    if "cost_type" in changes and changes["cost_type"] is not None:
        changes["cost_type"] = str(changes["cost_type"])
    run = service.update_run(session, run_id, changes=changes, actor=admin.actor)
    return ProductionRunEnvelope(production_run=views.run_read(run))


@router.post("/production-runs/{run_id}/approve", response_model=ApprovalResponse)
def approve_run(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal, body: ApproveRequest | None = None
) -> ApprovalResponse:
    """Approve; with ``assignments`` split into approved children (dispatching those it can)."""
    body = body or ApproveRequest()
    result = service.approve_run(
        session,
        run_id,
        actor=admin.actor,
        assignments=assignment_specs(body.assignments),
        template_names=body.template_names,
        template_ids=body.template_ids,
    )
    return _approval_out(result)


@router.post(
    "/designs/{design_id}/production-runs",
    status_code=status.HTTP_201_CREATED,
    response_model=ApprovalResponse,
)
def create_design_runs(
    design_id: IdPath, body: DesignRunsCreate, session: DbSession, admin: AdminPrincipal
) -> ApprovalResponse:
    """A parent run for the design, approved and split when ``assignments`` are given."""
    result = service.create_design_runs(
        session,
        design_id,
        actor=admin.actor,
        quantity=body.quantity,
        run_type=body.run_type,
        assignments=assignment_specs(body.assignments),
        metadata=body.metadata,
    )
    return _approval_out(result)


@router.post(
    "/production-runs/{run_id}/cancel",
    response_model=CancelResponse | AlreadyCancelledResponse,
)
def cancel_run(
    run_id: IdPath, session: DbSession, admin: AdminPrincipal, body: CancelRequest | None = None
) -> CancelResponse | AlreadyCancelledResponse:
    """Cancel the run, its open tasks and unfinished children; twice → "Already cancelled"."""
    reason = body.reason if body else None
    run, children, message = service.cancel_run(session, run_id, admin.actor, reason)
    if message == service.ALREADY_CANCELLED:
        return AlreadyCancelledResponse(message=message, production_run=views.run_read(run))
    return CancelResponse(
        production_run=views.run_read(run),
        cancelled_children=[views.run_read(child) for child in children],
        message=message,
    )


@router.post("/production-runs/{run_id}/reassign", response_model=ReassignResponse)
@router.post("/production-runs/{run_id}/assign-partner", response_model=ReassignResponse)
def reassign_run(
    run_id: IdPath, body: ReassignRequest, session: DbSession, admin: AdminPrincipal
) -> ReassignResponse:
    """Give the run to a partner: → approved, dispatch and reminder state reset."""
    result = service.reassign_run(
        session, run_id, partner_id=body.partner_id, actor=admin.actor, note=body.note
    )
    return ReassignResponse(
        production_run=views.run_read(result.run),
        previous_partner_id=result.previous_partner_id,
        same_partner=result.same_partner,
    )


@router.get("/production-runs/{run_id}/events", response_model=RunEventsResponse)
def run_events(
    run_id: IdPath,
    session: DbSession,
    admin: AdminPrincipal,
    limit: Limit = 200,
    offset: Offset = 0,
) -> RunEventsResponse:
    """The run's audit timeline, newest first."""
    transitions.get_run(session, run_id)
    events = audit.timeline(session, run_id, limit=limit, offset=offset)
    return RunEventsResponse(events=[RunEventRead.model_validate(e) for e in events])


@router.post(
    "/production-runs/{run_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=RunEventEnvelope,
)
def add_note(
    run_id: IdPath, body: NoteRequest, session: DbSession, admin: AdminPrincipal
) -> RunEventEnvelope:
    """Add a note to the run's timeline (RunEvent kind ``note``)."""
    event = service.add_note(session, run_id, note=body.note, actor=admin.actor)
    return RunEventEnvelope(event=RunEventRead.model_validate(event))


@router.post("/production-runs/{run_id}/dependencies", response_model=ProductionRunEnvelope)
def relink_run(
    run_id: IdPath, body: ProductionRunDependencies, session: DbSession, admin: AdminPrincipal
) -> ProductionRunEnvelope:
    """Re-link: replace the sibling runs this run waits on (before the partner accepts)."""
    run = service.relink_run(
        session, run_id, depends_on_run_ids=body.depends_on_run_ids, actor=admin.actor
    )
    return ProductionRunEnvelope(production_run=views.run_read(run))
