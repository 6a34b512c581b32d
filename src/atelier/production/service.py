"""Production-run rules: creation, approval with assignments, edits, notes.

Services never commit; the request (or the outbox dispatcher) owns the transaction. Every state
change goes through ``transitions.lock_run`` + ``require`` + mutate + ``record_change``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.catalog import service as catalog
from atelier.catalog.models import Design
from atelier.orders import service as orders
from atelier.partners import service as partners
from atelier.platform import clock, outbox
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, DomainError, Invalid, not_found
from atelier.production import dispatch, repository, transitions
from atelier.production.errors import ProductionCode

# Interventions live in their own module; re-exported so callers use ``production.service``.
from atelier.production.interventions import (
    ALREADY_CANCELLED,
    ALREADY_QUEUED,
    ReassignResult,
    add_note,
    cancel_run,
    decline_run,
    reassign_run,
    relink_run,
    update_run,
)
from atelier.production.lifecycle import Action, RunStatus
from atelier.production.models import ProductionRun, RunType

log = logging.getLogger(__name__)


def capture_snapshot(session: Session, design_id: str) -> dict[str, Any]:
    """The design as it is now (name, specs, colors, sizes, BOM ...) for a run's snapshot."""
    design = catalog.get_design(session, design_id)
    snapshot: dict[str, Any] = catalog.design_snapshot(session, design)
    return snapshot


def _check_order_refs(session: Session, order_id: str | None, line_id: str | None) -> None:
    from atelier.orders.models import Order, OrderLineItem

    if order_id is not None and session.get(Order, order_id) is None:
        raise not_found("order", order_id)
    if line_id is not None:
        line = session.get(OrderLineItem, line_id)
        if line is None:
            raise not_found("order_line_item", line_id)
        if order_id is not None and line.order_id != order_id:
            raise not_found("order_line_item", line_id)


def create_run(
    session: Session,
    *,
    design_id: str,
    actor: Actor,
    partner_id: str | None = None,
    quantity: int | None = None,
    run_type: str = RunType.PRODUCTION,
    role: str | None = None,
    product_id: str | None = None,
    variant_id: str | None = None,
    order_id: str | None = None,
    order_line_item_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    status: RunStatus = RunStatus.PENDING_REVIEW,
    parent_run_id: str | None = None,
    snapshot: dict[str, Any] | None = None,
    emit_event: bool = True,
) -> ProductionRun:
    """Create a run (``pending_review`` by default) with a snapshot of its design; 404 on refs.

    A second run for the same ``order_line_item_id`` is refused with 409 by the database.
    """
    if snapshot is None:
        snapshot = capture_snapshot(session, design_id)
    if partner_id is not None:
        partners.get_partner(session, partner_id)
    if order_id is not None or order_line_item_id is not None:
        _check_order_refs(session, order_id, order_line_item_id)
    run = ProductionRun(
        **_new_run_fields(
            design_id=design_id,
            partner_id=partner_id,
            quantity=quantity,
            run_type=str(run_type),
            role=role,
            product_id=product_id,
            variant_id=variant_id,
            order_id=order_id,
            order_line_item_id=order_line_item_id,
            metadata_=dict(metadata or {}),
            status=str(status),
            parent_run_id=parent_run_id,
            snapshot=snapshot,
        )
    )
    if order_line_item_id is not None:
        try:
            with session.begin_nested():
                session.add(run)
                session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"order line {order_line_item_id!r} already has a production run",
                code=ProductionCode.DUPLICATE_ORDER_LINE,
            ) from exc
    else:
        session.add(run)
        session.flush()
    record_created(session, run, actor, emit_event=emit_event)
    log.info(
        "production run created",
        extra={"run_id": run.id, "design_id": design_id, "partner_id": partner_id},
    )
    return run


def _new_run_fields(**fields: Any) -> dict[str, Any]:
    """A new run's columns: ``fields`` plus the capture time and empty bookkeeping."""
    return {
        **fields,
        "captured_at": clock.now(),
        "depends_on_run_ids": [],
        "dispatch_template_names": [],
        "dispatch_template_ids": [],
        "dispatched_template_ids": [],
        "reminder_counts": {},
    }


def record_created(
    session: Session, run: ProductionRun, actor: Actor, *, emit_event: bool = True
) -> None:
    """Audit the creation of ``run`` and queue ``production_run.created``."""
    audit.record(session, run.id, "created", actor, to_status=run.status)
    if emit_event:
        outbox.emit(session, "production_run.created", transitions.event_payload(run, actor))


