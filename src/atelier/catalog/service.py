"""Designs (status, specs, bill of materials, partner links), products and variants."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.catalog import repository
from atelier.catalog.errors import CatalogCode
from atelier.catalog.models import (
    Design,
    DesignInventoryItem,
    DesignPartner,
    DesignStatus,
    Product,
    ProductVariant,
)
from atelier.catalog.schemas import BomUpsert, DesignCreate, DesignUpdate, ProductCreate
from atelier.partners import service as partners_service
from atelier.platform.errors import Conflict, NotFound, not_found

log = logging.getLogger(__name__)

# Sample-run milestones never move a design out of these statuses.
FROZEN_STATUSES = frozenset({DesignStatus.REJECTED, DesignStatus.SUPERSEDED})


# --- contract functions used by other domains ---------------------------------------------------


def get_design(session: Session, design_id: str) -> Design:
    """The design, or 404 ``design_not_found``."""
    design = repository.get_design(session, design_id)
    if design is None:
        raise not_found("design", design_id)
    return design


def design_snapshot(session: Session, design: Design) -> dict[str, Any]:
    """What a run captures of its design at creation: descriptive fields and the current BOM."""
    return _snapshot(design, repository.bom_lines(session, design.id))


def design_snapshots(
    session: Session, design_ids: Sequence[str]
) -> tuple[dict[str, Design], dict[str, dict[str, Any]]]:
    """The designs that exist among ``design_ids`` and their ``design_snapshot`` (two
    statements, however many designs)."""
    designs = repository.designs_by_ids(session, design_ids)
    boms = repository.bom_lines_of(session, designs)
    return designs, {design_id: _snapshot(d, boms[design_id]) for design_id, d in designs.items()}


def _snapshot(design: Design, bom: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": design.name,
        "description": design.description,
        "status": design.status,
        "specifications": design.specifications,
        "colors": design.colors,
        "sizes": design.sizes,
        "thumbnail_url": design.thumbnail_url,
        "media_files": design.media_files,
        "moodboard": design.moodboard,
        "bom": [
            {
                "inventory_item_id": line["inventory_item_id"],
                "sku": line["sku"],
                "title": line["title"],
                "unit_of_measure": line["unit_of_measure"],
                "planned_quantity": line["planned_quantity"],
            }
            for line in bom
        ],
    }


LineRef = tuple[str | None, str | None]  # (product_id, variant_id) of an order line


def design_for_line(session: Session, product_id: str | None, variant_id: str | None) -> str | None:
    """The design an order line resolves to: the variant's link wins over the product's."""
    return designs_for_lines(session, [(product_id, variant_id)])[(product_id, variant_id)]


def designs_for_lines(session: Session, lines: Sequence[LineRef]) -> dict[LineRef, str | None]:
    """The design each order line resolves to (the variant's link wins over the product's).

    Two statements whatever the number of lines: the variants, then the products they need.
    """
    variants = repository.variant_links(session, {v for _, v in lines if v})
    owners: dict[LineRef, str | None] = {}
    resolved: dict[LineRef, str | None] = {}
    for product_id, variant_id in lines:
        product_of_variant: str | None = None
        link = variants.get(variant_id) if variant_id else None
        if link is not None and (product_id is None or link[0] == product_id):
            if link[1]:
                resolved[(product_id, variant_id)] = link[1]
                continue
            product_of_variant = link[0]
        owners[(product_id, variant_id)] = product_id or product_of_variant
    products = repository.product_design_ids(session, {o for o in owners.values() if o})
    for line, owner in owners.items():
        resolved[line] = products.get(owner) if owner else None
    return resolved


def output_item_id(session: Session, design_id: str, variant_id: str | None) -> str | None:
    """The inventory item made goods are stocked as: the variant's, else the design's."""
    if variant_id:
        variant = repository.get_variant(session, variant_id)
        if variant is not None and variant.inventory_item_id:
            return variant.inventory_item_id
    return get_design(session, design_id).output_inventory_item_id


def link_partner(session: Session, design_id: str, partner_id: str) -> bool:
    """Link a partner to a design (idempotent, race-safe); True when the link is new."""
    get_design(session, design_id)
    partners_service.get_partner(session, partner_id)
    if repository.is_linked(session, design_id, partner_id):
        return False
    # The composite primary key settles two concurrent links: the loser just reports False.
    try:
        with session.begin_nested():
            session.add(DesignPartner(design_id=design_id, partner_id=partner_id))
            session.flush()
    except IntegrityError:
        return False
    log.info("partner linked to design", extra={"design_id": design_id, "partner_id": partner_id})
    return True


def bom_item_ids(session: Session, design_id: str) -> set[str]:
    """Inventory item ids in the design's current bill of materials (empty when none)."""
    return repository.bom_item_ids(session, design_id)


