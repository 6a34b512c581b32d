"""Demo production runs in every status, made through the same services the API uses.

Each demo run carries ``metadata.demo_run = <key>``; a key that already has a run is skipped,
so loading the demo twice changes nothing. Partner actions are recorded as the partner (channel
web), admin ones as the system.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.platform.actors import Actor, ActorType, Channel
from atelier.production import dispatch, milestones, service
from atelier.production.consumption import log_consumption
from atelier.production.models import ProductionRun
from atelier.tasks import service as tasks

if TYPE_CHECKING:
    from atelier.demo import DemoReport

DESIGN = "design:Indigo wrap dress"
SHIRT = "design:Linen field shirt"
MEERA = "partner:meera-stitch"
JAIPUR = "partner:jaipur-block"
COASTAL = "partner:coastal-finishing"


def _partner_actor(ids: dict[str, str], key: str) -> Actor:
    return Actor(ActorType.PARTNER, ids[key], Channel.WEB, key.split(":", 1)[1])


def _new(session: Session, ids: dict[str, str], key: str, **fields: Any) -> ProductionRun:
    metadata = {"demo": True, "demo_run": key}
    return service.create_run(
        session,
        design_id=ids[fields.pop("design", DESIGN)],
        actor=Actor.system(),
        metadata=metadata,
        **fields,
    )


def _approved(session: Session, ids: dict[str, str], key: str, partner: str, **f: Any) -> str:
    run = _new(session, ids, key, partner_id=ids[partner], **f)
    service.approve_run(session, run.id, actor=Actor.system(), auto_dispatch=False)
    return run.id


def _sent(session: Session, ids: dict[str, str], key: str, partner: str, **f: Any) -> str:
    run_id = _approved(session, ids, key, partner, **f)
    dispatch.send_to_production(
        session, run_id, actor=Actor.system(), template_names=["Cutting", "Stitching"]
    )
    return run_id


def _log(
    session: Session, ids: dict[str, str], run_id: str, sku: str, qty: float, who: Actor
) -> None:
    run = session.get(ProductionRun, run_id)
    assert run is not None
    entry = ConsumptionCreate(
        inventory_item_id=ids[f"item:{sku}"], quantity=qty, unit_cost=Decimal("85.00")
    )
    log_consumption(session, run, entry, actor=who)


def _pending(session: Session, ids: dict[str, str]) -> None:
    _new(session, ids, "pending_review", quantity=40)


def _draft(session: Session, ids: dict[str, str]) -> None:
    from atelier.production.lifecycle import RunStatus

    _new(session, ids, "draft", design=SHIRT, quantity=1, run_type="sample", status=RunStatus.DRAFT)


def _approved_only(session: Session, ids: dict[str, str]) -> None:
    _approved(session, ids, "approved", JAIPUR, quantity=25)


def _sent_only(session: Session, ids: dict[str, str]) -> None:
    _sent(session, ids, "sent_to_partner", MEERA, quantity=30)


def _in_progress(session: Session, ids: dict[str, str]) -> None:
    meera = _partner_actor(ids, MEERA)
    run_id = _sent(session, ids, "in_progress", MEERA, quantity=20)
    milestones.accept_run(session, run_id, actor=meera)
    milestones.start_run(session, run_id, actor=meera)
    milestones.record_progress(session, run_id, actor=meera, produced_quantity=8)
    _log(session, ids, run_id, "FAB-COT-IND", 22.5, meera)
    first = tasks.tasks_for_run(session, run_id)[0]
    tasks.add_comment(
        session, first.id, "Panels for sizes S and M are cut.", meera, partner_id=ids[MEERA]
    )


def _completed(session: Session, ids: dict[str, str]) -> None:
    meera = _partner_actor(ids, MEERA)
    run_id = _sent(session, ids, "completed", MEERA, quantity=10)
    milestones.accept_run(session, run_id, actor=meera)
    milestones.start_run(session, run_id, actor=meera)
    _log(session, ids, run_id, "FAB-COT-IND", 25, meera)
    milestones.finish_run(
        session, run_id, actor=meera, notes="All pieces pressed.", complete_tasks=True
    )
    # Good output (9) is stocked as finished goods through the design's output item.
    milestones.complete(
        session,
        run_id,
        actor=meera,
        partner_id=ids[MEERA],
        produced_quantity=10,
        rejected_quantity=1,
        rejection_reason="stitching_defect",
        notes="One piece with a crooked seam.",
    )


def _cancelled(session: Session, ids: dict[str, str]) -> None:
    run = _new(session, ids, "cancelled", design=SHIRT, quantity=15)
    service.cancel_run(session, run.id, Actor.system(), "Order withdrawn by the shop")


def _awaiting_reassignment(session: Session, ids: dict[str, str]) -> None:
    run_id = _sent(session, ids, "awaiting_reassignment", JAIPUR, quantity=12)
    service.decline_run(
        session,
        run_id,
        partner_id=ids[JAIPUR],
        reason="capacity",
        notes="Looms are booked until next month.",
        actor=_partner_actor(ids, JAIPUR),
    )


def _split(session: Session, ids: dict[str, str]) -> None:
    """A parent split across two workshops; the second waits on the first."""
    from atelier.production.service import AssignmentSpec

    parent = _new(session, ids, "split", quantity=40)
    service.approve_run(
        session,
        parent.id,
        actor=Actor.system(),
        assignments=[
            AssignmentSpec(
                partner_id=ids[JAIPUR],
                quantity=20,
                role="printing",
                order=0,
                template_names=("Block printing",),
            ),
            AssignmentSpec(
                partner_id=ids[MEERA],
                quantity=20,
                role="stitching",
                order=1,
                template_names=("Stitching", "Finishing"),
            ),
        ],
    )


RUNS: list[tuple[str, Callable[[Session, dict[str, str]], None]]] = [
    ("pending_review", _pending),
    ("draft", _draft),
    ("approved", _approved_only),
    ("sent_to_partner", _sent_only),
    ("in_progress", _in_progress),
    ("completed", _completed),
    ("cancelled", _cancelled),
    ("awaiting_reassignment", _awaiting_reassignment),
    ("split", _split),
]


def demo_runs(session: Session, report: DemoReport, ids: dict[str, str]) -> None:
    """Create the demo runs that do not exist yet (one per status, and a split family)."""
    designs = [ids[DESIGN], ids[SHIRT]]
    existing = {
        (run.metadata_ or {}).get("demo_run")
        for run in session.scalars(
            select(ProductionRun).where(ProductionRun.design_id.in_(designs))
        )
    }
    for key, build in RUNS:
        created = key not in existing
        if created:
            build(session, ids)
            session.flush()
        report.note(created, f"demo run {key}")
