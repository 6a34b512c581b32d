"""Admin API for designs (with bill of materials) and products."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response
from pydantic import AfterValidator

from atelier.catalog import service
from atelier.catalog.models import DesignStatus
from atelier.catalog.schemas import (
    BomUpsert,
    DesignCreate,
    DesignEnvelope,
    DesignList,
    DesignSort,
    DesignUpdate,
    ProductCreate,
    ProductEnvelope,
    ProductList,
    ProductRead,
)
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.hotpath import bounded_read, hot
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.rows import json_response
from atelier.platform.schemas import no_nul

SearchText = Annotated[
    str | None, Query(max_length=200, description="Search text"), AfterValidator(no_nul)
]

router = APIRouter(prefix="/admin", tags=["catalog"])


def _design_envelope(session: DbSession, design_id: str) -> DesignEnvelope:
    design = service.get_design(session, design_id)
    return DesignEnvelope.model_validate({"design": service.design_detail(session, design)})


@router.post("/designs", status_code=201, response_model=DesignEnvelope)
def create_design(body: DesignCreate, session: DbSession, _: AdminPrincipal) -> DesignEnvelope:
    """Create a design."""
    design = service.create_design(session, body)
    return _design_envelope(session, design.id)


@router.get("/designs", response_model=DesignList)
def list_designs(
    session: DbSession,
    _: AdminPrincipal,
    status: Annotated[DesignStatus | None, Query()] = None,
    q: SearchText = None,
    sort: Annotated[DesignSort, Query()] = "-created_at",
    partner_id: Annotated[str | None, Query(max_length=64), AfterValidator(no_nul)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DesignList:
    """List designs (filter by status or linked partner, search the name; newest first)."""
    rows, count = service.list_designs(
        session, status=status, q=q, sort=sort, limit=limit, offset=offset, partner_id=partner_id
    )
    return DesignList.of(rows, count, limit=limit, offset=offset)


@router.get("/designs/{design_id}", response_model=DesignEnvelope)
@hot
@bounded_read
def get_design(design_id: IdPath, session: DbSession, _: AdminPrincipal) -> Response:
    """A design with its bill of materials and linked partners."""
    return json_response({"design": service.design_read(session, design_id)})


@router.post("/designs/{design_id}", response_model=DesignEnvelope)
def update_design(
    design_id: IdPath, body: DesignUpdate, session: DbSession, _: AdminPrincipal
) -> DesignEnvelope:
    """Change the fields sent."""
    service.update_design(session, design_id, body)
    return _design_envelope(session, design_id)


@router.post("/designs/{design_id}/inventory", response_model=DesignEnvelope)
def upsert_bom(
    design_id: IdPath, body: BomUpsert, session: DbSession, _: AdminPrincipal
) -> DesignEnvelope:
    """Add or update bill-of-materials lines (all or nothing)."""
    service.upsert_bom(session, design_id, body)
    return _design_envelope(session, design_id)


@router.delete("/designs/{design_id}/inventory/{item_id}", response_model=DesignEnvelope)
def remove_bom_line(
    design_id: IdPath, item_id: IdPath, session: DbSession, _: AdminPrincipal
) -> DesignEnvelope:
    """Remove one bill-of-materials line."""
    service.remove_bom_line(session, design_id, item_id)
    return _design_envelope(session, design_id)


@router.post("/products", status_code=201, response_model=ProductEnvelope)
def create_product(body: ProductCreate, session: DbSession, _: AdminPrincipal) -> ProductEnvelope:
    """Create a product with its variants."""
    product = service.create_product(session, body)
    return ProductEnvelope(product=ProductRead.model_validate(product))


@router.get("/products", response_model=ProductList)
def list_products(
    session: DbSession,
    _: AdminPrincipal,
    design_id: Annotated[str | None, Query(max_length=64), AfterValidator(no_nul)] = None,
    q: SearchText = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ProductList:
    """List products with their variants (filter by design, search the title)."""
    rows, count = service.list_products(
        session, design_id=design_id, q=q, limit=limit, offset=offset
    )
    return ProductList.of(rows, count, limit=limit, offset=offset)


@router.get("/products/{product_id}", response_model=ProductEnvelope)
def get_product(product_id: IdPath, session: DbSession, _: AdminPrincipal) -> ProductEnvelope:
    """A product with its variants."""
    product = service.get_product(session, product_id)
    return ProductEnvelope(product=ProductRead.model_validate(product))
