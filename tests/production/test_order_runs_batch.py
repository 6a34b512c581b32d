"""order.placed → runs in a fixed number of statements: one design read, one executemany for the
runs, their audit rows and their events, however many lines of the same design; the rows are
those ``create_run`` writes; a racing delivery falls back to one line at a time."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.audit.models import RunEvent
from atelier.platform import clock
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent
from atelier.production import repository
from atelier.production.models import ProductionRun
from atelier.production.subscribers import create_runs_for_order
from tests.factories import catalog, orders
from tests.production.read_support import statements
from tests.production.test_order_placed import _event


def _payload(order: dict[str, Any]) -> dict[str, Any]:
    return _event(order).payload


def _order(admin: TestClient, product_id: str, lines: int) -> dict[str, Any]:
    items = [{"product_id": product_id, "quantity": n + 1} for n in range(lines)]
    return orders.create_order(admin, items=items)


def _deliver(db: Database, order: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Run the subscriber in a write session; the run ids created and the SQL sent."""
    with statements(db) as seen, db.session() as session:
        created = create_runs_for_order(session, _payload(order), event_id="evt_batch")
    return created, seen


@pytest.fixture
def product(admin: TestClient) -> dict[str, Any]:
    design = catalog.create_design(admin, name="Kurta")
    return catalog.create_product(admin, design_id=design["id"])


def test_statements_do_not_grow_with_lines_of_one_design(
    admin: TestClient, db: Database, product: dict[str, Any]
) -> None:
    one, seen_one = _deliver(db, _order(admin, product["id"], 1))
    twenty, seen_twenty = _deliver(db, _order(admin, product["id"], 20))
    assert (len(one), len(twenty)) == (1, 20)
    assert len(seen_twenty) == len(seen_one), (seen_one, seen_twenty)
    assert len(seen_one) <= 14, seen_one


def test_rows_are_those_create_run_writes(
    admin: TestClient, db: Database, product: dict[str, Any]
) -> None:
    order = _order(admin, product["id"], 3)
    created, _ = _deliver(db, order)
    with db.session(write=False) as session:
        runs = {r.id: r for r in session.scalars(select(ProductionRun))}
        audit = list(session.scalars(select(RunEvent).where(RunEvent.run_id.in_(created))))
        events = list(
            session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.name == "production_run.created")
                .order_by(OutboxEvent.id)
            )
        )
    assert sorted(runs) == sorted(created)
    for run_id, item in zip(created, order["items"], strict=True):
        run = runs[run_id]
        assert (run.status, run.order_line_item_id, run.quantity) == (
            "pending_review",
            item["id"],
            item["quantity"],
        )
        assert run.metadata_ == {"source": "order.placed", "event_id": "evt_batch"}
        assert run.snapshot["name"] == "Kurta"
        assert run.captured_at == clock.now()
        assert (run.depends_on_run_ids, run.reminder_counts) == ([], {})
    assert sorted((e.run_id, e.kind, e.to_status, e.actor_type, e.data) for e in audit) == sorted(
        (run_id, "created", "pending_review", "system", {}) for run_id in created
    )
    assert [e.payload for e in events] == [
        {
            "production_run_id": run_id,
            "partner_id": None,
            "design_id": product["design_id"],
            "parent_run_id": None,
            "run_type": "production",
            "status": "pending_review",
            "actor_type": "system",
            "actor_id": None,
            "channel": "api",
        }
        for run_id in created
    ]


def test_a_racing_delivery_falls_back_to_one_line_at_a_time(
    admin: TestClient,
    db: Database,
    product: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    order = _order(admin, product["id"], 2)
    with db.session() as session:
        first = _payload(order)
        first["items"] = first["items"][:1]
        (early,) = create_runs_for_order(session, first)
    # The pre-check misses the line a concurrent delivery just inserted.
    monkeypatch.setattr(repository, "order_lines_with_runs", lambda *_: set())
    with caplog.at_level(logging.INFO, logger="atelier.production.subscribers"):
        created, _ = _deliver(db, order)
    assert len(created) == 1 and created[0] != early
    duplicates = [r for r in caplog.records if "already has a production run" in r.getMessage()]
    assert [getattr(r, "order_line_item_id", None) for r in duplicates] == [order["items"][0]["id"]]
    with db.session(write=False) as session:
        assert session.scalar(select(RunEvent.kind).where(RunEvent.run_id == created[0])) == (
            "created"
        )


def test_unknown_order_line_is_skipped_alone(
    admin: TestClient, db: Database, product: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    order = _order(admin, product["id"], 2)
    payload = _payload(order)
    payload["items"][0]["id"] = "oli_unknown"
    with (
        caplog.at_level(logging.INFO, logger="atelier.production.subscribers"),
        db.session() as session,
    ):
        created = create_runs_for_order(session, payload)
    assert len(created) == 1
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert [getattr(r, "code", None) for r in skipped] == ["order_line_item_not_found"]
