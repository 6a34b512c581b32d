"""Catalog test helpers: inventory items are inserted directly (the inventory API is not under
test here), everything else goes through the admin API."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from atelier.inventory.models import InventoryItem
from atelier.platform.db import Database

_seq = itertools.count(1)

MakeItem = Callable[..., str]


@pytest.fixture
def make_item(db: Database) -> MakeItem:
    """Create an inventory item; returns its id."""

    def _make(sku: str | None = None, title: str = "Cotton twill", unit: str = "m") -> str:
        item = InventoryItem(sku=sku or f"FAB-{next(_seq)}", title=title, unit_of_measure=unit)
        with db.session() as session:
            session.add(item)
        return item.id

    return _make
