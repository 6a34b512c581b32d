"""Admin orders API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response, status

from atelier.orders import service
from atelier.orders.schemas import ExternalId, OrderCreate, OrderEnvelope, OrderList, OrderOut
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import EntityId

router = APIRouter(prefix="/admin/orders", tags=["orders"])


def lines_from(body: OrderCreate) -> list[service.LineInput]:
    """The service's line input from a validated body."""
    return [
        service.LineInput(
            product_id=item.product_id,
            variant_id=item.variant_id,
            quantity=item.quantity,
            title=item.title,
        )
        for item in body.items
    ]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderEnvelope)
def create_order(
    body: OrderCreate, session: DbSession, admin: AdminPrincipal, response: Response
) -> OrderEnvelope:
    """Create an order and emit ``order.placed``; a known ``external_id`` answers 200 with it."""
    result = service.create_order(
        session,
        lines=lines_from(body),
        actor=admin.actor,
        external_id=body.external_id,
        email=body.email,
        source="admin",
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return OrderEnvelope(order=OrderOut.model_validate(result.order))


@router.get("", response_model=OrderList)
def list_orders(
    session: DbSession,
    _admin: AdminPrincipal,
    external_id: Annotated[ExternalId | None, Query()] = None,
    email: Annotated[str | None, Query(max_length=254, pattern=r"^[^\x00]*$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> OrderList:
    """Orders newest first, with items; filter by ``external_id`` or ``email``."""
    orders, count = service.list_orders(
        session, external_id=external_id, email=email, limit=limit, offset=offset
    )
    return OrderList.of(orders, count, limit=limit, offset=offset)


@router.get("/{order_id}", response_model=OrderEnvelope)
def get_order(
    order_id: Annotated[EntityId, Path()], session: DbSession, _admin: AdminPrincipal
) -> OrderEnvelope:
    """One order with its line items."""
    return OrderEnvelope(order=OrderOut.model_validate(service.get_order(session, order_id)))
