"""Consumption logs: material a run (or a design's sampling) used.

A log is written while the run is in progress and only *recorded*; stock moves when the run
completes (``production.completion`` commits every uncommitted log of the run exactly once).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.inventory.models import ConsumptionLog
from atelier.platform import clock
from atelier.platform.actors import Actor, ActorType
from atelier.platform.errors import Invalid
from atelier.production import transitions
from atelier.production.lifecycle import Action
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)


def _consumed_by(actor: Actor) -> str:
    return "partner" if actor.type is ActorType.PARTNER else "admin"


def _check_item(session: Session, design_id: str, item_id: str) -> str:
    """The item's unit of measure; 404 unknown item, 422 when not in the design's current BOM."""
    from atelier.catalog import service as catalog
    from atelier.inventory import service as inventory

    item = inventory.get_item(session, item_id)
    bom = catalog.bom_item_ids(session, design_id)
    if bom and item_id not in bom:
        raise Invalid(
            f"inventory item {item_id!r} is not in the design's bill of materials",
            code="item_not_in_bom",
        )
    return item.unit_of_measure


def log_consumption(
    session: Session,
    run: ProductionRun,
    entry: ConsumptionCreate,
    *,
    actor: Actor,
    locked: bool = False,
) -> ConsumptionLog:
    """Record material used by ``run`` (in progress and accepted, else 409); stock moves later.

    The run is locked so a log cannot slip in beside a completion and stay uncommitted forever.
    """
    if not locked:
        run = transitions.lock_run(session, run.id)
    transitions.require(session, run, Action.LOG_CONSUMPTION)
    unit = _check_item(session, run.design_id, entry.inventory_item_id)
    location_id: str | None = None
    if run.partner_id is not None:
        from atelier.inventory import service as inventory

        location_id = inventory.partner_location(session, run.partner_id).id
    now = clock.now()
    row = ConsumptionLog(
        design_id=run.design_id,
        production_run_id=run.id,
        inventory_item_id=entry.inventory_item_id,
        quantity=entry.quantity,
        quantity_basis=entry.quantity_basis,
        unit_of_measure=entry.unit_of_measure or unit,
        unit_cost=entry.unit_cost,
        consumption_type=entry.consumption_type,
        consumed_by=_consumed_by(actor),
        consumed_by_id=actor.id,
        consumed_at=now,
        notes=entry.notes,
        location_id=location_id,
        metadata_={"partner_id": run.partner_id, "channel": actor.channel.value},
    )
    session.add(row)
    session.flush()
    run.last_activity_at = now
    transitions.record_change(
        session,
        run,
        "consumption_logged",
        actor,
        data={
            "consumption_log_id": row.id,
            "inventory_item_id": row.inventory_item_id,
            "quantity": row.quantity,
            "quantity_basis": row.quantity_basis,
            "consumption_type": row.consumption_type,
        },
    )
    log.info(
        "consumption logged",
        extra={"run_id": run.id, "partner_id": run.partner_id, "consumption_log_id": row.id},
    )
    return row


def log_design_consumption(
    session: Session, design_id: str, entry: ConsumptionCreate, *, actor: Actor
) -> ConsumptionLog:
    """An admin's design-level log (sampling outside any run); never committed to stock."""
    from atelier.catalog import service as catalog

    catalog.get_design(session, design_id)
    unit = _check_item(session, design_id, entry.inventory_item_id)
    row = ConsumptionLog(
        design_id=design_id,
        production_run_id=None,
        inventory_item_id=entry.inventory_item_id,
        quantity=entry.quantity,
        quantity_basis=entry.quantity_basis,
        unit_of_measure=entry.unit_of_measure or unit,
        unit_cost=entry.unit_cost,
        consumption_type=entry.consumption_type,
        consumed_by=_consumed_by(actor),
        consumed_by_id=actor.id,
        consumed_at=clock.now(),
        notes=entry.notes,
        location_id=None,
        metadata_={"channel": actor.channel.value},
    )
    session.add(row)
    session.flush()
    return row


def list_consumption(
    session: Session,
    *,
    run_id: str | None = None,
    design_id: str | None = None,
    consumption_type: str | None = None,
    committed: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ConsumptionLog], int]:
    """Logs of a run or a design, oldest first, with the total count for the filters."""
    conditions: list[Any] = []
    if run_id is not None:
        conditions.append(ConsumptionLog.production_run_id == run_id)
    if design_id is not None:
        conditions.append(ConsumptionLog.design_id == design_id)
    if consumption_type is not None:
        conditions.append(ConsumptionLog.consumption_type == consumption_type)
    if committed is not None:
        conditions.append(ConsumptionLog.is_committed.is_(committed))
    count = session.scalar(select(func.count(ConsumptionLog.id)).where(*conditions)) or 0
    rows = session.scalars(
        select(ConsumptionLog)
        .where(*conditions)
        .order_by(ConsumptionLog.consumed_at, ConsumptionLog.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(count)
