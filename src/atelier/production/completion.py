"""Completing a run: yield check, consumption commit, finished-goods output, cascade.

Everything happens in the caller's transaction under the run's row lock. Inventory moves at
most once per run whatever races happen, because every movement carries a ledger idempotency key
(``clog:<log id>`` for consumption, ``run_output:<run id>`` for output) that the database keeps
unique; the status check under the lock makes the second completer see ``completed``.

Inline here, because they must be atomic with the completion: the ledger (consumption and
output) and the parent settling. Reactions — dependants released and dispatched, a sample's
design approved — are subscribers of ``production_run.completed`` (``production.subscribers``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.inventory import consumption as inventory_consumption
from atelier.inventory import service as inventory
from atelier.inventory.consumption_schemas import ConsumptionCreate
from atelier.inventory.models import MovementReason
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, Invalid
from atelier.production import cascade, consumption, repository, transitions
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import Action, RunStatus
from atelier.production.models import ProductionRun
from atelier.tasks import service as tasks

log = logging.getLogger(__name__)

CompletionSource = Literal["partner", "admin", "tasks", "cascade"]
MAX_PIECES = 1_000_000_000


class RejectionReason(StrEnum):
    STITCHING_DEFECT = "stitching_defect"
    FABRIC_FLAW = "fabric_flaw"
    COLOR_MISMATCH = "color_mismatch"
    SIZING_ERROR = "sizing_error"
    PRINT_DEFECT = "print_defect"
    MATERIAL_DAMAGE = "material_damage"
    QUALITY_BELOW_STANDARD = "quality_below_standard"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class OutputCheck:
    """Result of ``check_completion_output``: ``ok`` or a refusal with a stable code."""

    ok: bool
    code: str = "ok"
    detail: str = ""

    def __bool__(self) -> bool:
        return self.ok


OUTPUT_OK = OutputCheck(True)


def check_completion_output(
    quantity: int | None,
    produced: int | None,
    rejected: int,
    allow_shortfall: bool,
    explanation: str | None,
    *,
    rejection_reason: str | None = None,
) -> OutputCheck:
    """Whether a reported yield can close a run of ``quantity`` pieces (pure; table-tested).

    Good output is ``produced - rejected``, so rejected pieces are a part of the produced ones.
    Coverage follows SPEC §5 literally: ``produced + rejected`` must reach the run quantity
    unless the shortfall is allowed *and* explained.
    """
    if produced is None:
        return OutputCheck(
            False, ProductionCode.PRODUCED_QUANTITY_REQUIRED, "produced_quantity is required"
        )
    if produced < 0 or produced > MAX_PIECES:
        return OutputCheck(
            False,
            ProductionCode.INVALID_PRODUCED_QUANTITY,
            f"produced_quantity must be 0..{MAX_PIECES}",
        )
    if rejected < 0 or rejected > MAX_PIECES:
        return OutputCheck(
            False,
            ProductionCode.INVALID_REJECTED_QUANTITY,
            f"rejected_quantity must be 0..{MAX_PIECES}",
        )
    if rejected > produced:
        return OutputCheck(
            False,
            ProductionCode.REJECTED_EXCEEDS_PRODUCED,
            f"rejected_quantity ({rejected}) cannot exceed produced_quantity ({produced}); "
            "rejected pieces are counted inside the produced ones",
        )
    if rejected > 0 and not rejection_reason:
        return OutputCheck(
            False,
            ProductionCode.REJECTION_REASON_REQUIRED,
            "rejection_reason is required when rejected_quantity is greater than 0",
        )
    if quantity is not None and produced + rejected < quantity:
        short = quantity - produced - rejected
        if not allow_shortfall:
            return OutputCheck(
                False,
                ProductionCode.SHORTFALL_NOT_ALLOWED,
                f"produced ({produced}) + rejected ({rejected}) is {short} short of the run "
                f"quantity ({quantity}); report the full quantity or set allow_shortfall with "
                "an explanation",
            )
        if not (explanation and explanation.strip()):
            return OutputCheck(
                False,
                ProductionCode.SHORTFALL_EXPLANATION_REQUIRED,
                f"the output is {short} short of the run quantity ({quantity}); allow_shortfall "
                "needs an explanation in notes, rejection_reason or rejection_notes",
            )
    return OUTPUT_OK


@dataclass(frozen=True, slots=True)
class CompletionResult:
    run: ProductionRun
    consumptions_logged: int
    already: bool
    consumptions_committed: int = 0
    # Set when a task-driven completion found the run in a state that cannot complete.
    skipped_reason: str | None = None

    @property
    def message(self) -> str:
        if self.already:
            return "Already completed"
        if self.skipped_reason:
            return f"Not completed: {self.skipped_reason}"
        good = (self.run.produced_quantity or 0) - (self.run.rejected_quantity or 0)
        return f"Production run completed ({good} good, {self.run.rejected_quantity or 0} rejected)"


def complete_run(
    session: Session,
    run: ProductionRun,
    *,
    actor: Actor,
    produced_quantity: int | None,
    rejected_quantity: int | None = 0,
    rejection_reason: str | None = None,
    rejection_notes: str | None = None,
    notes: str | None = None,
    allow_shortfall: bool = False,
    consumptions: Sequence[ConsumptionCreate] = (),
    source: CompletionSource = "partner",
) -> CompletionResult:
    """Complete ``run`` with its yield, commit its consumption and stock its good output, once.

    ``source="tasks"``/``"cascade"``: the task-driven path; never raises for state, stamps missing
    milestone timestamps and takes the last reported produced quantity (else the run quantity).
    """
    run = transitions.lock_run(session, run.id)
    driven = source in ("tasks", "cascade")
    status = RunStatus(run.status)
    if status is RunStatus.COMPLETED:
        if driven:
            return CompletionResult(run, 0, already=True)
        raise Conflict("the run is already completed", code=ProductionCode.ALREADY_COMPLETED)
    if driven:
        if status not in (RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS):
            log.info(
                "task-driven completion skipped",
                extra={"run_id": run.id, "status": run.status, "source": source},
            )
            return CompletionResult(run, 0, already=False, skipped_reason=f"run is {run.status}")
    else:
        transitions.require(session, run, Action.COMPLETE)
        _refuse_open_redo(session, run)

    rejected = rejected_quantity or 0
    produced: int | None
    if driven:
        produced, rejected, reason = _driven_yield(session, run, produced_quantity, rejected)
        rejection_reason = rejection_reason or reason
        check = check_completion_output(
            None, produced, rejected, True, "task-driven", rejection_reason=rejection_reason or "-"
        )
    else:
        produced = produced_quantity
        explanation = " ".join(p for p in (notes, rejection_reason, rejection_notes) if p)
        check = check_completion_output(
            run.quantity,
            produced,
            rejected,
            allow_shortfall,
            explanation,
            rejection_reason=rejection_reason,
        )
    if not check:
        raise Invalid(check.detail, code=check.code)
    assert produced is not None  # checked above

    logged = 0
    for entry in consumptions:
        consumption.log_consumption(session, run, entry, actor=actor, locked=True)
        logged += 1

    now = clock.now()
    from_status = run.status
    never_accepted = run.accepted_at is None
    for stamp in ("accepted_at", "started_at", "finished_at"):
        if getattr(run, stamp) is None:
            setattr(run, stamp, now)
    run.status = RunStatus.COMPLETED
    run.completed_at = now
    run.produced_quantity = produced
    run.rejected_quantity = rejected
    run.rejection_reason = rejection_reason if rejected else None
    run.rejection_notes = rejection_notes
    if notes is not None:
        run.completion_notes = notes
    run.last_activity_at = now

    committed = inventory_consumption.commit_run_consumption(
        session, run_id=run.id, partner_id=run.partner_id, pieces=produced, actor=actor
    )
    output = _stock_output(session, run, actor, good=produced - rejected)
    data: dict[str, Any] = {
        "source": source,
        "produced_quantity": produced,
        "rejected_quantity": rejected,
        "good_quantity": produced - rejected,
        "rejection_reason": run.rejection_reason,
        "consumptions_logged": logged,
        "consumptions_committed": committed,
        "output": output,
    }
    if run.quantity is not None and produced + rejected < run.quantity:
        data["shortfall"] = run.quantity - produced - rejected
    transitions.record_change(
        session, run, "completed", actor, from_status=from_status, data=data, event="completed"
    )
    session.flush()

    if never_accepted:
        # Task-driven completion of a run nobody accepted: the family sees it as accepted too.
        cascade.on_child_accepted(session, run.id, run.parent_run_id, actor)
    cascade.on_run_completed(session, run, actor)
    log.info(
        "production run completed",
        extra={"run_id": run.id, "partner_id": run.partner_id, "source": source},
    )
    return CompletionResult(run, logged, already=False, consumptions_committed=committed)


def _refuse_open_redo(session: Session, run: ProductionRun) -> None:
    # Redo tasks are the brand asking for rework: the run cannot be closed over them.
    open_redo = tasks.open_redo_tasks(session, run.id)
    if open_redo:
        raise Conflict(
            f"{len(open_redo)} redo task(s) are still open; finish them before completing the run",
            code=ProductionCode.REDO_TASKS_OPEN,
            extra={"open_task_ids": open_redo},
        )


def _driven_yield(
    session: Session, run: ProductionRun, produced: int | None, rejected: int
) -> tuple[int, int, str | None]:
    """Yield for a completion nobody reported: children's totals, last progress, or quantity."""
    children, produced_sum, rejected_sum = repository.completed_children_totals(session, run.id)
    if produced is None and children:
        return produced_sum, rejected_sum, RejectionReason.OTHER if rejected_sum else None
    if produced is None:
        produced = run.produced_quantity if run.produced_quantity is not None else run.quantity
    pieces = produced or 0
    return pieces, min(rejected, pieces), RejectionReason.OTHER if rejected else None


