"""Inventory rules: items, stock locations, levels and the append-only movement ledger.

Every change of a level goes through :func:`move_stock`, which writes exactly one movement
explaining it. Levels may go negative: consumption is recorded as it happened even when the
books said the stock was not there (an admin count then corrects it with an adjustment).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.inventory import repository as repo
from atelier.inventory.errors import InventoryCode
from atelier.inventory.models import (
    InventoryItem,
    InventoryLevel,
    InventoryMovement,
    LocationKind,
    MovementReason,
    StockLocation,
)
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, Invalid, not_found

log = logging.getLogger(__name__)

FINISHED_GOODS_CODE = "finished_goods"
MAX_QUANTITY = 1_000_000_000.0
RECENT_MOVEMENTS = 50


def _partner_code(partner_id: str) -> str:
    return f"partner:{partner_id}"


def _sku_taken(sku: object) -> Conflict:
    return Conflict(f"sku {sku!r} is already used by another item", code=InventoryCode.SKU_TAKEN)


def _check_quantity(value: float, field: str) -> float:
    value = float(value)
    if not math.isfinite(value) or abs(value) > MAX_QUANTITY:
        raise Invalid(
            f"{field} must be a finite number within ±1e9", code=InventoryCode.INVALID_QUANTITY
        )
    return value


# --- items ------------------------------------------------------------------------------------


def get_item(session: Session, item_id: str) -> InventoryItem:
    """The inventory item, or 404 ``inventory_item_not_found``."""
    item = session.get(InventoryItem, item_id)
    if item is None:
        raise not_found("inventory_item", item_id)
    return item


def create_item(
    session: Session,
    *,
    sku: str,
    title: str,
    unit_of_measure: str,
    metadata: dict[str, object] | None = None,
) -> InventoryItem:
    """Create an item; a taken sku is 409 ``sku_taken`` (also under a concurrent create)."""
    if repo.item_by_sku(session, sku) is not None:
        raise _sku_taken(sku)
    item = InventoryItem(
        sku=sku, title=title, unit_of_measure=unit_of_measure, metadata_=dict(metadata or {})
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        raise _sku_taken(sku) from None
    return item


def update_item(
    session: Session,
    item_id: str,
    *,
    changes: dict[str, object],
) -> InventoryItem:
    """Change sku, title, unit_of_measure or metadata; a taken sku is 409 ``sku_taken``."""
    item = get_item(session, item_id)
    sku = changes.get("sku")
    if isinstance(sku, str) and sku != item.sku:
        if repo.item_by_sku(session, sku) is not None:
            raise _sku_taken(sku)
        item.sku = sku
    for field_name in ("title", "unit_of_measure"):
        value = changes.get(field_name)
        if isinstance(value, str):
            setattr(item, field_name, value)
    metadata = changes.get("metadata")
    if isinstance(metadata, dict):
        item.metadata_ = dict(metadata)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _sku_taken(sku) from None
    return item


def list_items(
    session: Session, *, q: str | None, limit: int, offset: int
) -> tuple[list[InventoryItem], int]:
    """Items ordered by sku, optionally filtered by a case-insensitive substring of sku/title."""
    return repo.list_items(session, q=q, limit=limit, offset=offset)


@dataclass(frozen=True, slots=True)
class LevelView:
    level: InventoryLevel
    location: StockLocation


def item_levels(session: Session, item_id: str) -> list[LevelView]:
    """The item's level at every location it has stock history in, with the location."""
    levels = repo.levels_for_item(session, item_id)
    locations = repo.locations_by_ids(session, [lv.location_id for lv in levels])
    return [LevelView(lv, locations[lv.location_id]) for lv in levels]


def recent_movements(
    session: Session, item_id: str, limit: int = RECENT_MOVEMENTS
) -> list[InventoryMovement]:
    """The item's latest movements, newest first."""
    return repo.recent_movements(session, item_id, limit)


# --- locations --------------------------------------------------------------------------------


def get_location(session: Session, location_id: str) -> StockLocation:
    """The stock location, or 404 ``stock_location_not_found``."""
    location = session.get(StockLocation, location_id)
    if location is None:
        raise not_found("stock_location", location_id)
    return location


def _require_partner(session: Session, partner_id: str) -> str:
    """The partner's name; 404 when the partner is unknown."""
    # Imported here so inventory does not import the partners package at module load.
    from atelier.partners.models import Partner

    partner = session.get(Partner, partner_id)
    if partner is None:
        raise not_found("partner", partner_id)
    return partner.name


