"""All order SQL, plus the read-only product/variant lookups the order rules need."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, selectinload

from atelier.catalog.models import Product, ProductVariant
from atelier.orders.models import Order, OrderLineItem


def order_by_external_id(session: Session, external_id: str) -> Order | None:
    stmt = (
        select(Order)
        .where(Order.external_id == external_id)
        .options(selectinload(Order.items))
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def order_with_items(session: Session, order_id: str) -> Order | None:
    stmt = select(Order).where(Order.id == order_id).options(selectinload(Order.items))
    return session.scalar(stmt)


def list_orders(
    session: Session, *, external_id: str | None, email: str | None, limit: int, offset: int
) -> tuple[list[Order], int]:
    stmt = select(Order)
    if external_id:
        stmt = stmt.where(Order.external_id == external_id)
    if email:
        stmt = stmt.where(func.lower(Order.email) == email.lower())
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = (
        stmt.options(selectinload(Order.items))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt)), count


def products_by_ids(session: Session, ids: Iterable[str]) -> dict[str, Product]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(wanted)))}


def variants_by_ids(session: Session, ids: Iterable[str]) -> dict[str, ProductVariant]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.scalars(select(ProductVariant).where(ProductVariant.id.in_(wanted)))
    return {v.id: v for v in rows}


def variants_by_skus(session: Session, skus: Iterable[str]) -> dict[str, ProductVariant]:
    wanted = {s for s in skus if s}
    if not wanted:
        return {}
    rows = session.scalars(select(ProductVariant).where(ProductVariant.sku.in_(wanted)))
    return {v.sku: v for v in rows if v.sku}


def products_by_external_ids(session: Session, key: str, ids: Iterable[str]) -> dict[str, str]:
    """Map shop-platform product ids (``Product.metadata[key]``, string or number) to ours."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    # The cast makes a number stored in JSON compare equal to its text on SQLite too.
    expr = cast(Product.metadata_[key].as_string(), String)
    rows = session.execute(select(Product.id, expr).where(expr.in_(wanted)))
    return {str(ext): pid for pid, ext in rows if ext is not None}


def line_orders(session: Session, line_ids: Iterable[str]) -> dict[str, str]:
    """``{line_id: order_id}`` for the order lines that exist."""
    wanted = set(line_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(OrderLineItem.id, OrderLineItem.order_id).where(OrderLineItem.id.in_(wanted))
    )
    return {line_id: order_id for line_id, order_id in rows}