def output_item_id(session: Session, run: ProductionRun) -> str | None:
    """The inventory item a run's good output is stocked as: the variant's, else the design's."""
    return catalog.output_item_id(session, run.design_id, run.variant_id)


def _output_target(session: Session, run: ProductionRun) -> tuple[str | None, str | None]:
    """(item id, None) where the run's good output goes, or (None, why it is not stocked).

    A parent's output is its children's: they split the parent quantity (their quantities add
    up to it), so each child's good output is finished goods, whatever its order group.
    """
    if repository.has_children(session, run.id):
        return None, "output is stocked by the child runs"
    item_id = output_item_id(session, run)
    if item_id is None:
        return None, "no output inventory item for the variant or design"
    return item_id, None


def _stock_output(
    session: Session, run: ProductionRun, actor: Actor, *, good: int
) -> dict[str, Any]:
    """Move good output onto the finished-goods level; describe what happened for the audit."""
    item_id, skip = _output_target(session, run)
    if item_id is None:
        return {"moved": False, "reason": skip}
    if good <= 0:
        return {"moved": False, "reason": "no good output", "inventory_item_id": item_id}
    movement, location = inventory.stock_finished_goods(
        session,
        inventory_item_id=item_id,
        quantity=float(good),
        reason=MovementReason.PRODUCTION_OUTPUT,
        idempotency_key=f"run_output:{run.id}",
        actor=actor,
        production_run_id=run.id,
        note=f"good output of run {run.id}",
    )
    return {
        "moved": movement is not None,
        "inventory_item_id": item_id,
        "location_id": location.id,
        "quantity": good,
        **({} if movement is not None else {"reason": "already stocked"}),
    }


