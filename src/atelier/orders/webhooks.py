"""Inbound order webhooks: signature checks and the generic, Shopify and Medusa adapters.

Every adapter turns a verified raw body into :class:`WebhookOrder` (external id, email and
lines with *our* product/variant ids where they can be mapped). Lines that cannot be mapped keep
the shop's ids as-is so the order is stored whole; ``order.placed`` subscribers log them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from sqlalchemy.orm import Session

from atelier.orders import repository as repo
from atelier.orders.errors import OrderCode
from atelier.orders.schemas import OrderCreate
from atelier.orders.service import LineInput
from atelier.platform.errors import Invalid, PlatformCode, Unauthorized
from atelier.platform.jsonbody import MalformedJson, decode_json_body
from atelier.platform.schemas import Quantity, json_input, no_nul

log = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)

Source = Literal["generic", "shopify", "medusa"]
ATELIER_HEADER = "x-atelier-signature"
SHOPIFY_HEADER = "x-shopify-hmac-sha256"
# Products carry the shop platform's product id in their metadata under these keys.
SHOPIFY_PRODUCT_KEY = "shopify_product_id"
MEDUSA_PRODUCT_KEY = "medusa_product_id"
MAX_EXTERNAL_INT = 2**63


# --- signatures -------------------------------------------------------------------------------


def _digest(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def atelier_signature(secret: str, body: bytes) -> str:
    """The ``X-Atelier-Signature`` value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + _digest(secret, body).hex()


