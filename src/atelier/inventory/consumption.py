"""Consumption logs: material a run (or a design's sampling) used.

A log is only *recorded* while the run is in progress; stock moves when the run completes
(:func:`commit_run_consumption`, once per log). Inventory records what it is handed: whether the
run may log consumption now and whether the item is in the design's bill of materials is
decided by the caller (``production.consumption``), which owns those rules.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from atelier.inventory import repository as repo
from atelier.inventory import service as inventory
from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.inventory.models import ConsumptionLog, MovementReason, QuantityBasis
from atelier.platform import clock
from atelier.platform.actors import Actor, ActorType

log = logging.getLogger(__name__)


def _consumed_by(actor: Actor) -> str:
    return "partner" if actor.type is ActorType.PARTNER else "admin"


def record_consumption(
    session: Session,
    entry: ConsumptionCreate,
    *,
    design_id: str,
    run_id: str | None,
    location_id: str | None,
    actor: Actor,
    metadata: dict[str, Any],
) -> ConsumptionLog:
    """Write one uncommitted log (404 for an unknown item); the unit defaults to the item's."""
    item = inventory.get_item(session, entry.inventory_item_id)
    row = ConsumptionLog(
        design_id=design_id,
        production_run_id=run_id,
        inventory_item_id=entry.inventory_item_id,
        quantity=entry.quantity,
        quantity_basis=entry.quantity_basis,
        unit_of_measure=entry.unit_of_measure or item.unit_of_measure,
        unit_cost=entry.unit_cost,
        consumption_type=entry.consumption_type,
        consumed_by=_consumed_by(actor),
        consumed_by_id=actor.id,
        consumed_at=clock.now(),
        notes=entry.notes,
        location_id=location_id,
        metadata_=metadata,
    )
    session.add(row)
    session.flush()
    return row


def commit_run_consumption(
    session: Session, *, run_id: str, partner_id: str | None, pieces: int, actor: Actor
) -> int:
    """Commit every uncommitted log of the run and draw its material from stock, once.

    A ``per_piece`` log draws ``quantity × pieces``; a log without a location draws from the
    partner's location. Each log is claimed by a conditional update, so of two racing
    completions exactly one commits it, and its ledger movement has the unique key
    ``clog:<log id>``. Returns how many logs this call committed.
    """
    now = clock.now()
    committed = 0
    fallback_location: str | None = None
    for entry in repo.uncommitted_logs(session, run_id):
        if not repo.claim_log(session, entry.id, now):
            continue
        session.refresh(entry)
        location_id = entry.location_id
        if location_id is None:
            if fallback_location is None and partner_id is not None:
                fallback_location = inventory.partner_location(session, partner_id).id
            location_id = fallback_location
        committed += 1
        if location_id is None:
            continue
        amount = (
            entry.quantity * pieces
            if entry.quantity_basis == QuantityBasis.PER_PIECE
            else entry.quantity
        )
        inventory.move_stock(
            session,
            inventory_item_id=entry.inventory_item_id,
            location_id=location_id,
            delta=-amount,
            reason=MovementReason.CONSUMPTION,
            idempotency_key=f"clog:{entry.id}",
            actor=actor,
            production_run_id=run_id,
            consumption_log_id=entry.id,
            note=f"{entry.consumption_type} consumption of run {run_id}",
        )
    return committed


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
    return repo.list_consumption(
        session,
        run_id=run_id,
        design_id=design_id,
        consumption_type=consumption_type,
        committed=committed,
        limit=limit,
        offset=offset,
    )