def move_design_status(session: Session, design_id: str, to_status: DesignStatus) -> bool:
    """Move the design to ``to_status`` unless Rejected/Superseded; True when it changed."""
    changed = repository.move_status(session, design_id, to_status, FROZEN_STATUSES)
    if changed:
        log.info("design status moved", extra={"design_id": design_id, "to_status": str(to_status)})
    return changed


def lock_design(session: Session, design_id: str) -> Design:
    """The design locked for the rest of the transaction (read inside the lock); 404."""
    design = repository.lock_design(session, design_id)
    if design is None:
        raise not_found("design", design_id)
    return design


def _media_keys(media_files: Sequence[Any]) -> tuple[set[str], set[str]]:
    ids: set[str] = set()
    urls: set[str] = set()
    for item in media_files:
        if isinstance(item, str):
            urls.add(item)
        elif isinstance(item, dict):
            if isinstance(item.get("id"), str):
                ids.add(item["id"])
            if isinstance(item.get("url"), str):
                urls.add(item["url"])
    return ids, urls


def attach_design_media(
    session: Session,
    design_id: str,
    entries: Sequence[dict[str, Any]],
    *,
    thumbnail_url: str | None = None,
) -> tuple[Design, list[dict[str, Any]]]:
    """Append media entries (``{id, url, ...}``) not already on the design (by id or url) and
    optionally set its thumbnail; returns the design and the entries added.

    The design row is locked and read inside the lock, so concurrent attaches lose nothing.
    """
    design = lock_design(session, design_id)
    current = list(design.media_files or [])
    ids, urls = _media_keys(current)
    added = []
    for entry in entries:
        if (entry["id"] and entry["id"] in ids) or entry["url"] in urls:
            continue
        current.append(entry)
        added.append(entry)
        if entry["id"]:
            ids.add(entry["id"])
        urls.add(entry["url"])
    if added:
        # A new list object: JSON columns only notice reassignment, not in-place mutation.
        design.media_files = current
    if thumbnail_url is not None and design.thumbnail_url != thumbnail_url:
        design.thumbnail_url = thumbnail_url
    return design, added


def partner_can_view_design(session: Session, design_id: str, partner_id: str) -> bool:
    """Whether the partner is linked to the design (read access in the partner API)."""
    return repository.is_linked(session, design_id, partner_id)


# --- designs ------------------------------------------------------------------------------------


def design_read(session: Session, design_id: str) -> dict[str, Any]:
    """The admin read of a design (``DesignRead`` with Python values) in three statements:
    the design row, its BOM lines with item details, its linked partners. 404 when unknown."""
    design = repository.design_row(session, design_id)
    if design is None:
        raise not_found("design", design_id)
    design["bom"] = repository.bom_lines(session, design_id)
    design["partners"] = repository.linked_partners(session, design_id)
    return design


def design_detail(session: Session, design: Design) -> dict[str, Any]:
    """The admin view of a design: its fields, BOM lines with item details and linked partners."""
    return {
        "id": design.id,
        "name": design.name,
        "description": design.description,
        "status": design.status,
        "thumbnail_url": design.thumbnail_url,
        "media_files": design.media_files,
        "specifications": design.specifications,
        "colors": design.colors,
        "sizes": design.sizes,
        "moodboard": design.moodboard,
        "output_inventory_item_id": design.output_inventory_item_id,
        "metadata_": design.metadata_,
        "created_at": design.created_at,
        "updated_at": design.updated_at,
        "bom": repository.bom_lines(session, design.id),
        "partners": repository.linked_partners(session, design.id),
    }


def _require_item(session: Session, item_id: str) -> None:
    if item_id not in repository.existing_item_ids(session, [item_id]):
        raise not_found("inventory_item", item_id)


def create_design(session: Session, data: DesignCreate) -> Design:
    """A new design (``Conceptual`` unless a status is given)."""
    if data.output_inventory_item_id is not None:
        _require_item(session, data.output_inventory_item_id)
    design = Design(
        name=data.name,
        description=data.description,
        status=data.status,
        specifications=data.specifications or {},
        colors=data.colors or [],
        sizes=data.sizes or [],
        thumbnail_url=data.thumbnail_url,
        media_files=data.media_files or [],
        moodboard=data.moodboard or {},
        metadata_=data.metadata or {},
        output_inventory_item_id=data.output_inventory_item_id,
    )
    session.add(design)
    session.flush()
    log.info("design created", extra={"design_id": design.id})
    return design


_EMPTY_DEFAULTS: dict[str, Any] = {
    "specifications": dict,
    "colors": list,
    "sizes": list,
    "media_files": list,
    "moodboard": dict,
}


