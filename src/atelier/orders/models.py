"""Orders from the shop platform and their line items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atelier.platform.db import Base, TimestampMixin, created_at_column, id_column


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id: Mapped[str] = id_column("order")
    # The shop platform's id; unique so a redelivered webhook cannot create a second order.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    source: Mapped[str] = mapped_column(String(32), default="admin")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    items: Mapped[list[OrderLineItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OrderLineItem.position"
    )


class OrderLineItem(Base):
    __tablename__ = "order_line_items"

    id: Mapped[str] = id_column("oli")
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Plain ids, not foreign keys: a shop may send a product we do not know; such a line is
    # stored and logged, and simply gets no production run.
    product_id: Mapped[str | None] = mapped_column(String(64), index=True)
    variant_id: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