def _create_coded_location(
    session: Session, *, code: str, name: str, kind: str, partner_id: str | None
) -> StockLocation | None:
    """Insert a location with a unique ``code``; None when a concurrent insert won."""
    location = StockLocation(name=name, kind=kind, code=code, partner_id=partner_id)
    try:
        with session.begin_nested():
            session.add(location)
            session.flush()
    except IntegrityError:
        return None
    return location


def create_location(
    session: Session, *, name: str, partner_id: str | None, kind: str | None
) -> StockLocation:
    """Create a stock location.

    A partner location needs a known partner; a ``finished_goods`` location becomes *the*
    finished-goods location (409 ``finished_goods_location_exists`` when there already is one).
    """
    if kind is None:
        kind = LocationKind.PARTNER if partner_id else LocationKind.WAREHOUSE
    if partner_id and kind != LocationKind.PARTNER:
        raise Invalid(
            "a location with partner_id must be of kind 'partner'", code=InventoryCode.INVALID_KIND
        )
    if kind == LocationKind.PARTNER and not partner_id:
        raise Invalid("a partner location needs partner_id", code=InventoryCode.PARTNER_REQUIRED)
    code: str | None = None
    if partner_id:
        _require_partner(session, partner_id)
        # The partner's first location is the one partner_location() returns.
        if repo.location_by_code(session, _partner_code(partner_id)) is None:
            code = _partner_code(partner_id)
    if kind == LocationKind.FINISHED_GOODS:
        code = FINISHED_GOODS_CODE
        if repo.location_by_code(session, code) is not None:
            raise Conflict(
                "the finished-goods location already exists",
                code=InventoryCode.FINISHED_GOODS_LOCATION_EXISTS,
            )
    if code is not None:
        created = _create_coded_location(
            session, code=code, name=name, kind=kind, partner_id=partner_id
        )
        if created is not None:
            return created
        if kind == LocationKind.FINISHED_GOODS:
            raise Conflict(
                "the finished-goods location already exists",
                code=InventoryCode.FINISHED_GOODS_LOCATION_EXISTS,
            )
    location = StockLocation(name=name, kind=kind, partner_id=partner_id)
    session.add(location)
    session.flush()
    return location


def list_locations(
    session: Session, *, kind: str | None, partner_id: str | None, limit: int, offset: int
) -> tuple[list[StockLocation], int]:
    """Locations ordered by name."""
    return repo.list_locations(
        session, kind=kind, partner_id=partner_id, limit=limit, offset=offset
    )


def partner_location(session: Session, partner_id: str) -> StockLocation:
    """The partner's stock location (its designated one, else its oldest), created on demand."""
    for _ in range(2):
        location = repo.location_by_code(session, _partner_code(partner_id))
        if location is None:
            location = repo.first_partner_location(session, partner_id)
        if location is not None:
            return location
        partner_name = _require_partner(session, partner_id)
        created = _create_coded_location(
            session,
            code=_partner_code(partner_id),
            # Named after the workshop, so pages and exports show who holds the stock.
            name=f"{partner_name} workshop"[:200],
            kind=LocationKind.PARTNER,
            partner_id=partner_id,
        )
        if created is not None:
            return created
    raise Conflict("could not create the partner location; retry", code=InventoryCode.LOCATION_RACE)


def finished_goods_location(session: Session) -> StockLocation:
    """The finished-goods location (code ``finished_goods``), created on first use, race-safe."""
    for _ in range(2):
        location = repo.location_by_code(session, FINISHED_GOODS_CODE)
        if location is not None:
            return location
        created = _create_coded_location(
            session,
            code=FINISHED_GOODS_CODE,
            name="Finished goods",
            kind=LocationKind.FINISHED_GOODS,
            partner_id=None,
        )
        if created is not None:
            return created
    raise Conflict(
        "could not create the finished-goods location; retry", code=InventoryCode.LOCATION_RACE
    )


# --- the ledger -------------------------------------------------------------------------------