def update_design(session: Session, design_id: str, data: DesignUpdate) -> Design:
    """Apply the fields sent; ``null`` clears optional fields (JSON ones become empty)."""
    design = get_design(session, design_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("output_inventory_item_id") is not None:
        _require_item(session, changes["output_inventory_item_id"])
    if "metadata" in changes:
        design.metadata_ = changes.pop("metadata") or {}
    for key, value in changes.items():
        if value is None and key in _EMPTY_DEFAULTS:
            value = _EMPTY_DEFAULTS[key]()
        setattr(design, key, value)
    session.flush()
    log.info("design updated", extra={"design_id": design_id, "fields": sorted(changes)})
    return design


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
    """A page of designs and the total count for the filters (``partner_id``: linked ones)."""
    return repository.list_designs(
        session, status=status, q=q, sort=sort, limit=limit, offset=offset, partner_id=partner_id
    )


def partner_designs(
    session: Session,
    partner_id: str,
    *,
    status: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Design], int]:
    """The designs a partner is linked to (newest first), for the read-only partner API."""
    return repository.list_designs(
        session,
        status=status,
        q=q,
        sort="-created_at",
        limit=limit,
        offset=offset,
        partner_id=partner_id,
    )


def upsert_bom(session: Session, design_id: str, data: BomUpsert) -> Design:
    """Add or update BOM lines; any unknown item is a 404 and nothing is written."""
    design = get_design(session, design_id)
    wanted = [line.inventory_item_id for line in data.items]
    known = repository.existing_item_ids(session, wanted)
    missing = [item_id for item_id in wanted if item_id not in known]
    if missing:
        raise NotFound(
            f"inventory item {missing[0]!r} was not found",
            code=CatalogCode.INVENTORY_ITEM_NOT_FOUND,
            extra={"missing_inventory_item_ids": missing},
        )
    for line in data.items:
        item_id, quantity = line.inventory_item_id, line.planned_quantity
        if repository.set_bom_quantity(session, design_id, item_id, quantity):
            continue
        # A concurrent request may add the same line; the unique key turns that into an update.
        try:
            with session.begin_nested():
                session.add(
                    DesignInventoryItem(
                        design_id=design_id, inventory_item_id=item_id, planned_quantity=quantity
                    )
                )
                session.flush()
        except IntegrityError:
            repository.set_bom_quantity(session, design_id, item_id, quantity)
    repository.touch_design(session, design_id)
    log.info("design BOM updated", extra={"design_id": design_id, "items": len(wanted)})
    return design


def remove_bom_line(session: Session, design_id: str, item_id: str) -> Design:
    """Remove one BOM line; 404 when the design has no line for the item."""
    design = get_design(session, design_id)
    if not repository.delete_bom_line(session, design_id, item_id):
        raise NotFound(
            f"design {design_id!r} has no bill-of-materials line for {item_id!r}",
            code=CatalogCode.BOM_LINE_NOT_FOUND,
        )
    repository.touch_design(session, design_id)
    log.info("design BOM line removed", extra={"design_id": design_id, "item_id": item_id})
    return design


# --- products -----------------------------------------------------------------------------------


def get_product(session: Session, product_id: str) -> Product:
    """The product with its variants, or 404 ``product_not_found``."""
    product = repository.get_product(session, product_id)
    if product is None:
        raise not_found("product", product_id)
    return product


def list_products(
    session: Session, *, design_id: str | None, q: str | None, limit: int, offset: int
) -> tuple[Sequence[Product], int]:
    """A page of products (newest first) with variants, and the total count."""
    return repository.list_products(session, design_id=design_id, q=q, limit=limit, offset=offset)


def _sku_taken(sku: str) -> Conflict:
    return Conflict(f"sku {sku!r} is already used by another variant", code=CatalogCode.SKU_TAKEN)


def create_product(session: Session, data: ProductCreate) -> Product:
    """A product with its variants; 404 for unknown designs/items, 409 ``sku_taken``."""
    design_ids = [d for d in [data.design_id, *(v.design_id for v in data.variants)] if d]
    known_designs = repository.existing_design_ids(session, design_ids)
    for design_id in design_ids:
        if design_id not in known_designs:
            raise not_found("design", design_id)
    item_ids = [v.inventory_item_id for v in data.variants if v.inventory_item_id]
    known_items = repository.existing_item_ids(session, item_ids)
    for item_id in item_ids:
        if item_id not in known_items:
            raise not_found("inventory_item", item_id)
    skus = [v.sku for v in data.variants if v.sku]
    taken = repository.taken_skus(session, skus)
    if taken:
        raise _sku_taken(sorted(taken)[0])
    product = Product(title=data.title, design_id=data.design_id, metadata_=data.metadata or {})
    product.variants = [
        ProductVariant(
            title=v.title, sku=v.sku, design_id=v.design_id, inventory_item_id=v.inventory_item_id
        )
        for v in data.variants
    ]
    # Unique SKUs are enforced by the database; a concurrent create loses with a 409.
    try:
        with session.begin_nested():
            session.add(product)
            session.flush()
    except IntegrityError:
        raise Conflict("a variant sku is already in use", code=CatalogCode.SKU_TAKEN) from None
    log.info("product created", extra={"product_id": product.id, "variants": len(data.variants)})
    return get_product(session, product.id)
