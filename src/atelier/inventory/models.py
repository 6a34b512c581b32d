"""Stock locations, items, levels, the append-only movement ledger, consumption logs.

Quantities in this domain are floats (metres of fabric, kilograms of yarn); pieces elsewhere
are integers. Money is ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import (
    Base,
    TimestampMixin,
    created_at_column,
    id_column,
    updated_at_column,
)


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    PARTNER = "partner"
    FINISHED_GOODS = "finished_goods"


class StockLocation(TimestampMixin, Base):
    __tablename__ = "stock_locations"

    id: Mapped[str] = id_column("sloc")
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default=LocationKind.WAREHOUSE, index=True)
    # Stable well-known name (e.g. "finished_goods"); unique so a lazy create cannot duplicate.
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    partner_id: Mapped[str | None] = mapped_column(
        ForeignKey("partners.id", ondelete="SET NULL"), index=True
    )


class InventoryItem(TimestampMixin, Base):
    __tablename__ = "inventory_items"

    id: Mapped[str] = id_column("iitem")
    sku: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    unit_of_measure: Mapped[str] = mapped_column(String(32))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class InventoryLevel(Base):
    __tablename__ = "inventory_levels"
    __table_args__ = (UniqueConstraint("inventory_item_id", "location_id"),)

    id: Mapped[str] = id_column("ilevel")
    inventory_item_id: Mapped[str] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[str] = mapped_column(ForeignKey("stock_locations.id", ondelete="CASCADE"))
    stocked_quantity: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class MovementReason(StrEnum):
    ADJUSTMENT = "adjustment"
    CONSUMPTION = "consumption"
    PRODUCTION_OUTPUT = "production_output"
    CORRECTION = "correction"


class InventoryMovement(Base):
    """Append-only: every change of a level has exactly one movement that explains it."""

    __tablename__ = "inventory_movements"
    __table_args__ = (
        Index("ix_inventory_movements_item_created", "inventory_item_id", "created_at"),
    )

    id: Mapped[str] = id_column("imov")
    inventory_item_id: Mapped[str] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE")
    )
    location_id: Mapped[str] = mapped_column(ForeignKey("stock_locations.id", ondelete="CASCADE"))
    quantity_delta: Mapped[float] = mapped_column(Float)
    balance_after: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(32))
    production_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    consumption_log_id: Mapped[str | None] = mapped_column(String(64))
    # The database, not Python, guarantees a run's output or a log's consumption moves stock once.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    actor_type: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class ConsumptionType(StrEnum):
    SAMPLE = "sample"
    PRODUCTION = "production"
    WASTAGE = "wastage"


class QuantityBasis(StrEnum):
    TOTAL = "total"
    PER_PIECE = "per_piece"


class ConsumptionLog(Base):
    __tablename__ = "consumption_logs"

    id: Mapped[str] = id_column("clog")
    design_id: Mapped[str | None] = mapped_column(
        ForeignKey("designs.id", ondelete="SET NULL"), index=True
    )
    production_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("production_runs.id", ondelete="CASCADE"), index=True
    )
    inventory_item_id: Mapped[str] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="RESTRICT")
    )
    quantity: Mapped[float] = mapped_column(Float)
    quantity_basis: Mapped[str] = mapped_column(String(16), default=QuantityBasis.TOTAL)
    unit_of_measure: Mapped[str] = mapped_column(String(32))
    unit_cost: Mapped[Decimal | None]
    consumption_type: Mapped[str] = mapped_column(String(16), default=ConsumptionType.PRODUCTION)
    consumed_by: Mapped[str] = mapped_column(String(16))
    consumed_by_id: Mapped[str | None] = mapped_column(String(64))
    consumed_at: Mapped[datetime] = created_at_column()
    notes: Mapped[str | None] = mapped_column(Text)
    location_id: Mapped[str | None] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="SET NULL")
    )
    is_committed: Mapped[bool] = mapped_column(default=False, index=True)
    committed_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
