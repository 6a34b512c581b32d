"""Request and response bodies for orders (admin API and the generic webhook)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from atelier.platform.schemas import (
    Email,
    EntityId,
    InputSchema,
    ListEnvelope,
    OutputSchema,
    Quantity,
    ShortText,
    no_nul,
)

ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_nul),
]


class OrderItemIn(InputSchema):
    product_id: EntityId
    variant_id: EntityId | None = None
    quantity: Quantity
    title: ShortText | None = None


class OrderCreate(InputSchema):
    external_id: ExternalId | None = None
    email: Email | None = None
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=500)]


class OrderItemOut(OutputSchema):
    id: str
    position: int
    product_id: str | None
    variant_id: str | None
    quantity: int
    title: str | None
    created_at: datetime


class OrderOut(OutputSchema):
    id: str
    external_id: str | None
    email: str | None
    source: str
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    items: list[OrderItemOut]
    created_at: datetime
    updated_at: datetime


class OrderEnvelope(OutputSchema):
    order: OrderOut


class OrderList(ListEnvelope[OrderOut]):
    items: list[OrderOut] = Field(alias="orders")
