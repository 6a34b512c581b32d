"""Admin production-runs API: create, read, list, approve, edit, cancel, reassign, audit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.production import service, transitions
from atelier.production.schemas import (
    ApproveRequest,
    Assignment,
    DesignRunsCreate,
    ProductionRunCreate,
    ProductionRunRead,
)

router = APIRouter(prefix="/admin", tags=["production-runs"])


def _run_out(run: Any) -> dict[str, Any]:
    return ProductionRunRead.model_validate(run).model_dump(mode="json")


def _specs(assignments: list[Assignment] | None) -> list[service.AssignmentSpec]:
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


def _approval_out(result: service.ApprovalResult) -> dict[str, Any]:
    return {
        "production_run": _run_out(result.run),
        "children": [_run_out(child) for child in result.children],
        "dispatch": result.dispatch.as_dict(),
    }


@router.post("/production-runs", status_code=status.HTTP_201_CREATED)
def create_run(body: ProductionRunCreate, session: DbSession, admin: AdminPrincipal) -> Any:
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
    return {"production_run": _run_out(run)}


@router.get("/production-runs/{run_id}")
def get_run(run_id: str, session: DbSession, admin: AdminPrincipal) -> Any:
    """One run."""
    run = transitions.get_run(session, run_id)
    return {"production_run": _run_out(run)}


@router.post("/production-runs/{run_id}/approve")
def approve_run(
    run_id: str, session: DbSession, admin: AdminPrincipal, body: ApproveRequest | None = None
) -> Any:
    """Approve; with ``assignments`` split into approved children (dispatching those it can)."""
    body = body or ApproveRequest()
    result = service.approve_run(
        session,
        run_id,
        actor=admin.actor,
        assignments=_specs(body.assignments),
        template_names=body.template_names,
        template_ids=body.template_ids,
    )
    return _approval_out(result)


@router.post("/designs/{design_id}/production-runs", status_code=status.HTTP_201_CREATED)
def create_design_runs(
    design_id: str, body: DesignRunsCreate, session: DbSession, admin: AdminPrincipal
) -> Any:
    """A parent run for the design, approved and split when ``assignments`` are given."""
    result = service.create_design_runs(
        session,
        design_id,
        actor=admin.actor,
        quantity=body.quantity,
        run_type=body.run_type,
        assignments=_specs(body.assignments),
        metadata=body.metadata,
    )
    return _approval_out(result)
