"""What a run costs: materials consumed × unit cost, the partner's estimate, cost per good piece.

``summarize`` is a pure function over the run's numbers and its consumption logs; ``run_costs``
loads them. Money is ``Decimal`` throughout (quantities are floats in the model layer and are
converted through ``str`` so 0.1 m stays 0.1).

- A log's amount is its quantity, or quantity × pieces when its basis is ``per_piece``; pieces
  are the produced quantity once the run has it, else the planned quantity (the same pieces the
  completion uses to draw stock).
- Logs without a unit cost are counted as *unpriced*: they add no money, and the summary says
  how many there are, so a total is never silently low.
- The partner estimate is per piece (× pieces) or a total, as ``cost_type`` says (per piece
  when the type is unset).
- Good pieces = produced − rejected; cost per good piece = total ÷ good pieces, once known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from atelier.inventory.consumption import list_consumption
from atelier.inventory.models import ConsumptionLog, QuantityBasis
from atelier.production import transitions
from atelier.production.models import ProductionRun
from atelier.production.schemas import CostType

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class MaterialLine:
    consumption_log_id: str
    inventory_item_id: str
    consumption_type: str
    amount: Decimal
    unit_of_measure: str
    unit_cost: Decimal | None
    cost: Decimal | None


@dataclass(frozen=True, slots=True)
class CostSummary:
    production_run_id: str
    pieces: int | None
    materials: list[MaterialLine]
    materials_cost: Decimal
    unpriced_logs: int
    partner_cost_estimate: Decimal | None
    cost_type: str | None
    partner_cost: Decimal | None
    total_cost: Decimal
    good_pieces: int | None
    cost_per_good_piece: Decimal | None


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _amount(log: ConsumptionLog, pieces: int | None) -> Decimal:
    quantity = Decimal(str(log.quantity))
    if log.quantity_basis == QuantityBasis.PER_PIECE:
        return quantity * Decimal(pieces or 0)
    return quantity


def summarize(run: ProductionRun, logs: Iterable[ConsumptionLog]) -> CostSummary:
    """The cost summary of ``run`` given its consumption ``logs`` (pure)."""
    pieces = run.produced_quantity if run.produced_quantity is not None else run.quantity
    lines: list[MaterialLine] = []
    materials = Decimal(0)
    unpriced = 0
    for log in logs:
        amount = _amount(log, pieces)
        cost = None
        if log.unit_cost is None:
            unpriced += 1
        else:
            cost = _money(amount * log.unit_cost)
            materials += cost
        lines.append(
            MaterialLine(
                consumption_log_id=log.id,
                inventory_item_id=log.inventory_item_id,
                consumption_type=log.consumption_type,
                amount=amount,
                unit_of_measure=log.unit_of_measure,
                unit_cost=log.unit_cost,
                cost=cost,
            )
        )
    estimate = run.partner_cost_estimate
    partner_cost: Decimal | None = None
    if estimate is not None:
        if run.cost_type == CostType.TOTAL:
            partner_cost = _money(estimate)
        else:
            partner_cost = _money(estimate * Decimal(pieces or 0))
    total = _money(materials + (partner_cost or Decimal(0)))
    good: int | None = None
    per_piece: Decimal | None = None
    if run.produced_quantity is not None:
        good = max(run.produced_quantity - (run.rejected_quantity or 0), 0)
        if good:
            per_piece = _money(total / good)
    return CostSummary(
        production_run_id=run.id,
        pieces=pieces,
        materials=lines,
        materials_cost=_money(materials),
        unpriced_logs=unpriced,
        partner_cost_estimate=estimate,
        cost_type=run.cost_type,
        partner_cost=partner_cost,
        total_cost=total,
        good_pieces=good,
        cost_per_good_piece=per_piece,
    )


# A run's logs are few (one per material and day at most); this bound only stops a runaway.
_MAX_LOGS = 5000


def run_costs(session: Session, run_id: str) -> CostSummary:
    """The cost summary of one run; 404 when the run is unknown."""
    run = transitions.get_run(session, run_id)
    logs, _ = list_consumption(session, run_id=run.id, limit=_MAX_LOGS)
    return summarize(run, logs)
