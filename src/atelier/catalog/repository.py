"""SQL for designs, bill-of-materials lines, partner links, products and variants."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from atelier.catalog.models import (
    Design,
    DesignInventoryItem,
    DesignPartner,
    Product,
    ProductVariant,
)
from atelier.catalog.schemas import DesignSummary
from atelier.inventory.models import InventoryItem
from atelier.partners.models import Partner
from atelier.platform import clock
from atelier.platform.prepared import Prepared
from atelier.platform.rows import RowShape, read_rows

# What the admin design read shows of the design row (``DesignSummary`` field order).
DESIGN_SHAPE = RowShape.of_schema(DesignSummary, Design)

_SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "created_at": (Design.created_at.asc(), Design.id.asc()),
    "-created_at": (Design.created_at.desc(), Design.id.desc()),
    "updated_at": (Design.updated_at.asc(), Design.id.asc()),
    "-updated_at": (Design.updated_at.desc(), Design.id.desc()),
    "name": (Design.name.asc(), Design.id.asc()),
    "-name": (Design.name.desc(), Design.id.desc()),
}


def like_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern matching ``text`` literally (``\\`` is the escape)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


# --- designs ------------------------------------------------------------------------------------


def get_design(session: Session, design_id: str) -> Design | None:
    return session.get(Design, design_id)


_DESIGN_ROW = Prepared(select(*DESIGN_SHAPE.columns).where(Design.id == bindparam("design_id")))
_LINKED_PARTNERS = Prepared(
    select(Partner.id, Partner.name, Partner.handle)
    .join(DesignPartner, DesignPartner.partner_id == Partner.id)
    .where(DesignPartner.design_id == bindparam("design_id"))
    .order_by(DesignPartner.created_at, DesignPartner.partner_id)
)


def design_row(session: Session, design_id: str) -> dict[str, Any] | None:
    """The design as ``DesignSummary`` shows it (one Core statement), or ``None``."""
    row = read_rows(session, _DESIGN_ROW, design_id=design_id).first()
    return DESIGN_SHAPE.of(row) if row is not None else None


def linked_partners(session: Session, design_id: str) -> list[dict[str, Any]]:
    """The partners linked to the design (id, name, handle), in link order."""
    rows = read_rows(session, _LINKED_PARTNERS, design_id=design_id)
    return [{"id": pid, "name": name, "handle": handle} for pid, name, handle in rows]


def lock_design(session: Session, design_id: str) -> Design | None:
    """The design locked for the rest of the transaction, read fresh inside the lock."""
    return session.scalars(
        select(Design)
        .where(Design.id == design_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def list_designs(
    session: Session,
    *,
    status: str | None,
    q: str | None,
    sort: str,
    limit: int,
    offset: int,
    partner_id: str | None = None,
) -> tuple[Sequence[Design], int]:
    query = select(Design)
    if partner_id is not None:
        query = query.join(DesignPartner, DesignPartner.design_id == Design.id).where(
            DesignPartner.partner_id == partner_id
        )
    if status is not None:
        query = query.where(Design.status == status)
    if q:
        query = query.where(func.lower(Design.name).like(like_pattern(q), escape="\\"))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*_SORTS[sort]).limit(limit).offset(offset)).all()
    return rows, count


_BOM_COLUMNS = (
    DesignInventoryItem.id,
    DesignInventoryItem.inventory_item_id,
    DesignInventoryItem.planned_quantity,
    InventoryItem.sku,
    InventoryItem.title,
    InventoryItem.unit_of_measure,
)
_BOM_LINES = Prepared(
    select(*_BOM_COLUMNS)
    .join(InventoryItem, InventoryItem.id == DesignInventoryItem.inventory_item_id)
    .where(DesignInventoryItem.design_id == bindparam("design_id"))
    .order_by(DesignInventoryItem.created_at, DesignInventoryItem.id)
)


def bom_lines(session: Session, design_id: str) -> list[dict[str, Any]]:
    """BOM lines joined with their inventory item, oldest first."""
    return [dict(row._mapping) for row in read_rows(session, _BOM_LINES, design_id=design_id)]


def designs_by_ids(session: Session, ids: Iterable[str]) -> dict[str, Design]:
    """The designs that exist among ``ids`` (one statement)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {d.id: d for d in session.scalars(select(Design).where(Design.id.in_(wanted)))}


