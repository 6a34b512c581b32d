"""Problem codes of inventory items, locations, levels and the ledger."""

from __future__ import annotations

from enum import StrEnum


class InventoryCode(StrEnum):
    FINISHED_GOODS_LOCATION_EXISTS = "finished_goods_location_exists"
    INVALID_KIND = "invalid_kind"
    INVALID_QUANTITY = "invalid_quantity"
    LOCATION_RACE = "location_race"
    PARTNER_REQUIRED = "partner_required"
    SKU_TAKEN = "sku_taken"