def move_stock(
    session: Session,
    *,
    inventory_item_id: str,
    location_id: str,
    delta: float,
    reason: MovementReason,
    idempotency_key: str | None,
    actor: Actor,
    production_run_id: str | None = None,
    consumption_log_id: str | None = None,
    note: str | None = None,
) -> InventoryMovement | None:
    """Add ``delta`` to the item's level at the location and append the movement explaining it.

    Returns None, changing nothing, when ``idempotency_key`` was already used (also when a
    concurrent transaction used it first: the unique key decides, inside a SAVEPOINT).
    """
    delta = _check_quantity(delta, "delta")
    if idempotency_key is not None and repo.movement_by_key(session, idempotency_key) is not None:
        return None
    get_item(session, inventory_item_id)
    get_location(session, location_id)
    try:
        with session.begin_nested():
            repo.ensure_level(session, inventory_item_id, location_id)
            balance = repo.add_to_level(session, inventory_item_id, location_id, delta)
            movement = InventoryMovement(
                inventory_item_id=inventory_item_id,
                location_id=location_id,
                quantity_delta=delta,
                balance_after=balance,
                reason=MovementReason(reason).value,
                production_run_id=production_run_id,
                consumption_log_id=consumption_log_id,
                idempotency_key=idempotency_key,
                actor_type=actor.type.value,
                actor_id=actor.id,
                note=note,
                created_at=clock.now(),
            )
            session.add(movement)
            session.flush()
    except IntegrityError:
        if idempotency_key is not None and repo.movement_by_key(session, idempotency_key):
            log.info(
                "stock movement already recorded",
                extra={"inventory_item_id": inventory_item_id, "run_id": production_run_id},
            )
            return None
        raise
    log.info(
        "stock moved",
        extra={
            "inventory_item_id": inventory_item_id,
            "location_id": location_id,
            "delta": delta,
            "reason": movement.reason,
            "run_id": production_run_id,
        },
    )
    return movement


def stock_finished_goods(
    session: Session,
    *,
    inventory_item_id: str,
    quantity: float,
    reason: MovementReason,
    idempotency_key: str,
    actor: Actor,
    production_run_id: str,
    note: str,
) -> tuple[InventoryMovement | None, StockLocation]:
    """Move ``quantity`` of made goods onto the finished-goods level (negative takes some off).

    Returns the movement (``None`` when ``idempotency_key`` was used before) and the location.
    """
    location = finished_goods_location(session)
    movement = move_stock(
        session,
        inventory_item_id=inventory_item_id,
        location_id=location.id,
        delta=quantity,
        reason=reason,
        idempotency_key=idempotency_key,
        actor=actor,
        production_run_id=production_run_id,
        note=note,
    )
    return movement, location


@dataclass(frozen=True, slots=True)
class SetLevelResult:
    level: InventoryLevel
    location: StockLocation
    movement: InventoryMovement | None
    created: bool


def set_level(
    session: Session,
    *,
    item_id: str,
    location_id: str,
    stocked_quantity: float,
    actor: Actor,
    note: str | None = None,
) -> SetLevelResult:
    """Set the level to a counted value through an ``adjustment`` movement of (new − old)."""
    stocked_quantity = _check_quantity(stocked_quantity, "stocked_quantity")
    get_item(session, item_id)
    location = get_location(session, location_id)
    created = repo.ensure_level(session, item_id, location_id)
    level = repo.lock_level(session, item_id, location_id)
    delta = stocked_quantity - float(level.stocked_quantity)
    movement = None
    if delta != 0:
        movement = move_stock(
            session,
            inventory_item_id=item_id,
            location_id=location_id,
            delta=delta,
            reason=MovementReason.ADJUSTMENT,
            idempotency_key=None,
            actor=actor,
            note=note,
        )
    refreshed = repo.get_level(session, item_id, location_id)
    assert refreshed is not None
    return SetLevelResult(refreshed, location, movement, created)


def list_levels(
    session: Session,
    *,
    location_id: str | None = None,
    inventory_item_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[InventoryLevel, InventoryItem, StockLocation]], int]:
    """Levels with their item and location, ordered by location name then sku."""
    return repo.list_levels(
        session,
        location_id=location_id,
        inventory_item_id=inventory_item_id,
        limit=limit,
        offset=offset,
    )


def list_movements(
    session: Session,
    *,
    inventory_item_id: str | None = None,
    location_id: str | None = None,
    production_run_id: str | None = None,
    reason: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[InventoryMovement], int]:
    """Ledger rows, newest first, filtered."""
    return repo.list_movements(
        session,
        inventory_item_id=inventory_item_id,
        location_id=location_id,
        production_run_id=production_run_id,
        reason=reason,
        limit=limit,
        offset=offset,
    )
