"""Designs, their bill of materials and partner links; products and variants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atelier.platform.db import Base, TimestampMixin, created_at_column, id_column


class DesignStatus(StrEnum):
    CONCEPTUAL = "Conceptual"
    IN_DEVELOPMENT = "In_Development"
    TECHNICAL_REVIEW = "Technical_Review"
    SAMPLE_PRODUCTION = "Sample_Production"
    REVISION = "Revision"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    ON_HOLD = "On_Hold"
    COMMERCE_READY = "Commerce_Ready"
    SUPERSEDED = "Superseded"


class Design(TimestampMixin, Base):
    __tablename__ = "designs"

    id: Mapped[str] = id_column("design")
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default=DesignStatus.CONCEPTUAL, index=True)
    thumbnail_url: Mapped[str | None] = mapped_column(String(2048))
    media_files: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    specifications: Mapped[dict[str, Any]] = mapped_column(default=dict)
    colors: Mapped[list[Any]] = mapped_column(default=list)
    sizes: Mapped[list[Any]] = mapped_column(default=list)
    moodboard: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where a completed run's good output is stocked when its variant names no item.
    output_inventory_item_id: Mapped[str | None] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="SET NULL")
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    bom: Mapped[list[DesignInventoryItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="DesignInventoryItem.created_at"
    )


class DesignInventoryItem(Base):
    """A bill-of-materials line: an inventory item and its planned quantity for the design."""

    __tablename__ = "design_inventory_items"
    __table_args__ = (UniqueConstraint("design_id", "inventory_item_id"),)

    id: Mapped[str] = id_column("dinv")
    design_id: Mapped[str] = mapped_column(ForeignKey("designs.id", ondelete="CASCADE"), index=True)
    inventory_item_id: Mapped[str] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="RESTRICT")
    )
    planned_quantity: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = created_at_column()


class DesignPartner(Base):
    """A partner linked to a design (gives read access through ``GET /partners/designs``)."""

    __tablename__ = "design_partners"

    design_id: Mapped[str] = mapped_column(
        ForeignKey("designs.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = created_at_column()


class Product(TimestampMixin, Base):
    __tablename__ = "products"

    id: Mapped[str] = id_column("product")
    title: Mapped[str] = mapped_column(String(200))
    design_id: Mapped[str | None] = mapped_column(
        ForeignKey("designs.id", ondelete="SET NULL"), index=True
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    variants: Mapped[list[ProductVariant]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ProductVariant.created_at"
    )


class ProductVariant(TimestampMixin, Base):
    __tablename__ = "product_variants"

    id: Mapped[str] = id_column("variant")
    product_id: Mapped[str] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(120), unique=True)
    # A variant-level design link wins over the product-level one.
    design_id: Mapped[str | None] = mapped_column(
        ForeignKey("designs.id", ondelete="SET NULL"), index=True
    )
    inventory_item_id: Mapped[str | None] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="SET NULL")
    )
