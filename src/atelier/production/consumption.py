"""Logging the material a run used: the run's rules around ``inventory.consumption``.

The run must be in progress and accepted (``Action.LOG_CONSUMPTION``) and the item must be in
the design's bill of materials (when it has one); inventory then records the log, and stock
moves only when the run completes (``inventory.consumption.commit_run_consumption``).
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.inventory import consumption as inventory_consumption
from atelier.inventory import service as inventory
from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.inventory.models import ConsumptionLog
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Invalid
from atelier.production import transitions
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import Action
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)


def _check_item(session: Session, design_id: str, item_id: str) -> None:
    """404 for an unknown item, 422 when it is not in the design's current BOM."""
    inventory.get_item(session, item_id)
    bom = catalog.bom_item_ids(session, design_id)
    if bom and item_id not in bom:
        raise Invalid(
            f"inventory item {item_id!r} is not in the design's bill of materials",
            code=ProductionCode.ITEM_NOT_IN_BOM,
        )


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
    _check_item(session, run.design_id, entry.inventory_item_id)
    location_id = (
        inventory.partner_location(session, run.partner_id).id
        if run.partner_id is not None
        else None
    )
    row = inventory_consumption.record_consumption(
        session,
        entry,
        design_id=run.design_id,
        run_id=run.id,
        location_id=location_id,
        actor=actor,
        metadata={"partner_id": run.partner_id, "channel": actor.channel.value},
    )
    run.last_activity_at = clock.now()
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
    catalog.get_design(session, design_id)
    _check_item(session, design_id, entry.inventory_item_id)
    return inventory_consumption.record_consumption(
        session,
        entry,
        design_id=design_id,
        run_id=None,
        location_id=None,
        actor=actor,
        metadata={"channel": actor.channel.value},
    )
