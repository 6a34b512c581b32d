"""Admin inventory API: items, stock locations, levels and the movement ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from atelier.inventory import service
from atelier.inventory.models import InventoryLevel, StockLocation
from atelier.inventory.schemas import (
    InventoryItemCreate,
    InventoryItemDetail,
    InventoryItemDetailEnvelope,
    InventoryItemEnvelope,
    InventoryItemList,
    InventoryItemOut,
    InventoryItemUpdate,
    InventoryLevelEnvelope,
    InventoryLevelList,
    InventoryLevelOut,
    InventoryLevelRow,
    InventoryMovementList,
    InventoryMovementOut,
    LevelSet,
    LocationKindName,
    ReasonName,
    StockLocationCreate,
    StockLocationEnvelope,
    StockLocationList,
    StockLocationOut,
)
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import EntityId, ShortText

router = APIRouter(prefix="/admin", tags=["inventory"])

IdFilter = Annotated[EntityId | None, Query()]


def _level_out(level: InventoryLevel, location: StockLocation) -> InventoryLevelOut:
    out = InventoryLevelOut.model_validate(level)
    out.location_name = location.name
    out.location_kind = location.kind
    return out


@router.post(
    "/inventory-items",
    status_code=status.HTTP_201_CREATED,
    response_model=InventoryItemEnvelope,
)
def create_item(
    body: InventoryItemCreate, session: DbSession, _admin: AdminPrincipal
) -> InventoryItemEnvelope:
    """Create an inventory item (sku unique → 409 ``sku_taken``)."""
    item = service.create_item(
        session,
        sku=body.sku,
        title=body.title,
        unit_of_measure=body.unit_of_measure,
        metadata=body.metadata,
    )
    return InventoryItemEnvelope(inventory_item=InventoryItemOut.model_validate(item))


@router.get("/inventory-items", response_model=InventoryItemList)
def list_items(
    session: DbSession,
    _admin: AdminPrincipal,
    q: Annotated[ShortText | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InventoryItemList:
    """Items ordered by sku; ``q`` matches sku or title, case-insensitively."""
    items, count = service.list_items(session, q=q, limit=limit, offset=offset)
    return InventoryItemList.of(items, count, limit=limit, offset=offset)


@router.get("/inventory-items/{item_id}", response_model=InventoryItemDetailEnvelope)
def get_item(
    item_id: IdPath, session: DbSession, _admin: AdminPrincipal
) -> InventoryItemDetailEnvelope:
    """One item with its level per location and its most recent movements (newest first)."""
    item = service.get_item(session, item_id)
    base = InventoryItemOut.model_validate(item)
    detail = InventoryItemDetail(
        **base.model_dump(),
        levels=[_level_out(v.level, v.location) for v in service.item_levels(session, item_id)],
        movements=[
            InventoryMovementOut.model_validate(m)
            for m in service.recent_movements(session, item_id)
        ],
    )
    return InventoryItemDetailEnvelope(inventory_item=detail)


@router.post("/inventory-items/{item_id}", response_model=InventoryItemDetailEnvelope)
def update_item(
    item_id: IdPath, body: InventoryItemUpdate, session: DbSession, admin: AdminPrincipal
) -> InventoryItemDetailEnvelope:
    """Change an item's sku, title, unit of measure or metadata (levels are set separately)."""
    service.update_item(session, item_id, changes=body.model_dump(exclude_unset=True))
    return get_item(item_id, session, admin)


@router.get("/inventory-levels", response_model=InventoryLevelList)
def list_levels(
    session: DbSession,
    _admin: AdminPrincipal,
    location_id: IdFilter = None,
    inventory_item_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InventoryLevelList:
    """Levels with item sku/title, ordered by location name then sku (what is on each shelf)."""
    rows, count = service.list_levels(
        session,
        location_id=location_id,
        inventory_item_id=inventory_item_id,
        limit=limit,
        offset=offset,
    )
    levels = []
    for level, item, location in rows:
        row = InventoryLevelRow(
            **_level_out(level, location).model_dump(),
            sku=item.sku,
            title=item.title,
            unit_of_measure=item.unit_of_measure,
        )
        levels.append(row)
    return InventoryLevelList.of(levels, count, limit=limit, offset=offset)


@router.post("/inventory-items/{item_id}/levels", response_model=InventoryLevelEnvelope)
def set_level(
    item_id: IdPath,
    body: LevelSet,
    session: DbSession,
    admin: AdminPrincipal,
    response: Response,
) -> InventoryLevelEnvelope:
    """Set a counted level: 201 when the level is new, 200 otherwise; writes an adjustment."""
    result = service.set_level(
        session,
        item_id=item_id,
        location_id=body.location_id,
        stocked_quantity=body.stocked_quantity,
        actor=admin.actor,
        note=body.note,
    )
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    movement = InventoryMovementOut.model_validate(result.movement) if result.movement else None
    return InventoryLevelEnvelope(
        inventory_level=_level_out(result.level, result.location), movement=movement
    )


@router.post(
    "/stock-locations",
    status_code=status.HTTP_201_CREATED,
    response_model=StockLocationEnvelope,
)
def create_location(
    body: StockLocationCreate, session: DbSession, _admin: AdminPrincipal
) -> StockLocationEnvelope:
    """Create a stock location (a warehouse, a partner's location, or the finished-goods one)."""
    location = service.create_location(
        session, name=body.name, partner_id=body.partner_id, kind=body.kind
    )
    return StockLocationEnvelope(stock_location=StockLocationOut.model_validate(location))


@router.get("/stock-locations", response_model=StockLocationList)
def list_locations(
    session: DbSession,
    _admin: AdminPrincipal,
    kind: Annotated[LocationKindName | None, Query()] = None,
    partner_id: IdFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> StockLocationList:
    """Stock locations ordered by name, optionally filtered by kind or partner."""
    rows, count = service.list_locations(
        session, kind=kind, partner_id=partner_id, limit=limit, offset=offset
    )
    return StockLocationList.of(rows, count, limit=limit, offset=offset)


@router.get("/stock-locations/{location_id}", response_model=StockLocationEnvelope)
def get_location(
    location_id: IdPath, session: DbSession, _admin: AdminPrincipal
) -> StockLocationEnvelope:
    """One stock location."""
    location = service.get_location(session, location_id)
    return StockLocationEnvelope(stock_location=StockLocationOut.model_validate(location))


@router.get("/inventory-movements", response_model=InventoryMovementList)
def list_movements(
    session: DbSession,
    _admin: AdminPrincipal,
    inventory_item_id: IdFilter = None,
    location_id: IdFilter = None,
    production_run_id: IdFilter = None,
    reason: Annotated[ReasonName | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InventoryMovementList:
    """The movement ledger, newest first."""
    rows, count = service.list_movements(
        session,
        inventory_item_id=inventory_item_id,
        location_id=location_id,
        production_run_id=production_run_id,
        reason=reason,
        limit=limit,
        offset=offset,
    )
    return InventoryMovementList.of(rows, count, limit=limit, offset=offset)
