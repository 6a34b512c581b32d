"""Partner design API (read-only): ``GET /partners/designs`` and ``GET /partners/designs/:id``.

A partner sees the designs it is linked to, with the fields a workshop needs (specs, colors,
sizes, media, bill of materials) and none of the brand's internal metadata. There are no write
routes here: the old ``/partners/designs/:id/start|finish|...`` flow is replaced by runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import func, select

from atelier.catalog import service
from atelier.catalog.models import Design, DesignPartner, DesignStatus
from atelier.platform.deps import DbSession, PartnerPrincipal
from atelier.platform.errors import not_found
from atelier.platform.schemas import OutputSchema

router = APIRouter(prefix="/partners/designs", tags=["partner designs"])


class PartnerBomLine(OutputSchema):
    inventory_item_id: str
    sku: str | None
    title: str | None
    unit_of_measure: str | None
    planned_quantity: float


class PartnerDesignSummary(OutputSchema):
    id: str
    name: str
    description: str | None
    status: str
    thumbnail_url: str | None
    media_files: list[Any]
    specifications: dict[str, Any]
    colors: list[Any]
    sizes: list[Any]
    moodboard: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PartnerDesign(PartnerDesignSummary):
    bom: list[PartnerBomLine]


class PartnerDesignEnvelope(OutputSchema):
    design: PartnerDesign


class PartnerDesignList(OutputSchema):
    designs: list[PartnerDesignSummary]
    count: int
    limit: int
    offset: int


def _escape_like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("", response_model=PartnerDesignList)
def list_partner_designs(
    principal: PartnerPrincipal,
    session: DbSession,
    status: DesignStatus | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PartnerDesignList:
    """Designs the calling partner is linked to, newest first."""
    linked = select(DesignPartner.design_id).where(DesignPartner.partner_id == principal.partner_id)
    query = select(Design).where(Design.id.in_(linked))
    if status is not None:
        query = query.where(Design.status == status.value)
    if q:
        query = query.where(func.lower(Design.name).like(_escape_like(q), escape="\\"))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Design.created_at.desc(), Design.id.desc()).limit(limit).offset(offset)
    )
    return PartnerDesignList(
        designs=[PartnerDesignSummary.model_validate(d) for d in rows],
        count=count,
        limit=limit,
        offset=offset,
    )


@router.get("/{design_id}", response_model=PartnerDesignEnvelope)
def get_partner_design(
    design_id: Annotated[str, Path(min_length=1, max_length=64)],
    principal: PartnerPrincipal,
    session: DbSession,
) -> PartnerDesignEnvelope:
    """One linked design with its bill of materials; 404 when unknown or not linked."""
    if not service.partner_can_view_design(session, design_id, principal.partner_id or ""):
        raise not_found("design", design_id)
    design = service.get_design(session, design_id)
    snapshot = service.design_snapshot(session, design)
    out = PartnerDesignSummary.model_validate(design).model_dump()
    return PartnerDesignEnvelope(design=PartnerDesign(**out, bom=snapshot["bom"]))
