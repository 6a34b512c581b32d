"""Request and response bodies for inventory items, stock locations, levels and movements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from atelier.platform.schemas import (
    BodyFloat,
    EntityId,
    InputSchema,
    ListEnvelope,
    Metadata,
    Name,
    OutputSchema,
    ShortText,
    no_nul,
)

_MAX = 1_000_000_000


Sku = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(no_nul),
]
UnitOfMeasure = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    AfterValidator(no_nul),
]
# A counted level: never negative when set by hand (consumption may still drive it below zero).
CountedQuantity = Annotated[BodyFloat, Field(ge=0, le=_MAX)]
LocationKindName = Literal["warehouse", "partner", "finished_goods"]
ReasonName = Literal["adjustment", "consumption", "production_output", "correction"]


class InventoryItemCreate(InputSchema):
    sku: Sku
    title: Name
    unit_of_measure: UnitOfMeasure
    metadata: Metadata | None = None


class InventoryItemUpdate(InputSchema):
    sku: Sku | None = None
    title: Name | None = None
    unit_of_measure: UnitOfMeasure | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> InventoryItemUpdate:
        for name in ("sku", "title", "unit_of_measure", "metadata"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class StockLocationCreate(InputSchema):
    name: Name
    partner_id: EntityId | None = None
    kind: LocationKindName | None = None


class LevelSet(InputSchema):
    location_id: EntityId
    stocked_quantity: CountedQuantity
    note: ShortText | None = None


class InventoryItemOut(OutputSchema):
    id: str
    sku: str
    title: str
    unit_of_measure: str
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime


class StockLocationOut(OutputSchema):
    id: str
    name: str
    kind: str
    code: str | None
    partner_id: str | None
    created_at: datetime
    updated_at: datetime


class InventoryLevelOut(OutputSchema):
    id: str
    inventory_item_id: str
    location_id: str
    location_name: str | None = None
    location_kind: str | None = None
    stocked_quantity: float
    created_at: datetime
    updated_at: datetime


class InventoryLevelRow(InventoryLevelOut):
    sku: str
    title: str
    unit_of_measure: str


class InventoryLevelList(ListEnvelope[InventoryLevelRow]):
    items: list[InventoryLevelRow] = Field(alias="inventory_levels")


class InventoryMovementOut(OutputSchema):
    id: str
    inventory_item_id: str
    location_id: str
    quantity_delta: float
    balance_after: float
    reason: str
    production_run_id: str | None
    consumption_log_id: str | None
    idempotency_key: str | None
    actor_type: str | None
    actor_id: str | None
    note: str | None
    created_at: datetime


class InventoryItemDetail(InventoryItemOut):
    levels: list[InventoryLevelOut]
    movements: list[InventoryMovementOut]


class InventoryItemEnvelope(OutputSchema):
    inventory_item: InventoryItemOut


class InventoryItemDetailEnvelope(OutputSchema):
    inventory_item: InventoryItemDetail


class InventoryItemList(ListEnvelope[InventoryItemOut]):
    items: list[InventoryItemOut] = Field(alias="inventory_items")


class StockLocationEnvelope(OutputSchema):
    stock_location: StockLocationOut


class StockLocationList(ListEnvelope[StockLocationOut]):
    items: list[StockLocationOut] = Field(alias="stock_locations")


class InventoryLevelEnvelope(OutputSchema):
    inventory_level: InventoryLevelOut
    movement: InventoryMovementOut | None


class InventoryMovementList(ListEnvelope[InventoryMovementOut]):
    items: list[InventoryMovementOut] = Field(alias="inventory_movements")