# --- admin corrections after completion --------------------------------------------------------


def correct_output(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    reason: str,
    produced_quantity: int | None = None,
    rejected_quantity: int | None = None,
    rejection_reason: str | None = None,
) -> tuple[ProductionRun, dict[str, Any] | None]:
    """Correct a completed run's yield; the change in good output is a compensating movement.

    Returns the run and the correction record (``None`` when nothing changed).
    """
    run = transitions.lock_run(session, run_id)
    if run.status != RunStatus.COMPLETED:
        raise Conflict(
            f"only a completed run's output can be corrected; the run is {run.status}",
            code=ProductionCode.NOT_COMPLETED,
        )
    before_produced = run.produced_quantity or 0
    before_rejected = run.rejected_quantity or 0
    produced = before_produced if produced_quantity is None else produced_quantity
    rejected = before_rejected if rejected_quantity is None else rejected_quantity
    reason_code = (
        rejection_reason or run.rejection_reason or (RejectionReason.OTHER if rejected else None)
    )
    check = check_completion_output(
        None, produced, rejected, True, reason, rejection_reason=reason_code
    )
    if not check:
        raise Invalid(check.detail, code=check.code)
    if produced == before_produced and rejected == before_rejected:
        return run, None

    corrections = list(run.metadata_.get("output_corrections", []))
    number = len(corrections) + 1
    delta = (produced - rejected) - (before_produced - before_rejected)
    movement: dict[str, Any] = {"moved": False, "quantity": delta}
    item_id, skip = _output_target(session, run)
    if item_id is None:
        movement["reason"] = skip
    elif delta:
        moved, location = inventory.stock_finished_goods(
            session,
            inventory_item_id=item_id,
            quantity=float(delta),
            reason=MovementReason.CORRECTION,
            idempotency_key=f"run_output_correction:{run.id}:{number}",
            actor=actor,
            production_run_id=run.id,
            note=f"output correction #{number}: {reason}"[:2000],
        )
        movement.update(moved=moved is not None, inventory_item_id=item_id, location_id=location.id)
    record = {
        "number": number,
        "reason": reason,
        "before": {"produced_quantity": before_produced, "rejected_quantity": before_rejected},
        "after": {"produced_quantity": produced, "rejected_quantity": rejected},
        "good_delta": delta,
        "movement": movement,
        "at": clock.now().isoformat(),
        "by": {"type": actor.type.value, "id": actor.id},
    }
    run.produced_quantity = produced
    run.rejected_quantity = rejected
    run.rejection_reason = reason_code if rejected else None
    run.metadata_ = {**run.metadata_, "output_corrections": [*corrections, record]}
    transitions.record_change(session, run, "output_corrected", actor, data=record, event="updated")
    session.flush()
    return run, record
