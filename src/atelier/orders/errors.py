"""Problem codes of orders and inbound webhooks."""

from __future__ import annotations

from enum import StrEnum


class OrderCode(StrEnum):
    EMPTY_ORDER = "empty_order"
    INVALID_JSON = "invalid_json"
    MEDUSA_ITEMS_MISSING = "medusa_items_missing"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNATURE_MISSING = "signature_missing"
    TOO_MANY_ITEMS = "too_many_items"
    VARIANT_PRODUCT_MISMATCH = "variant_product_mismatch"
