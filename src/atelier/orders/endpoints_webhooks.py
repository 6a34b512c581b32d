"""Signed order webhooks: ``POST /webhooks/orders`` (generic, or detected Shopify/Medusa) and
``POST /webhooks/orders/{shopify|medusa}``."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response, status

from atelier.orders import service, webhooks
from atelier.orders.errors import OrderCode
from atelier.orders.schemas import OrderEnvelope, OrderOut
from atelier.platform.actors import Actor, ActorType, Channel
from atelier.platform.deps import AppSettings, DbSession, answer_committed
from atelier.platform.errors import TooLarge
from atelier.platform.routers import APIRouter

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks/orders", tags=["webhooks"])

MAX_BODY_BYTES = 1024 * 1024


async def raw_body(request: Request) -> bytes:
    """The raw request body (signatures cover the exact bytes), at most 1 MiB (else 413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge(f"the body exceeds {MAX_BODY_BYTES} bytes", code=OrderCode.PAYLOAD_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge(
                f"the body exceeds {MAX_BODY_BYTES} bytes", code=OrderCode.PAYLOAD_TOO_LARGE
            )
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(raw_body)]


def _receive(
    source: webhooks.Source,
    request: Request,
    body: bytes,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    headers = {k.lower(): v for k, v in request.headers.items()}
    webhooks.verify(source, headers, settings.webhook_secret.get_secret_value(), body)
    parsed = webhooks.PARSERS[source](session, body)
    actor = Actor(ActorType.SYSTEM, None, Channel.API, f"webhook:{source}")
    result = service.create_order(
        session,
        lines=parsed.lines,
        actor=actor,
        external_id=parsed.external_id,
        email=parsed.email,
        source=f"webhook:{source}",
        strict=False,
        metadata=parsed.metadata,
    )
    log.info(
        "order webhook received",
        extra={
            "source": source,
            "order_id": result.order.id,
            "external_id": result.order.external_id,
            "new_order": result.created,
        },
    )
    # Encoded once: the bytes FastAPI would write for the validated OrderEnvelope.
    envelope = OrderEnvelope(order=OrderOut.model_validate(result.order))
    answer = Response(
        envelope.model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        media_type="application/json",
    )
    return answer_committed(session, answer)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderEnvelope)
def receive_order(
    request: Request,
    body: RawBody,
    session: DbSession,
    settings: AppSettings,
    source: Annotated[Literal["generic", "shopify", "medusa"] | None, Query()] = None,
) -> Response:
    """An order from the shop: 201 when new, 200 when this external id was already received.

    The adapter is ``?source=`` when given, Shopify when ``X-Shopify-Hmac-Sha256`` is present,
    else the generic body signed with ``X-Atelier-Signature``.
    """
    if source is None:
        source = "shopify" if webhooks.SHOPIFY_HEADER in request.headers else "generic"
    return _receive(source, request, body, session, settings)


@router.post("/shopify", status_code=status.HTTP_201_CREATED, response_model=OrderEnvelope)
def receive_shopify_order(
    request: Request, body: RawBody, session: DbSession, settings: AppSettings
) -> Response:
    """A Shopify ``orders/create`` webhook signed with ``X-Shopify-Hmac-Sha256``."""
    return _receive("shopify", request, body, session, settings)


@router.post("/medusa", status_code=status.HTTP_201_CREATED, response_model=OrderEnvelope)
def receive_medusa_order(
    request: Request, body: RawBody, session: DbSession, settings: AppSettings
) -> Response:
    """A Medusa ``order.placed`` payload signed with ``X-Atelier-Signature``."""
    return _receive("medusa", request, body, session, settings)