# --- the runs of an order, in a fixed number of statements ------------------------------------


@dataclass(frozen=True, slots=True)
class OrderLine:
    """An order line that resolves to a design: ``create_order_runs`` makes one run of it."""

    line_id: str | None
    design_id: str
    quantity: int | None
    product_id: str | None
    variant_id: str | None


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run ``create_order_runs`` created (what its event payload names)."""

    id: str
    design_id: str
    line: OrderLine
    partner_id: str | None = None
    parent_run_id: str | None = None
    run_type: str = RunType.PRODUCTION
    status: str = RunStatus.PENDING_REVIEW


@dataclass(slots=True)
class OrderRuns:
    created: list[NewRun] = field(default_factory=list)
    # Why a line got no run, by its position in the lines given.
    refused: dict[int, DomainError] = field(default_factory=dict)
    # The designs read for the snapshots, for the caller's next look at them (auto-approval).
    designs: dict[str, Design] = field(default_factory=dict)


def create_order_runs(
    session: Session,
    lines: Sequence[OrderLine],
    *,
    actor: Actor,
    order_id: str | None,
    metadata: dict[str, Any],
) -> OrderRuns:
    """``create_run`` for the lines of one order (pending runs, no partner), same rows/events.

    Each design is read and snapshotted once, the order lines checked in one statement, and
    the runs, their audit rows and their events inserted in one executemany each. Should a
    concurrent delivery insert one of these lines first, the insert is rolled back and the
    lines go through ``create_run`` one by one (each refused line then answers 409).
    """
    result = OrderRuns()
    snapshots: dict[str, dict[str, Any] | DomainError] = {}
    wanted = list(dict.fromkeys(line.design_id for line in lines))
    result.designs, found = catalog.design_snapshots(session, wanted)
    for design_id in wanted:
        snapshots[design_id] = found.get(design_id) or not_found("design", design_id)
    order_error: DomainError | None = None
    try:
        _check_order_refs(session, order_id, None)
    except DomainError as exc:
        order_error = exc
    line_ids = [line.line_id for line in lines if line.line_id is not None]
    known = orders.line_orders(session, line_ids)
    taken = repository.order_lines_with_runs(session, line_ids)
    pending: list[tuple[int, OrderLine, dict[str, Any]]] = []
    for index, line in enumerate(lines):
        snapshot = snapshots[line.design_id]
        if isinstance(snapshot, DomainError):
            result.refused[index] = snapshot
            continue
        error = order_error
        if error is None and line.line_id is not None:
            error = _line_error(line.line_id, known.get(line.line_id), order_id, taken)
        if error is not None:
            result.refused[index] = error
            continue
        if line.line_id is not None:
            taken.add(line.line_id)
        pending.append((index, line, snapshot))
    if not pending:
        return result
    rows = [
        _new_run_fields(
            design_id=line.design_id,
            partner_id=None,
            quantity=line.quantity,
            run_type=str(RunType.PRODUCTION),
            role=None,
            product_id=line.product_id,
            variant_id=line.variant_id,
            order_id=order_id,
            order_line_item_id=line.line_id,
            metadata_=dict(metadata),
            status=str(RunStatus.PENDING_REVIEW),
            parent_run_id=None,
            snapshot=snapshot,
        )
        for _, line, snapshot in pending
    ]
    try:
        with session.begin_nested():
            ids = repository.insert_runs(session, rows)
    except IntegrityError:
        _create_one_by_one(session, pending, actor, order_id, metadata, result)
        return result
    result.created = [
        NewRun(run_id, line.design_id, line)
        for run_id, (_, line, _) in zip(ids, pending, strict=True)
    ]
    audit.record_many(session, ids, "created", actor, to_status=RunStatus.PENDING_REVIEW)
    outbox.emit_many(
        session,
        "production_run.created",
        [transitions.event_payload(run, actor) for run in result.created],
    )
    for run in result.created:
        log.info(
            "production run created",
            extra={"run_id": run.id, "design_id": run.design_id, "partner_id": None},
        )
    return result


def _line_error(
    line_id: str, line_order: str | None, order_id: str | None, taken: set[str]
) -> DomainError | None:
    if line_order is None or (order_id is not None and line_order != order_id):
        return not_found("order_line_item", line_id)
    if line_id in taken:
        return Conflict(
            f"order line {line_id!r} already has a production run",
            code=ProductionCode.DUPLICATE_ORDER_LINE,
        )
    return None


def _create_one_by_one(
    session: Session,
    pending: Sequence[tuple[int, OrderLine, dict[str, Any]]],
    actor: Actor,
    order_id: str | None,
    metadata: dict[str, Any],
    result: OrderRuns,
) -> None:
    for index, line, snapshot in pending:
        try:
            run = create_run(
                session,
                design_id=line.design_id,
                actor=actor,
                quantity=line.quantity,
                product_id=line.product_id,
                variant_id=line.variant_id,
                order_id=order_id,
                order_line_item_id=line.line_id,
                metadata=metadata,
                snapshot=snapshot,
            )
        except DomainError as exc:
            result.refused[index] = exc
            continue
        result.created.append(NewRun(run.id, line.design_id, line))


# --- approval ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssignmentSpec:
    """One child of a split approval (service-level mirror of ``schemas.Assignment``)."""

    partner_id: str
    quantity: int
    role: str | None = None
    order: int | None = None
    template_names: tuple[str, ...] = ()
    template_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class DispatchReport:
    dispatched: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    deferred_for_ordering: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "dispatched": self.dispatched,
            "skipped": self.skipped,
            "failed": self.failed,
            "deferred_for_ordering": self.deferred_for_ordering,
        }


@dataclass(slots=True)
class ApprovalResult:
    run: ProductionRun
    children: list[ProductionRun]
    dispatch: DispatchReport


def approve_run(
    session: Session,
    run_id: str,
    *,
    actor: Actor,
    assignments: Sequence[AssignmentSpec] | None = None,
    template_names: Sequence[str] | None = None,
    template_ids: Sequence[str] | None = None,
    auto_dispatch: bool = True,
    auto_approved: bool = False,
) -> ApprovalResult:
    """Approve a draft/pending run; with ``assignments`` also create one approved child each.

    Children with template intent and nothing to wait on are dispatched at once (each in its own
    SAVEPOINT so a failed dispatch keeps the approval). Raises 409/404/422 before writing.
    """
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.APPROVE)
    specs = list(assignments or [])
    if specs:
        _validate_assignments(session, run, specs)
    elif template_names or template_ids:
        run.dispatch_template_names = list(template_names or [])
        run.dispatch_template_ids = list(template_ids or [])

    before = run.status
    run.status = RunStatus.APPROVED
    data: dict[str, Any] = {"assignments": len(specs)} if specs else {}
    if auto_approved:
        data.update(auto_approved=True, template_names=list(run.dispatch_template_names))
    transitions.record_change(
        session, run, "approved", actor, from_status=before, data=data, event="approved"
    )
    children = _create_children(session, run, specs, actor) if specs else []
    report = DispatchReport()
    if auto_dispatch:
        targets = children if specs else [run]
        report = dispatch_approved(session, targets, actor)
    log.info(
        "production run approved",
        extra={"run_id": run.id, "children": len(children), "partner_id": run.partner_id},
    )
    return ApprovalResult(run, children, report)


def _validate_assignments(
    session: Session, run: ProductionRun, specs: Sequence[AssignmentSpec]
) -> None:
    for spec in specs:
        partners.get_partner(session, spec.partner_id)
    total = sum(spec.quantity for spec in specs)
    if run.quantity is None:
        # An omitted parent quantity becomes the sum of its assignments.
        run.quantity = total
    elif total != run.quantity:
        raise Invalid(
            f"assignment quantities add up to {total} but the run quantity is {run.quantity}",
            code=ProductionCode.ASSIGNMENT_QUANTITY_MISMATCH,
        )


def _create_children(
    session: Session, parent: ProductionRun, specs: Sequence[AssignmentSpec], actor: Actor
) -> list[ProductionRun]:
    snapshot = capture_snapshot(session, parent.design_id)
    groups = sorted({spec.order or 0 for spec in specs})
    group_index = {value: index for index, value in enumerate(groups)}
    children_by_group: dict[int, list[ProductionRun]] = {}
    children: list[ProductionRun] = []
    metadata: dict[str, Any] = {"split_from": parent.id}
    if parent.order_line_item_id:
        metadata["order_line_item_id"] = parent.order_line_item_id
    for spec in specs:
        index = group_index[spec.order or 0]
        earlier = [c.id for g in range(index) for c in children_by_group.get(g, [])]
        child = ProductionRun(
            design_id=parent.design_id,
            partner_id=spec.partner_id,
            quantity=spec.quantity,
            role=spec.role,
            run_type=parent.run_type,
            status=RunStatus.APPROVED,
            parent_run_id=parent.id,
            order_id=parent.order_id,
            product_id=parent.product_id,
            variant_id=parent.variant_id,
            depends_on_run_ids=earlier,
            sequence=index if len(groups) > 1 else None,
            snapshot=snapshot,
            captured_at=clock.now(),
            dispatch_template_names=list(spec.template_names),
            dispatch_template_ids=list(spec.template_ids),
            dispatched_template_ids=[],
            reminder_counts={},
            metadata_=dict(metadata),
        )
        session.add(child)
        session.flush()
        children_by_group.setdefault(index, []).append(child)
        children.append(child)
        audit.record(
            session,
            child.id,
            "created",
            actor,
            to_status=child.status,
            data={"parent_run_id": parent.id, "assignment": True},
        )
        outbox.emit(session, "production_run.created", transitions.event_payload(child, actor))
        outbox.emit(session, "production_run.approved", transitions.event_payload(child, actor))
    for partner_id in dict.fromkeys(spec.partner_id for spec in specs):
        catalog.link_partner(session, parent.design_id, partner_id)
    return children


def dispatch_approved(
    session: Session, runs: Sequence[ProductionRun], actor: Actor
) -> DispatchReport:
    """Dispatch each approved run that has template intent and nothing to wait on.

    A failure is reported and rolled back to its SAVEPOINT; the approval stays.
    """
    report = DispatchReport()
    for run in runs:
        if run.depends_on_run_ids and transitions.waiting_on(session, run):
            report.deferred_for_ordering = True
            report.skipped.append({"production_run_id": run.id, "reason": "deferred for ordering"})
            continue
        if not (run.dispatch_template_names or run.dispatch_template_ids):
            report.skipped.append({"production_run_id": run.id, "reason": "no template intent"})
            continue
        if run.partner_id is None:
            report.skipped.append({"production_run_id": run.id, "reason": "no partner"})
            continue
        _dispatch_one(session, run, actor, report)
    return report


def _dispatch_one(
    session: Session, run: ProductionRun, actor: Actor, report: DispatchReport
) -> None:
    savepoint = session.begin_nested()
    try:
        outcome = dispatch.dispatch_with_intent(session, run, actor=actor)
    except DomainError as exc:
        savepoint.rollback()
        report.failed.append({"production_run_id": run.id, "reason": exc.detail, "code": exc.code})
        return
    except Exception:
        savepoint.rollback()
        log.exception("dispatch failed", extra={"run_id": run.id, "partner_id": run.partner_id})
        report.failed.append({"production_run_id": run.id, "reason": "dispatch failed"})
        return
    if outcome.status == "dispatched":
        savepoint.commit()
        report.dispatched.append(run.id)
    elif outcome.status == "failed":
        savepoint.rollback()
        report.failed.append(
            {
                "production_run_id": run.id,
                "reason": outcome.reason or "dispatch failed",
                "code": outcome.code,
            }
        )
    else:
        savepoint.commit()
        report.skipped.append({"production_run_id": run.id, "reason": outcome.reason or "skipped"})


def create_design_runs(
    session: Session,
    design_id: str,
    *,
    actor: Actor,
    quantity: int | None = None,
    run_type: str = RunType.PRODUCTION,
    assignments: Sequence[AssignmentSpec] | None = None,
    metadata: dict[str, Any] | None = None,
) -> ApprovalResult:
    """A parent run for ``design_id``; with ``assignments`` it is approved and split at once."""
    run = create_run(
        session,
        design_id=design_id,
        actor=actor,
        quantity=quantity,
        run_type=run_type,
        metadata=metadata,
    )
    if not assignments:
        return ApprovalResult(run, [], DispatchReport())
    return approve_run(session, run.id, actor=actor, assignments=assignments)


__all__ = [
    "ALREADY_CANCELLED",
    "ALREADY_QUEUED",
    "ApprovalResult",
    "AssignmentSpec",
    "DispatchReport",
    "ReassignResult",
    "add_note",
    "approve_run",
    "cancel_run",
    "capture_snapshot",
    "create_design_runs",
    "create_run",
    "decline_run",
    "dispatch_approved",
    "reassign_run",
    "record_created",
    "relink_run",
    "update_run",
]