def shopify_signature(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value for ``body``: base64 of the HMAC-SHA256 digest."""
    return base64.b64encode(_digest(secret, body)).decode()


def verify(source: Source, headers: dict[str, str], secret: str, body: bytes) -> None:
    """Raise 401 unless the body carries a valid signature for its source (constant time)."""
    if source == "shopify":
        given = headers.get(SHOPIFY_HEADER)
        expected = shopify_signature(secret, body)
        header_name = "X-Shopify-Hmac-Sha256"
    else:
        given = headers.get(ATELIER_HEADER)
        expected = atelier_signature(secret, body)
        header_name = "X-Atelier-Signature"
    if not given:
        raise Unauthorized(f"missing {header_name} header", code=OrderCode.SIGNATURE_MISSING)
    given = given.strip()
    if source != "shopify":
        scheme, _, hexpart = given.partition("=")
        given = f"{scheme.lower()}={hexpart.lower()}"
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        raise Unauthorized("the webhook signature does not match", code=OrderCode.SIGNATURE_INVALID)


# --- adapters ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookOrder:
    external_id: str | None
    email: str | None
    lines: list[LineInput]
    metadata: dict[str, Any]


def _ext_id(value: Any) -> Any:
    # Shop platforms send numeric ids (Shopify) or strings (Medusa); we store strings.
    if isinstance(value, bool):
        raise ValueError("must be a string or an integer")
    if isinstance(value, int):
        if abs(value) >= MAX_EXTERNAL_INT:
            raise ValueError("is out of range")
        return str(value)
    return value


ExtId = Annotated[
    str,
    BeforeValidator(_ext_id),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(no_nul),
]
OrderExtId = Annotated[
    str,
    BeforeValidator(_ext_id),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=180),
    AfterValidator(no_nul),
]
Text = Annotated[str, StringConstraints(max_length=500), AfterValidator(no_nul)]
ShopEmail = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(no_nul)
]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=120), AfterValidator(no_nul)
]
LineQuantity = Quantity


class _ShopPayload(BaseModel):
    # Shops send many fields we do not use; they are ignored, not refused.
    model_config = ConfigDict(extra="ignore")


class ShopifyLineItem(_ShopPayload):
    id: ExtId | None = None
    product_id: ExtId | None = None
    variant_id: ExtId | None = None
    sku: Sku | None = None
    quantity: LineQuantity
    title: Text | None = None


class ShopifyOrder(_ShopPayload):
    id: OrderExtId
    email: ShopEmail | None = None
    line_items: Annotated[list[ShopifyLineItem], Field(min_length=1, max_length=500)]


class MedusaLineItem(_ShopPayload):
    id: ExtId | None = None
    product_id: ExtId | None = None
    variant_id: ExtId | None = None
    variant_sku: Sku | None = None
    sku: Sku | None = None
    quantity: LineQuantity
    title: Text | None = None


class MedusaOrder(_ShopPayload):
    id: OrderExtId
    email: ShopEmail | None = None
    items: Annotated[list[MedusaLineItem], Field(min_length=1, max_length=500)]


def _validation_error(exc: ValidationError) -> Invalid:
    errors = [
        {
            "field": ".".join(["body", *(str(p) for p in err.get("loc", ()))]),
            "message": err.get("msg", ""),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return Invalid(
        f"{first['field']}: {first['message']}",
        code=PlatformCode.VALIDATION_ERROR,
        extra={"errors": errors},
    )


def _validate(model: type[_M], data: Any) -> _M:
    """``data`` (decoded JSON) as ``model``, with JSON's strict numbers and booleans."""
    try:
        with json_input():
            return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def _json(body: bytes) -> Any:
    # Same rules and answer as every JSON body (``platform.middleware.JsonBodyCheck``), which
    # only sees bodies sent with a JSON content type.
    try:
        return decode_json_body(body)
    except MalformedJson as exc:
        error = {"field": "body", "message": str(exc), "type": "json_invalid"}
        raise Invalid(
            f"body: {exc}", code=PlatformCode.VALIDATION_ERROR, extra={"errors": [error]}
        ) from None


@dataclass(frozen=True, slots=True)
class _ShopLine:
    product_id: str | None
    variant_id: str | None
    sku: str | None
    quantity: int
    title: str | None


def _map_lines(
    session: Session, lines: list[_ShopLine], *, metadata_key: str, ids_may_be_ours: bool
) -> list[LineInput]:
    """Map shop lines to our products: variant sku first, then the product's stored shop id
    (or, for Medusa, our own ids), else the shop's ids unchanged."""
    by_sku = repo.variants_by_skus(session, [ln.sku for ln in lines if ln.sku])
    by_ext = repo.products_by_external_ids(
        session, metadata_key, [ln.product_id for ln in lines if ln.product_id]
    )
    own_products = (
        repo.products_by_ids(session, [ln.product_id for ln in lines if ln.product_id])
        if ids_may_be_ours
        else {}
    )
    own_variants = (
        repo.variants_by_ids(session, [ln.variant_id for ln in lines if ln.variant_id])
        if ids_may_be_ours
        else {}
    )
    out: list[LineInput] = []
    for ln in lines:
        variant = (by_sku.get(ln.sku) if ln.sku else None) or (
            own_variants.get(ln.variant_id) if ln.variant_id else None
        )
        if variant is not None:
            out.append(LineInput(variant.product_id, variant.id, ln.quantity, ln.title))
            continue
        product_id = None
        if ln.product_id:
            product_id = by_ext.get(ln.product_id) or (
                ln.product_id if ln.product_id in own_products else None
            )
        if product_id is not None:
            out.append(LineInput(product_id, None, ln.quantity, ln.title))
        else:
            out.append(LineInput(ln.product_id, ln.variant_id, ln.quantity, ln.title))
    return out


def parse_generic(session: Session, body: bytes) -> WebhookOrder:
    """The admin order body, verbatim."""
    data = _validate(OrderCreate, _json(body))
    lines = [LineInput(i.product_id, i.variant_id, i.quantity, i.title) for i in data.items]
    return WebhookOrder(data.external_id, data.email, lines, {"platform": "generic"})


def parse_shopify(session: Session, body: bytes) -> WebhookOrder:
    """Shopify ``orders/create``: ``id``, ``email``, ``line_items[{product_id, variant_id, sku,
    quantity, title}]``; external id ``shopify:<id>``."""
    data = _validate(ShopifyOrder, _json(body))
    shop_lines = [
        _ShopLine(li.product_id, li.variant_id, li.sku or None, li.quantity, li.title)
        for li in data.line_items
    ]
    lines = _map_lines(session, shop_lines, metadata_key=SHOPIFY_PRODUCT_KEY, ids_may_be_ours=False)
    meta = {
        "platform": "shopify",
        "shopify_order_id": data.id,
        "shopify_line_item_ids": [li.id for li in data.line_items],
    }
    return WebhookOrder(f"shopify:{data.id}", data.email or None, lines, meta)


def parse_medusa(session: Session, body: bytes) -> WebhookOrder:
    """Medusa ``order.placed``: ``{"data": <order>}`` or the order itself, where the order has
    ``id``, ``email`` and ``items[{product_id, variant_id, variant_sku, quantity, title}]``;
    external id ``medusa:<id>``. An event carrying only ``{"data": {"id"}}`` is refused (422):
    the forwarder must include the items."""
    raw = _json(body)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        raw = raw["data"]
    if isinstance(raw, dict) and "id" in raw and "items" not in raw:
        raise Invalid(
            "the Medusa payload has no items; forward the order object with its items",
            code=OrderCode.MEDUSA_ITEMS_MISSING,
        )
    data = _validate(MedusaOrder, raw)
    shop_lines = [
        _ShopLine(
            li.product_id, li.variant_id, li.variant_sku or li.sku or None, li.quantity, li.title
        )
        for li in data.items
    ]
    lines = _map_lines(session, shop_lines, metadata_key=MEDUSA_PRODUCT_KEY, ids_may_be_ours=True)
    meta = {
        "platform": "medusa",
        "medusa_order_id": data.id,
        "medusa_line_item_ids": [li.id for li in data.items],
    }
    return WebhookOrder(f"medusa:{data.id}", data.email or None, lines, meta)


PARSERS = {"generic": parse_generic, "shopify": parse_shopify, "medusa": parse_medusa}
