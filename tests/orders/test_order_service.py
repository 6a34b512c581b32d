from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from atelier.orders import repository as order_repo
from atelier.orders import service
from atelier.platform.actors import Actor
from atelier.platform.db import Database
from atelier.platform.errors import Invalid
from tests.factories.catalog import create_product
from tests.orders.test_admin_orders import order_count, placed_events


class TestUniqueKeyDecides:
    def test_insert_losing_the_race_returns_the_winner(
        self, admin: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The pre-check misses a concurrently committed order; the unique key still wins."""
        product = create_product(admin)
        line = service.LineInput(product["id"], None, 1)
        with db.session() as session:
            winner = service.create_order(
                session, lines=[line], actor=Actor.system(), external_id="dup"
            ).order.id

        real = order_repo.order_by_external_id
        calls = {"n": 0}

        def stale_first_read(session, external_id):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return None if calls["n"] == 1 else real(session, external_id)

        monkeypatch.setattr(order_repo, "order_by_external_id", stale_first_read)
        with db.session() as session:
            result = service.create_order(
                session, lines=[line], actor=Actor.system(), external_id="dup"
            )
            assert result.created is False
            assert result.order.id == winner
            assert [i.quantity for i in result.order.items] == [1]
        assert calls["n"] == 2
        assert order_count(db) == 1
        assert len(placed_events(db)) == 1


class TestGuards:
    def test_empty_and_oversized_orders_are_refused(self, db: Database) -> None:
        with db.session() as session:
            with pytest.raises(Invalid):
                service.create_order(session, lines=[], actor=Actor.system())
            with pytest.raises(Invalid):
                service.create_order(
                    session,
                    lines=[service.LineInput("p", None, 1)] * 501,
                    actor=Actor.system(),
                    strict=False,
                )
