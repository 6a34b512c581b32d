"""Order rules: create an order once per external id and announce it with ``order.placed``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.orders import repository as repo
from atelier.orders.errors import OrderCode
from atelier.orders.models import Order, OrderLineItem
from atelier.platform.actors import Actor
from atelier.platform.errors import Invalid, NotFound, not_found
from atelier.platform.ids import new_id
from atelier.platform.outbox import emit_many

log = logging.getLogger(__name__)

ORDER_PLACED = "order.placed"
MAX_LINES = 500


@dataclass(frozen=True, slots=True)
class LineInput:
    """One order line as received; ids may be unknown to us when ``strict`` is off."""

    product_id: str | None
    variant_id: str | None
    quantity: int
    title: str | None = None


@dataclass(slots=True)
class CreateResult:
    order: Order
    created: bool
    unmapped: list[dict[str, Any]] = field(default_factory=list)


def get_order(session: Session, order_id: str) -> Order:
    """The order with its line items, or 404 ``order_not_found``."""
    order = repo.order_with_items(session, order_id)
    if order is None:
        raise not_found("order", order_id)
    return order


def line_orders(session: Session, line_ids: Sequence[str]) -> dict[str, str]:
    """The order of each order line that exists (one statement)."""
    return repo.line_orders(session, line_ids)


def list_orders(
    session: Session,
    *,
    external_id: str | None = None,
    email: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Order], int]:
    """Orders newest first, with their items."""
    return repo.list_orders(
        session, external_id=external_id, email=email, limit=limit, offset=offset
    )


def _validate_lines(
    session: Session, lines: Sequence[LineInput], *, strict: bool
) -> list[dict[str, Any]]:
    """Strict: every product exists (404) and a variant belongs to its product (422).

    Lenient (webhooks): nothing is refused; lines we cannot map are returned so they are logged
    and kept on the order, and simply get no production run downstream.
    """
    products = repo.products_by_ids(session, [ln.product_id for ln in lines if ln.product_id])
    variants = repo.variants_by_ids(session, [ln.variant_id for ln in lines if ln.variant_id])
    unmapped: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        problem: str | None = None
        if line.product_id is None or line.product_id not in products:
            problem = "unknown_product"
            if strict:
                err = not_found("product", line.product_id or "")
                raise NotFound(err.detail, code=err.code, extra={"line": index})
        variant = variants.get(line.variant_id) if line.variant_id else None
        if problem is None and line.variant_id is not None:
            if variant is None:
                problem = "unknown_variant"
                if strict:
                    err = not_found("variant", line.variant_id)
                    raise NotFound(err.detail, code=err.code, extra={"line": index})
            elif variant.product_id != line.product_id:
                problem = "variant_product_mismatch"
                if strict:
                    raise Invalid(
                        f"variant {line.variant_id!r} does not belong to product "
                        f"{line.product_id!r}",
                        code=OrderCode.VARIANT_PRODUCT_MISMATCH,
                        extra={"line": index},
                    )
        if problem is not None:
            unmapped.append(
                {
                    "position": index,
                    "product_id": line.product_id,
                    "variant_id": line.variant_id,
                    "problem": problem,
                }
            )
    return unmapped


def placed_payload(order: Order) -> dict[str, Any]:
    """The ``order.placed`` payload: ids and quantities only."""
    return {
        "order_id": order.id,
        "external_id": order.external_id,
        "items": [
            {
                "id": item.id,
                "product_id": item.product_id,
                "variant_id": item.variant_id,
                "quantity": item.quantity,
            }
            for item in order.items
        ],
    }


def create_order(
    session: Session,
    *,
    lines: Sequence[LineInput],
    actor: Actor,
    external_id: str | None = None,
    email: str | None = None,
    source: str = "admin",
    strict: bool = True,
    metadata: dict[str, Any] | None = None,
) -> CreateResult:
    """Create the order and emit ``order.placed`` in the caller's transaction.

    An ``external_id`` seen before returns the existing order (``created`` False) and emits
    nothing; the unique key plus a SAVEPOINT make this hold for concurrent deliveries too.
    """
    if not lines:
        raise Invalid("an order needs at least one item", code=OrderCode.EMPTY_ORDER)
    if len(lines) > MAX_LINES:
        raise Invalid(f"an order has at most {MAX_LINES} items", code=OrderCode.TOO_MANY_ITEMS)
    if external_id is not None:
        existing = repo.order_by_external_id(session, external_id)
        if existing is not None:
            return CreateResult(existing, False)
    unmapped = _validate_lines(session, lines, strict=strict)
    meta = dict(metadata or {})
    if unmapped:
        meta["unmapped_lines"] = unmapped
    order = Order(external_id=external_id, email=email, source=source, metadata_=meta)
    # Ids made here, as the column default would: with every key known, the ORM inserts the
    # lines as one executemany of a one-row statement instead of a multi-row INSERT ...
    # RETURNING that PostgreSQL's driver parses anew for each order.
    order.items = [
        OrderLineItem(
            id=new_id("oli"),
            position=index,
            product_id=line.product_id,
            variant_id=line.variant_id,
            quantity=line.quantity,
            title=line.title,
        )
        for index, line in enumerate(lines)
    ]
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        # A concurrent delivery of the same order committed first.
        existing = repo.order_by_external_id(session, external_id) if external_id else None
        if existing is None:
            raise
        log.info("order already received", extra={"order_id": existing.id, "source": source})
        return CreateResult(existing, False)
    # One Core insert (the order and its lines are flushed already): no second flush at commit.
    emit_many(session, ORDER_PLACED, [placed_payload(order)])
    for line in unmapped:
        log.warning(
            "order line has no known product",
            extra={
                "order_id": order.id,
                "order_line_item_id": order.items[line["position"]].id,
                "product_id": line["product_id"],
                "variant_id": line["variant_id"],
                "problem": line["problem"],
            },
        )
    log.info(
        "order placed",
        extra={
            "order_id": order.id,
            "source": source,
            "actor_type": actor.type.value,
            "lines": len(order.items),
        },
    )
    return CreateResult(order, True, unmapped)
