"""Problem codes of designs, bills of materials, products and variants."""

from __future__ import annotations

from enum import StrEnum


class CatalogCode(StrEnum):
    BOM_LINE_NOT_FOUND = "bom_line_not_found"
    INVENTORY_ITEM_NOT_FOUND = "inventory_item_not_found"
    SEND_TO_PARTNER_RETIRED = "send_to_partner_retired"
    SKU_TAKEN = "sku_taken"
