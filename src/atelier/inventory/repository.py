"""All inventory SQL: items, locations, levels and the movement ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from atelier.inventory.models import (
    ConsumptionLog,
    InventoryItem,
    InventoryLevel,
    InventoryMovement,
    StockLocation,
)
from atelier.platform import clock
from atelier.platform.ids import new_id


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(session: Session, stmt: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.limit(limit).offset(offset)))
    return rows, count


# --- items ------------------------------------------------------------------------------------


def item_by_sku(session: Session, sku: str) -> InventoryItem | None:
    return session.scalar(select(InventoryItem).where(InventoryItem.sku == sku))


def list_items(
    session: Session, *, q: str | None, limit: int, offset: int
) -> tuple[list[InventoryItem], int]:
    stmt = select(InventoryItem)
    if q:
        pattern = f"%{_escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(InventoryItem.sku).like(pattern, escape="\\"),
                func.lower(InventoryItem.title).like(pattern, escape="\\"),
            )
        )
    return _page(session, stmt.order_by(InventoryItem.sku, InventoryItem.id), limit, offset)


# --- locations --------------------------------------------------------------------------------


def location_by_code(session: Session, code: str) -> StockLocation | None:
    return session.scalar(select(StockLocation).where(StockLocation.code == code))


def first_partner_location(session: Session, partner_id: str) -> StockLocation | None:
    stmt = (
        select(StockLocation)
        .where(StockLocation.partner_id == partner_id)
        .order_by(StockLocation.created_at, StockLocation.id)
        .limit(1)
    )
    return session.scalar(stmt)


def list_locations(
    session: Session, *, kind: str | None, partner_id: str | None, limit: int, offset: int
) -> tuple[list[StockLocation], int]:
    stmt = select(StockLocation)
    if kind:
        stmt = stmt.where(StockLocation.kind == kind)
    if partner_id:
        stmt = stmt.where(StockLocation.partner_id == partner_id)
    return _page(session, stmt.order_by(StockLocation.name, StockLocation.id), limit, offset)


def locations_by_ids(session: Session, ids: Sequence[str]) -> dict[str, StockLocation]:
    if not ids:
        return {}
    rows = session.scalars(select(StockLocation).where(StockLocation.id.in_(set(ids))))
    return {row.id: row for row in rows}


# --- levels -----------------------------------------------------------------------------------


def ensure_level(session: Session, item_id: str, location_id: str) -> bool:
    """Create the (item, location) level at 0 unless it exists; True when this call created it.

    ``INSERT ... ON CONFLICT DO NOTHING`` so two concurrent first movements cannot collide.
    """
    now = clock.now()
    values = {
        "id": new_id("ilevel"),
        "inventory_item_id": item_id,
        "location_id": location_id,
        "stocked_quantity": 0.0,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(InventoryLevel).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(InventoryLevel).values(**values).on_conflict_do_nothing()
    created = session.execute(stmt.returning(InventoryLevel.id)).scalar_one_or_none()
    return created is not None


def lock_level(session: Session, item_id: str, location_id: str) -> InventoryLevel:
    """The level row, locked until the transaction ends (SQLite: the writer lock already is)."""
    stmt = (
        select(InventoryLevel)
        .where(
            InventoryLevel.inventory_item_id == item_id,
            InventoryLevel.location_id == location_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one()


def add_to_level(session: Session, item_id: str, location_id: str, delta: float) -> float:
    """Atomically add ``delta`` to the level and return the new balance."""
    stmt = (
        update(InventoryLevel)
        .where(
            InventoryLevel.inventory_item_id == item_id,
            InventoryLevel.location_id == location_id,
        )
        .values(
            stocked_quantity=InventoryLevel.stocked_quantity + delta,
            updated_at=clock.now(),
        )
        .returning(InventoryLevel.stocked_quantity)
        .execution_options(synchronize_session=False)
    )
    balance = session.execute(stmt).scalar_one()
    return float(balance)


def get_level(session: Session, item_id: str, location_id: str) -> InventoryLevel | None:
    stmt = (
        select(InventoryLevel)
        .where(
            InventoryLevel.inventory_item_id == item_id,
            InventoryLevel.location_id == location_id,
        )
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def levels_for_item(session: Session, item_id: str) -> list[InventoryLevel]:
    stmt = (
        select(InventoryLevel)
        .where(InventoryLevel.inventory_item_id == item_id)
        .order_by(InventoryLevel.created_at, InventoryLevel.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


# --- movements --------------------------------------------------------------------------------


def movement_by_key(session: Session, key: str) -> InventoryMovement | None:
    return session.scalar(select(InventoryMovement).where(InventoryMovement.idempotency_key == key))


def recent_movements(session: Session, item_id: str, limit: int) -> list[InventoryMovement]:
    stmt = (
        select(InventoryMovement)
        .where(InventoryMovement.inventory_item_id == item_id)
        .order_by(InventoryMovement.created_at.desc(), InventoryMovement.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def list_movements(
    session: Session,
    *,
    inventory_item_id: str | None,
    location_id: str | None,
    production_run_id: str | None,
    reason: str | None,
    limit: int,
    offset: int,
) -> tuple[list[InventoryMovement], int]:
    stmt = select(InventoryMovement)
    if inventory_item_id:
        stmt = stmt.where(InventoryMovement.inventory_item_id == inventory_item_id)
    if location_id:
        stmt = stmt.where(InventoryMovement.location_id == location_id)
    if production_run_id:
        stmt = stmt.where(InventoryMovement.production_run_id == production_run_id)
    if reason:
        stmt = stmt.where(InventoryMovement.reason == reason)
    stmt = stmt.order_by(InventoryMovement.created_at.desc(), InventoryMovement.id.desc())
    return _page(session, stmt, limit, offset)


def list_levels(
    session: Session,
    *,
    location_id: str | None,
    inventory_item_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[InventoryLevel, InventoryItem, StockLocation]], int]:
    stmt = (
        select(InventoryLevel, InventoryItem, StockLocation)
        .join(InventoryItem, InventoryItem.id == InventoryLevel.inventory_item_id)
        .join(StockLocation, StockLocation.id == InventoryLevel.location_id)
    )
    if location_id:
        stmt = stmt.where(InventoryLevel.location_id == location_id)
    if inventory_item_id:
        stmt = stmt.where(InventoryLevel.inventory_item_id == inventory_item_id)
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = (
        stmt.order_by(StockLocation.name, InventoryItem.sku, InventoryLevel.id)
        .limit(limit)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    rows = [(lv, item, loc) for lv, item, loc in session.execute(stmt)]
    return rows, count


# --- consumption logs -------------------------------------------------------------------------


def uncommitted_logs(session: Session, run_id: str) -> list[ConsumptionLog]:
    """The run's logs not yet drawn from stock, in the order they were consumed."""
    return list(
        session.scalars(
            select(ConsumptionLog)
            .where(
                ConsumptionLog.production_run_id == run_id,
                ConsumptionLog.is_committed.is_(False),
            )
            .order_by(ConsumptionLog.consumed_at, ConsumptionLog.id)
        )
    )


def claim_log(session: Session, log_id: str, at: datetime) -> bool:
    """Mark the log committed unless someone already did; True when this call did."""
    result = session.execute(
        update(ConsumptionLog)
        .where(ConsumptionLog.id == log_id, ConsumptionLog.is_committed.is_(False))
        .values(is_committed=True, committed_at=at)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def list_consumption(
    session: Session,
    *,
    run_id: str | None,
    design_id: str | None,
    consumption_type: str | None,
    committed: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[ConsumptionLog], int]:
    conditions: list[Any] = []
    if run_id is not None:
        conditions.append(ConsumptionLog.production_run_id == run_id)
    if design_id is not None:
        conditions.append(ConsumptionLog.design_id == design_id)
    if consumption_type is not None:
        conditions.append(ConsumptionLog.consumption_type == consumption_type)
    if committed is not None:
        conditions.append(ConsumptionLog.is_committed.is_(committed))
    count = session.scalar(select(func.count(ConsumptionLog.id)).where(*conditions)) or 0
    rows = session.scalars(
        select(ConsumptionLog)
        .where(*conditions)
        .order_by(ConsumptionLog.consumed_at, ConsumptionLog.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(count)