def bom_lines_of(session: Session, design_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """``bom_lines`` of several designs in one statement (each design's lines oldest first)."""
    wanted = set(design_ids)
    lines: dict[str, list[dict[str, Any]]] = {design_id: [] for design_id in wanted}
    if not wanted:
        return lines
    stmt = (
        select(DesignInventoryItem.design_id, *_BOM_COLUMNS)
        .join(InventoryItem, InventoryItem.id == DesignInventoryItem.inventory_item_id)
        .where(DesignInventoryItem.design_id.in_(wanted))
        .order_by(DesignInventoryItem.created_at, DesignInventoryItem.id)
    )
    for row in session.execute(stmt):
        line = dict(row._mapping)
        lines[line.pop("design_id")].append(line)
    return lines


def bom_item_ids(session: Session, design_id: str) -> set[str]:
    return set(
        session.scalars(
            select(DesignInventoryItem.inventory_item_id).where(
                DesignInventoryItem.design_id == design_id
            )
        )
    )


def existing_item_ids(session: Session, item_ids: Iterable[str]) -> set[str]:
    ids = list(item_ids)
    if not ids:
        return set()
    return set(session.scalars(select(InventoryItem.id).where(InventoryItem.id.in_(ids))))


def bom_line(session: Session, design_id: str, item_id: str) -> DesignInventoryItem | None:
    return session.scalars(
        select(DesignInventoryItem).where(
            DesignInventoryItem.design_id == design_id,
            DesignInventoryItem.inventory_item_id == item_id,
        )
    ).one_or_none()


def set_bom_quantity(session: Session, design_id: str, item_id: str, quantity: float) -> bool:
    """Update an existing line; False when the design has no line for the item."""
    result = session.execute(
        update(DesignInventoryItem)
        .where(
            DesignInventoryItem.design_id == design_id,
            DesignInventoryItem.inventory_item_id == item_id,
        )
        .values(planned_quantity=quantity)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def delete_bom_line(session: Session, design_id: str, item_id: str) -> bool:
    result = session.execute(
        delete(DesignInventoryItem)
        .where(
            DesignInventoryItem.design_id == design_id,
            DesignInventoryItem.inventory_item_id == item_id,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def is_linked(session: Session, design_id: str, partner_id: str) -> bool:
    found = session.scalar(
        select(DesignPartner.partner_id).where(
            DesignPartner.design_id == design_id, DesignPartner.partner_id == partner_id
        )
    )
    return found is not None


def touch_design(session: Session, design_id: str) -> None:
    session.execute(
        update(Design)
        .where(Design.id == design_id)
        .values(updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )


def move_status(session: Session, design_id: str, to_status: str, frozen: Iterable[str]) -> bool:
    """Conditional update: changes the status unless it is already ``to_status`` or frozen."""
    result = session.execute(
        update(Design)
        .where(
            Design.id == design_id,
            Design.status != to_status,
            Design.status.not_in(list(frozen)),
        )
        .values(status=to_status, updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0))


# --- products -----------------------------------------------------------------------------------


def get_product(session: Session, product_id: str) -> Product | None:
    return session.scalars(
        select(Product).where(Product.id == product_id).options(selectinload(Product.variants))
    ).one_or_none()


def list_products(
    session: Session, *, design_id: str | None, q: str | None, limit: int, offset: int
) -> tuple[Sequence[Product], int]:
    query = select(Product)
    if design_id is not None:
        query = query.where(Product.design_id == design_id)
    if q:
        query = query.where(func.lower(Product.title).like(like_pattern(q), escape="\\"))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Product.variants))
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, count


def existing_design_ids(session: Session, design_ids: Iterable[str]) -> set[str]:
    ids = list(set(design_ids))
    if not ids:
        return set()
    return set(session.scalars(select(Design.id).where(Design.id.in_(ids))))


def taken_skus(session: Session, skus: Iterable[str]) -> set[str]:
    wanted = list(set(skus))
    if not wanted:
        return set()
    return set(
        s
        for s in session.scalars(select(ProductVariant.sku).where(ProductVariant.sku.in_(wanted)))
        if s is not None
    )


def get_variant(session: Session, variant_id: str) -> ProductVariant | None:
    return session.get(ProductVariant, variant_id)


def variant_links(session: Session, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """``{variant_id: (product_id, design_id)}`` for the variants that exist."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(ProductVariant.id, ProductVariant.product_id, ProductVariant.design_id).where(
            ProductVariant.id.in_(wanted)
        )
    )
    return {vid: (pid, did) for vid, pid, did in rows}


def product_design_ids(session: Session, ids: Iterable[str]) -> dict[str, str | None]:
    """``{product_id: design_id}`` for the products that exist."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(Product.id, Product.design_id).where(Product.id.in_(wanted)))
    return {pid: did for pid, did in rows}
