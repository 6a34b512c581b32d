"""An order's way to its runs costs a fixed number of statements, however many lines and
designs it has: the order placed through the API, then its ``order.placed`` event delivered by
the real dispatcher (the runs, their audit rows and events, the auto-approval look-ups of every
design in one statement each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher
from tests.factories import catalog, orders
from tests.factories.tasks import ensure_templates
from tests.production.read_support import statement_shapes, statements


def _products(admin: TestClient, designs: int) -> list[str]:
    """Products of ``designs`` new designs; every other design names a task template."""
    ensure_templates(admin, ["Cutting"])
    products = []
    for n in range(designs):
        metadata = {"default_templates": ["Cutting"]} if n % 2 else {}
        design = catalog.create_design(admin, metadata=metadata)
        products.append(catalog.create_product(admin, design_id=design["id"])["id"])
    return products


def _place_and_deliver(
    admin: TestClient, db: Database, drain: Callable[[], int], products: list[str], lines: int
) -> tuple[list[str], list[str], int]:
    """The statements placing the order, those delivering its ``order.placed``, runs made."""
    drain()  # only the new order's event is due below
    items: list[dict[str, Any]] = [
        {"product_id": products[n % len(products)], "quantity": 1} for n in range(lines)
    ]
    with statements(db) as placing:
        order = orders.create_order(admin, items=items)
    dispatcher = OutboxDispatcher(db, worker_id="statements", batch_size=1)
    with statements(db) as delivering:
        assert dispatcher.run_once() == 1
    runs = admin.get("/admin/production-runs", params={"order_id": order["id"], "limit": 500})
    return placing, delivering, runs.json()["count"]


def test_statements_do_not_grow_with_lines_or_designs(
    admin: TestClient, db: Database, drain: Callable[[], int]
) -> None:
    products = _products(admin, 6)
    small = _place_and_deliver(admin, db, drain, products[:2], 2)
    large = _place_and_deliver(admin, db, drain, products, 60)
    assert (small[2], large[2]) == (2, 60)
    assert statement_shapes(large[0]) == statement_shapes(small[0])
    assert statement_shapes(large[1]) == statement_shapes(small[1])
    shapes = statement_shapes(large[1])
    # The look-ups of the auto-approval: once per order, not once per design.
    assert shapes.count("SELECT partners") == 1, shapes
    assert shapes.count("SELECT task_templates") == 1, shapes
    assert len(shapes) <= 30, shapes
