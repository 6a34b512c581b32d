"""Partner design API (read-only): ``GET /partners/designs`` and ``GET /partners/designs/:id``.

A partner sees the designs it is linked to, with the fields a workshop needs (specs, colors,
sizes, media, bill of materials) and none of the brand's internal metadata. There are no write
routes here: the old ``/partners/designs/:id/start|finish|...`` flow is replaced by runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import Field

from atelier.catalog import service
from atelier.catalog.models import DesignStatus
from atelier.catalog.schemas import DesignFields
from atelier.platform.deps import DbSession, PartnerPrincipal
from atelier.platform.errors import not_found
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import ListEnvelope, OutputSchema

router = APIRouter(prefix="/partners/designs", tags=["partner designs"])


class PartnerBomLine(OutputSchema):
    inventory_item_id: str
    sku: str | None
    title: str | None
    unit_of_measure: str | None
    planned_quantity: float


class PartnerDesignSummary(DesignFields):
    created_at: datetime
    updated_at: datetime


class PartnerDesign(PartnerDesignSummary):
    bom: list[PartnerBomLine]


class PartnerDesignEnvelope(OutputSchema):
    design: PartnerDesign


class PartnerDesignList(ListEnvelope[PartnerDesignSummary]):
    items: list[PartnerDesignSummary] = Field(alias="designs")


@router.get("", response_model=PartnerDesignList)
def list_partner_designs(
    principal: PartnerPrincipal,
    session: DbSession,
    status: DesignStatus | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PartnerDesignList:
    """Designs the calling partner is linked to, newest first."""
    assert principal.partner_id is not None  # guaranteed by require_partner
    rows, count = service.partner_designs(
        session,
        principal.partner_id,
        status=status.value if status else None,
        q=q,
        limit=limit,
        offset=offset,
    )
    return PartnerDesignList.of(rows, count, limit=limit, offset=offset)


@router.get("/{design_id}", response_model=PartnerDesignEnvelope)
def get_partner_design(
    design_id: IdPath,
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
