"""Request and response shapes for consumption logs (material a run or design used)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_serializer

from atelier.inventory.models import ConsumptionType, QuantityBasis
from atelier.platform.schemas import (
    BodyDecimal,
    BodyFloat,
    EntityId,
    InputSchema,
    ListEnvelope,
    LongText,
    OutputSchema,
)

# Material quantities are floats (metres, kilograms); bounded so nothing overflows downstream.
MaterialQuantity = Annotated[BodyFloat, Field(gt=0, le=1_000_000)]
UnitOfMeasure = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
]
UnitCost = Annotated[BodyDecimal, Field(ge=0, le=Decimal("99999999999999"), decimal_places=4)]


class ConsumptionCreate(InputSchema):
    """One consumption entry; ``unit_of_measure`` defaults to the item's own unit."""

    inventory_item_id: EntityId
    quantity: MaterialQuantity
    unit_of_measure: UnitOfMeasure | None = None
    consumption_type: ConsumptionType = ConsumptionType.PRODUCTION
    quantity_basis: QuantityBasis = QuantityBasis.TOTAL
    unit_cost: UnitCost | None = None
    notes: LongText | None = None


class ConsumptionLogRead(OutputSchema):
    id: str
    design_id: str | None
    production_run_id: str | None
    inventory_item_id: str
    quantity: float
    quantity_basis: str
    unit_of_measure: str
    unit_cost: Decimal | None
    consumption_type: str
    consumed_by: str
    consumed_by_id: str | None
    consumed_at: datetime
    notes: str | None
    location_id: str | None
    is_committed: bool
    committed_at: datetime | None
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")

    @field_serializer("unit_cost")
    def _money(self, value: Decimal | None) -> str | None:
        return None if value is None else str(value)


class ConsumptionLogEnvelope(OutputSchema):
    consumption_log: ConsumptionLogRead


class ConsumptionLogList(ListEnvelope[ConsumptionLogRead]):
    items: list[ConsumptionLogRead] = Field(alias="consumption_logs")
