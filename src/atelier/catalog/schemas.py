"""Request and response bodies for designs, their bill of materials, products and variants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from atelier.catalog.models import DesignStatus
from atelier.platform.schemas import (
    BodyFloat,
    EntityId,
    InputSchema,
    JsonList,
    ListEnvelope,
    LongText,
    Metadata,
    Name,
    OutputSchema,
    Url,
    no_nul,
)


def _web_url(value: str) -> str:
    # Shown as <img src> in the web UIs: only web URLs or our own media paths, never javascript:.
    lowered = value.lower()
    if lowered.startswith(("https://", "http://")) or (
        value.startswith("/") and not value.startswith("//")
    ):
        return value
    raise ValueError("must be an http(s) URL or an absolute path such as /media/...")


WebUrl = Annotated[Url, AfterValidator(_web_url)]
Sku = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(no_nul),
]
PlannedQuantity = Annotated[BodyFloat, Field(gt=0, le=1_000_000_000)]
MediaFiles = Annotated[JsonList, Field(max_length=200)]
DesignSort = Literal["created_at", "-created_at", "name", "-name", "updated_at", "-updated_at"]


# --- designs ------------------------------------------------------------------------------------


class DesignCreate(InputSchema):
    name: Name
    description: LongText | None = None
    status: DesignStatus = DesignStatus.CONCEPTUAL
    specifications: Metadata | None = None
    colors: JsonList | None = None
    sizes: JsonList | None = None
    thumbnail_url: WebUrl | None = None
    media_files: MediaFiles | None = None
    moodboard: Metadata | None = None
    metadata: Metadata | None = None
    output_inventory_item_id: EntityId | None = None


class DesignUpdate(InputSchema):
    """Partial update: only the fields sent are changed; ``null`` clears optional fields."""

    name: Name | None = None
    description: LongText | None = None
    status: DesignStatus | None = None
    specifications: Metadata | None = None
    colors: JsonList | None = None
    sizes: JsonList | None = None
    thumbnail_url: WebUrl | None = None
    media_files: MediaFiles | None = None
    moodboard: Metadata | None = None
    metadata: Metadata | None = None
    output_inventory_item_id: EntityId | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> DesignUpdate:
        for field in ("name", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class BomLineInput(InputSchema):
    inventory_item_id: EntityId
    planned_quantity: PlannedQuantity


class BomUpsert(InputSchema):
    items: Annotated[list[BomLineInput], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _unique_items(self) -> BomUpsert:
        seen: set[str] = set()
        for line in self.items:
            if line.inventory_item_id in seen:
                raise ValueError(f"inventory item {line.inventory_item_id!r} is listed twice")
            seen.add(line.inventory_item_id)
        return self


class BomLineRead(OutputSchema):
    id: str
    inventory_item_id: str
    sku: str
    title: str
    unit_of_measure: str
    planned_quantity: float


class LinkedPartnerRead(OutputSchema):
    id: str
    name: str
    handle: str


class DesignFields(OutputSchema):
    """What anyone who may see a design sees of it (admins see more: ``DesignSummary``)."""

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


class DesignSummary(DesignFields):
    output_inventory_item_id: str | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime


class DesignRead(DesignSummary):
    bom: list[BomLineRead]
    partners: list[LinkedPartnerRead]


class DesignEnvelope(OutputSchema):
    design: DesignRead


class DesignList(ListEnvelope[DesignSummary]):
    items: list[DesignSummary] = Field(alias="designs")


# --- products -----------------------------------------------------------------------------------


class VariantCreate(InputSchema):
    title: Name
    sku: Sku | None = None
    design_id: EntityId | None = None
    inventory_item_id: EntityId | None = None


class ProductCreate(InputSchema):
    title: Name
    design_id: EntityId | None = None
    metadata: Metadata | None = None
    variants: Annotated[list[VariantCreate], Field(max_length=100)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_skus(self) -> ProductCreate:
        seen: set[str] = set()
        for variant in self.variants:
            if variant.sku is None:
                continue
            if variant.sku in seen:
                raise ValueError(f"sku {variant.sku!r} is used by two variants")
            seen.add(variant.sku)
        return self


class VariantRead(OutputSchema):
    id: str
    product_id: str
    title: str
    sku: str | None
    design_id: str | None
    inventory_item_id: str | None
    created_at: datetime
    updated_at: datetime


class ProductRead(OutputSchema):
    id: str
    title: str
    design_id: str | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    variants: list[VariantRead]
    created_at: datetime
    updated_at: datetime


class ProductEnvelope(OutputSchema):
    product: ProductRead


class ProductList(ListEnvelope[ProductRead]):
    items: list[ProductRead] = Field(alias="products")
