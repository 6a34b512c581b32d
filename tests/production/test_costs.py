"""Run costs (``GET /admin/production-runs/:id/costs``), the consumption CSV export, and the
pure cost summary."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.inventory.models import ConsumptionLog
from atelier.production.costs import summarize
from atelier.production.models import ProductionRun
from tests.conftest import assert_problem
from tests.production.lifecycle_helpers import post_ok
from tests.production.test_completion import Setup, build


@pytest.fixture
def s(app: FastAPI, admin: TestClient, client: TestClient) -> Setup:
    setup = build(app, admin, client, quantity=10)
    post_ok(setup.owner, setup.run.url("/accept"))
    return setup


def _log(s: Setup, **fields: Any) -> None:
    body = {"inventory_item_id": s.fabric["id"], "quantity": 2.5, **fields}
    post_ok(s.owner, s.run.url("/consumption-logs"), body, 201)


def _costs(admin: TestClient, run_id: str) -> dict[str, Any]:
    response = admin.get(f"/admin/production-runs/{run_id}/costs")
    assert response.status_code == 200, response.text
    costs: dict[str, Any] = response.json()["costs"]
    return costs


class TestRunCosts:
    def test_materials_estimate_and_cost_per_good_piece(self, s: Setup, admin: TestClient) -> None:
        _log(s, unit_cost="40.00")  # 2.5 m × 40 = 100.00
        _log(s, quantity=0.1, quantity_basis="per_piece", unit_cost="10")  # 0.1 × 10 pcs × 10
        _log(s, quantity=1)  # no unit cost: unpriced
        response = admin.post(
            f"/admin/production-runs/{s.run.id}",
            json={"partner_cost_estimate": "25", "cost_type": "per_piece"},
        )
        assert response.status_code == 200, response.text
        costs = _costs(admin, s.run.id)
        assert costs["materials_cost"] == "110.00"
        assert costs["unpriced_logs"] == 1
        assert costs["partner_cost"] == "250.00"
        assert costs["total_cost"] == "360.00"
        assert costs["good_pieces"] is None and costs["cost_per_good_piece"] is None
        assert [m["cost"] for m in costs["materials"]] == ["100.00", "10.00", None]

        post_ok(s.owner, s.run.url("/start"))
        post_ok(s.owner, s.run.url("/finish"))
        post_ok(
            s.owner,
            s.run.url("/complete"),
            {"produced_quantity": 10, "rejected_quantity": 2, "rejection_reason": "fabric_flaw"},
        )
        costs = _costs(admin, s.run.id)
        assert costs["good_pieces"] == 8
        assert costs["cost_per_good_piece"] == "45.00"

    def test_a_total_estimate_is_not_multiplied(self, s: Setup, admin: TestClient) -> None:
        admin.post(
            f"/admin/production-runs/{s.run.id}",
            json={"partner_cost_estimate": "900.50", "cost_type": "total"},
        )
        costs = _costs(admin, s.run.id)
        assert costs["partner_cost"] == "900.50" and costs["total_cost"] == "900.50"

    def test_unknown_run_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/production-runs/prod_run_nope/costs"), 404)

    def test_partner_anonymous_refused(self, s: Setup, client: TestClient) -> None:
        assert_problem(s.owner.get(f"/admin/production-runs/{s.run.id}/costs"), 403)
        assert_problem(client.get(f"/admin/production-runs/{s.run.id}/costs"), 401)


class TestConsumptionCsv:
    def test_a_runs_logs_as_csv(self, s: Setup, admin: TestClient) -> None:
        _log(s, unit_cost="1.50", notes="=cmd|' /C calc'!A0")
        response = admin.get(f"/admin/consumption-logs/export.csv?production_run_id={s.run.id}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 1
        assert rows[0]["production_run_id"] == s.run.id
        assert Decimal(rows[0]["unit_cost"]) == Decimal("1.5")
        assert rows[0]["notes"].startswith("'=")  # formula-safe like the runs export

    def test_by_design(self, s: Setup, admin: TestClient) -> None:
        _log(s)
        response = admin.get(f"/admin/consumption-logs/export.csv?design_id={s.run.design['id']}")
        assert len(response.text.strip().splitlines()) == 2

    def test_needs_a_run_or_design(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/consumption-logs/export.csv"), 422)
        assert_problem(
            admin.get("/admin/consumption-logs/export.csv?production_run_id=prod_run_x"), 404
        )

    def test_partner_refused(self, s: Setup) -> None:
        response = s.owner.get(f"/admin/consumption-logs/export.csv?production_run_id={s.run.id}")
        assert_problem(response, 403)


class TestSummarize:
    def _run(self, **fields: Any) -> ProductionRun:
        base: dict[str, Any] = {"id": "prod_run_x", "quantity": 4, "design_id": "design_x"}
        return ProductionRun(**{**base, **fields})

    def _log(self, **fields: Any) -> ConsumptionLog:
        base: dict[str, Any] = {
            "id": "clog_x",
            "inventory_item_id": "iitem_x",
            "quantity": 0.1,
            "quantity_basis": "total",
            "unit_of_measure": "m",
            "consumption_type": "production",
            "unit_cost": Decimal("3"),
        }
        return ConsumptionLog(**{**base, **fields})

    def test_per_piece_uses_produced_once_known(self) -> None:
        log = self._log(quantity_basis="per_piece")
        assert summarize(self._run(), [log]).materials_cost == Decimal("1.20")
        done = self._run(produced_quantity=10, rejected_quantity=10)
        summary = summarize(done, [log])
        assert summary.materials_cost == Decimal("3.00")
        assert summary.good_pieces == 0 and summary.cost_per_good_piece is None

    def test_float_quantities_stay_decimal(self) -> None:
        summary = summarize(self._run(), [self._log(), self._log(id="clog_y")])
        assert summary.materials_cost == Decimal("0.60")

    def test_nothing_known(self) -> None:
        summary = summarize(self._run(quantity=None), [])
        assert summary.total_cost == Decimal("0.00")
        assert summary.partner_cost is None and summary.pieces is None


class TestMoneyIsWrittenOut:
    """Money sent in exponent notation comes back as a plain decimal, never ``1E+3``."""

    def test_estimate_and_unit_cost_in_exponent_notation(self, s: Setup, admin: TestClient) -> None:
        response = admin.post(
            f"/admin/production-runs/{s.run.id}",
            json={"partner_cost_estimate": "1e3", "cost_type": "total"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["production_run"]["partner_cost_estimate"] == "1000"
        detail = admin.get(f"/admin/production-runs/{s.run.id}").json()["production_run"]
        _plain(detail["partner_cost_estimate"], "1000")  # PostgreSQL's NUMERIC: 1000.0000
        response = s.owner.post(
            s.run.url("/consumption-logs"),
            json={"inventory_item_id": s.fabric["id"], "quantity": 1, "unit_cost": "1e5"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["consumption_log"]["unit_cost"] == "100000"
        costs = _costs(admin, s.run.id)
        assert costs["partner_cost"] == "1000.00"
        [material] = costs["materials"]
        _plain(material["unit_cost"], "100000")
        assert "E+" not in str(costs)

    def test_a_value_stored_in_exponent_notation_reads_plain(
        self, s: Setup, admin: TestClient, app: FastAPI
    ) -> None:
        from sqlalchemy import update

        with app.state.db.session() as session:
            session.execute(
                update(ProductionRun)
                .where(ProductionRun.id == s.run.id)
                .values(partner_cost_estimate=Decimal("2E+2"))
            )
        detail = admin.get(f"/admin/production-runs/{s.run.id}").json()["production_run"]
        _plain(detail["partner_cost_estimate"], "200")


def _plain(value: str, expected: str) -> None:
    assert "E" not in value and Decimal(value) == Decimal(expected), value


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ("1E+3", "1000"),
        ("2.5E+1", "25"),
        ("1000", "1000"),
        ("0.0001", "0.0001"),
        ("1E+40", "1E+40"),
    ],
)
def test_plain_decimal(given: str, plain: str) -> None:
    from atelier.platform.numbers import plain_decimal

    assert str(plain_decimal(Decimal(given))) == plain
