from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.inventory import service
from atelier.inventory.models import InventoryMovement, MovementReason, StockLocation
from atelier.platform.actors import Actor
from atelier.platform.db import Database
from atelier.platform.errors import Invalid, NotFound
from tests.conftest import assert_problem, bearer
from tests.factories.catalog import create_partner
from tests.factories.inventory import create_item, create_location, get_item, level_at, set_level


def _move(db: Database, item_id: str, location_id: str, delta: float, key: str | None) -> bool:
    with db.session() as session:
        moved = service.move_stock(
            session,
            inventory_item_id=item_id,
            location_id=location_id,
            delta=delta,
            reason=MovementReason.CONSUMPTION,
            idempotency_key=key,
            actor=Actor.system(),
            production_run_id="prod_run_x",
        )
        return moved is not None


def _in_threads(n: int, target: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


class TestSetLevel:
    def test_first_set_creates_level_with_adjustment(self, admin: TestClient) -> None:
        item = create_item(admin)
        location = create_location(admin, name="Main")
        response = admin.post(
            f"/admin/inventory-items/{item['id']}/levels",
            json={"location_id": location["id"], "stocked_quantity": 120.5, "note": "count"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        level = body["inventory_level"]
        assert level["id"].startswith("ilevel_")
        assert level["stocked_quantity"] == 120.5
        assert level["location_name"] == "Main"
        movement = body["movement"]
        assert movement["reason"] == "adjustment"
        assert movement["quantity_delta"] == 120.5
        assert movement["balance_after"] == 120.5
        assert movement["note"] == "count"
        assert movement["actor_type"] == "admin"

    def test_second_set_moves_the_difference_and_answers_200(self, admin: TestClient) -> None:
        item = create_item(admin)
        location = create_location(admin)
        set_level(admin, item["id"], location["id"], 100)
        response = admin.post(
            f"/admin/inventory-items/{item['id']}/levels",
            json={"location_id": location["id"], "stocked_quantity": 70},
        )
        assert response.status_code == 200
        assert response.json()["movement"]["quantity_delta"] == -30
        detail = get_item(admin, item["id"])
        assert [m["quantity_delta"] for m in detail["movements"]] == [-30, 100]
        assert [m["balance_after"] for m in detail["movements"]] == [70, 100]
        assert len(detail["levels"]) == 1

    def test_same_value_writes_no_movement(self, admin: TestClient) -> None:
        item = create_item(admin)
        location = create_location(admin)
        set_level(admin, item["id"], location["id"], 5)
        response = admin.post(
            f"/admin/inventory-items/{item['id']}/levels",
            json={"location_id": location["id"], "stocked_quantity": 5},
        )
        assert response.status_code == 200
        assert response.json()["movement"] is None
        assert len(get_item(admin, item["id"])["movements"]) == 1

    def test_zero_on_a_new_level_creates_it(self, admin: TestClient) -> None:
        item = create_item(admin)
        location = create_location(admin)
        response = admin.post(
            f"/admin/inventory-items/{item['id']}/levels",
            json={"location_id": location["id"], "stocked_quantity": 0},
        )
        assert response.status_code == 201
        assert level_at(admin, item["id"], location["id"]) == 0

    def test_levels_per_location(self, admin: TestClient) -> None:
        item = create_item(admin)
        a = create_location(admin, name="A")
        b = create_location(admin, name="B")
        set_level(admin, item["id"], a["id"], 1)
        set_level(admin, item["id"], b["id"], 2)
        levels = get_item(admin, item["id"])["levels"]
        assert {(lv["location_name"], lv["stocked_quantity"]) for lv in levels} == {
            ("A", 1),
            ("B", 2),
        }

    def test_unknown_item_is_404(self, admin: TestClient) -> None:
        location = create_location(admin)
        response = admin.post(
            "/admin/inventory-items/iitem_nope/levels",
            json={"location_id": location["id"], "stocked_quantity": 1},
        )
        assert_problem(response, 404, "inventory_item_not_found")

    def test_unknown_location_is_404(self, admin: TestClient) -> None:
        item = create_item(admin)
        response = admin.post(
            f"/admin/inventory-items/{item['id']}/levels",
            json={"location_id": "sloc_nope", "stocked_quantity": 1},
        )
        assert_problem(response, 404, "stock_location_not_found")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"stocked_quantity": 1},
            {"location_id": "sloc_x"},
            {"location_id": "sloc_x", "stocked_quantity": -1},
            {"location_id": "sloc_x", "stocked_quantity": 1e9 + 1},
            {"location_id": "sloc_x", "stocked_quantity": "lots"},
            {"location_id": "sloc_x", "stocked_quantity": None},
            {"location_id": "sloc_x", "stocked_quantity": 1, "note": "x" * 501},
            {"location_id": "s\x00", "stocked_quantity": 1},
            {"location_id": "sloc_x", "stocked_quantity": 1, "extra": 1},
        ],
    )
    def test_bad_input_is_422(self, admin: TestClient, body: dict[str, object]) -> None:
        item = create_item(admin)
        response = admin.post(f"/admin/inventory-items/{item['id']}/levels", json=body)
        assert_problem(response, 422, "validation_error")

    @pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
    def test_non_finite_numbers_are_422(self, admin: TestClient, raw: bytes) -> None:
        item = create_item(admin)
        body = b'{"location_id": "sloc_x", "stocked_quantity": ' + raw + b"}"
        response = admin.post(
            f"/admin/inventory-items/{item['id']}/levels",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert_problem(response, 422)


class TestMovementsList:
    def test_filters_and_paginates_newest_first(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        other = create_item(admin)
        a = create_location(admin)
        b = create_location(admin)
        set_level(admin, item["id"], a["id"], 10)
        set_level(admin, item["id"], b["id"], 20)
        set_level(admin, other["id"], a["id"], 30)
        _move(db, item["id"], a["id"], -4, "run-1:consume")

        everything = admin.get("/admin/inventory-movements").json()
        assert everything["count"] == 4
        assert [m["quantity_delta"] for m in everything["inventory_movements"]] == [-4, 30, 20, 10]

        by_item = admin.get("/admin/inventory-movements", params={"inventory_item_id": item["id"]})
        assert by_item.json()["count"] == 3
        by_loc = admin.get("/admin/inventory-movements", params={"location_id": a["id"]})
        assert by_loc.json()["count"] == 3
        by_run = admin.get("/admin/inventory-movements", params={"production_run_id": "prod_run_x"})
        assert [m["quantity_delta"] for m in by_run.json()["inventory_movements"]] == [-4]
        by_reason = admin.get("/admin/inventory-movements", params={"reason": "consumption"})
        assert by_reason.json()["count"] == 1
        page = admin.get("/admin/inventory-movements", params={"limit": 2, "offset": 1}).json()
        assert [m["quantity_delta"] for m in page["inventory_movements"]] == [30, 20]
        assert (page["limit"], page["offset"]) == (2, 1)

    @pytest.mark.parametrize(
        "params",
        [{"reason": "theft"}, {"limit": 0}, {"offset": -1}, {"inventory_item_id": "x" * 65}],
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, object]) -> None:
        assert_problem(admin.get("/admin/inventory-movements", params=params), 422)


class TestMoveStock:
    def test_moves_and_records_balance(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        set_level(admin, item["id"], location["id"], 10)
        assert _move(db, item["id"], location["id"], -3.5, None)
        assert level_at(admin, item["id"], location["id"]) == 6.5
        latest = get_item(admin, item["id"])["movements"][0]
        assert latest["balance_after"] == 6.5
        assert latest["reason"] == "consumption"
        assert latest["production_run_id"] == "prod_run_x"
        assert latest["actor_type"] == "system"

    def test_creates_level_on_first_movement(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        assert _move(db, item["id"], location["id"], 2, None)
        assert level_at(admin, item["id"], location["id"]) == 2

    def test_level_may_go_negative(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        assert _move(db, item["id"], location["id"], -5, None)
        assert level_at(admin, item["id"], location["id"]) == -5

    def test_same_idempotency_key_moves_once(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        assert _move(db, item["id"], location["id"], -1, "k1") is True
        assert _move(db, item["id"], location["id"], -1, "k1") is False
        assert level_at(admin, item["id"], location["id"]) == -1
        assert len(get_item(admin, item["id"])["movements"]) == 1

    def test_concurrent_same_key_moves_once(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        set_level(admin, item["id"], location["id"], 100)
        results: list[bool] = []
        errors = _in_threads(
            10, lambda _i: results.append(_move(db, item["id"], location["id"], -7, "once"))
        )
        assert errors == []
        assert sorted(results) == [False] * 9 + [True]
        assert level_at(admin, item["id"], location["id"]) == 93

    def test_concurrent_different_keys_lose_no_update(
        self, admin: TestClient, db: Database
    ) -> None:
        item = create_item(admin)
        location = create_location(admin)
        errors = _in_threads(
            12, lambda i: _move(db, item["id"], location["id"], 1.5, f"k-{i}") or None
        )
        assert errors == []
        assert level_at(admin, item["id"], location["id"]) == 18
        balances = sorted(m["balance_after"] for m in get_item(admin, item["id"])["movements"])
        assert balances == [1.5 * n for n in range(1, 13)]

    def test_failed_transaction_keeps_key_free(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        session = db.new_session(write=True)
        try:
            service.move_stock(
                session,
                inventory_item_id=item["id"],
                location_id=location["id"],
                delta=3,
                reason=MovementReason.PRODUCTION_OUTPUT,
                idempotency_key="rolled-back",
                actor=Actor.system(),
            )
        finally:
            session.rollback()
            session.close()
        assert _move(db, item["id"], location["id"], 3, "rolled-back") is True
        assert level_at(admin, item["id"], location["id"]) == 3

    @pytest.mark.parametrize("delta", [float("nan"), float("inf"), 1e9 + 1, -1e10])
    def test_refuses_unbounded_delta(self, admin: TestClient, db: Database, delta: float) -> None:
        item = create_item(admin)
        location = create_location(admin)
        with pytest.raises(Invalid):
            _move(db, item["id"], location["id"], delta, None)

    def test_unknown_item_or_location_is_not_found(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        location = create_location(admin)
        with pytest.raises(NotFound):
            _move(db, "iitem_nope", location["id"], 1, None)
        with pytest.raises(NotFound):
            _move(db, item["id"], "sloc_nope", 1, None)


class TestWellKnownLocations:
    def test_finished_goods_is_created_once(self, db: Database) -> None:
        with db.session() as session:
            first = service.finished_goods_location(session).id
        with db.session() as session:
            assert service.finished_goods_location(session).id == first

    def test_concurrent_finished_goods_creates_one(self, admin: TestClient, db: Database) -> None:
        ids: list[str] = []

        def work(_i: int) -> None:
            with db.session() as session:
                ids.append(service.finished_goods_location(session).id)

        assert _in_threads(8, work) == []
        assert len(set(ids)) == 1
        with db.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(StockLocation)
                .where(StockLocation.kind == "finished_goods")
            )
        assert count == 1

    def test_finished_goods_reuses_admin_created_location(
        self, admin: TestClient, db: Database
    ) -> None:
        made = create_location(admin, name="Shop floor", kind="finished_goods")
        with db.session() as session:
            assert service.finished_goods_location(session).id == made["id"]

    def test_partner_location_created_on_demand(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        partner = create_partner(admin, client)
        with db.session() as session:
            location = service.partner_location(session, partner.id)
            assert location.partner_id == partner.id
            assert location.kind == "partner"
            first = location.id
        with db.session() as session:
            assert service.partner_location(session, partner.id).id == first

    def test_partner_location_prefers_admin_created(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        partner = create_partner(admin, client)
        made = create_location(admin, name="Their shelf", partner_id=partner.id)
        with db.session() as session:
            assert service.partner_location(session, partner.id).id == made["id"]

    def test_concurrent_partner_location_creates_one(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        partner = create_partner(admin, client)
        ids: list[str] = []

        def work(_i: int) -> None:
            with db.session() as session:
                ids.append(service.partner_location(session, partner.id).id)

        assert _in_threads(8, work) == []
        assert len(set(ids)) == 1

    def test_partner_location_for_unknown_partner(self, db: Database) -> None:
        with db.session() as session, pytest.raises(NotFound):
            service.partner_location(session, "partner_nope")

    def test_movements_count_matches_levels(self, admin: TestClient, db: Database) -> None:
        item = create_item(admin)
        with db.session() as session:
            fg = service.finished_goods_location(session).id
        _move(db, item["id"], fg, 4, "out-1")
        with db.session() as session:
            total = session.scalar(
                select(func.sum(InventoryMovement.quantity_delta)).where(
                    InventoryMovement.inventory_item_id == item["id"]
                )
            )
        assert total == level_at(admin, item["id"], fg) == 4


class TestLedgerUniqueKeyDecides:
    def test_movement_losing_the_race_changes_nothing(
        self, admin: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The pre-check misses a concurrently committed movement; the unique key still wins
        and the SAVEPOINT undoes this attempt's level change."""
        from atelier.inventory import repository as inv_repo

        item = create_item(admin)
        location = create_location(admin)
        assert _move(db, item["id"], location["id"], -2, "key-1") is True
        real = inv_repo.movement_by_key
        calls = {"n": 0}

        def stale_first_read(session, key):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return None if calls["n"] == 1 else real(session, key)

        monkeypatch.setattr(inv_repo, "movement_by_key", stale_first_read)
        assert _move(db, item["id"], location["id"], -2, "key-1") is False
        assert calls["n"] == 2
        assert level_at(admin, item["id"], location["id"]) == -2
        assert len(get_item(admin, item["id"])["movements"]) == 1


class TestConcurrentCounts:
    def test_concurrent_sets_keep_ledger_and_level_consistent(
        self, app: FastAPI, admin: TestClient, admin_token: str, db: Database
    ) -> None:
        item = create_item(admin)
        location = create_location(admin)
        statuses: list[int] = []

        def count(i: int) -> None:
            with TestClient(app, headers=bearer(admin_token)) as c:
                r = c.post(
                    f"/admin/inventory-items/{item['id']}/levels",
                    json={"location_id": location["id"], "stocked_quantity": 10 * (i + 1)},
                )
                statuses.append(r.status_code)

        assert _in_threads(8, count) == []
        assert sorted(statuses) == [200] * 7 + [201]
        final = level_at(admin, item["id"], location["id"])
        with db.session(write=False) as session:
            total = session.scalar(
                select(func.sum(InventoryMovement.quantity_delta)).where(
                    InventoryMovement.inventory_item_id == item["id"]
                )
            )
            latest = session.scalars(
                select(InventoryMovement)
                .where(InventoryMovement.inventory_item_id == item["id"])
                .order_by(InventoryMovement.id.desc())
                .limit(1)
            ).one()
        assert total == final
        assert latest.balance_after == final
