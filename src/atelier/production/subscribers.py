"""Production's reactions to events, each in its own transaction and idempotent.

``order.placed`` → one ``pending_review`` run per line that resolves to a design. Redelivery
and concurrent delivery are safe because ``production_runs.order_line_item_id`` is unique: each
line's insert runs in its own SAVEPOINT and a duplicate just rolls that back.
When the auto-approval rules pass, the new run is approved with its route partner and template
intent and dispatched; otherwise it waits for an admin.

``tasks.task.updated`` → when every top-level task of a run is completed (cancelled ones don't
block, redo tasks do), the run completes — exactly once, however many task events race.

``production_run.completed`` → the approved runs that waited on it are dispatched with their
template intent (``cascade.release_dependants``).

``production_run.started`` / ``finished`` / ``completed`` of a sample run → its design moves to
In_Development / Technical_Review / Approved.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.catalog.models import DesignStatus
from atelier.platform.actors import Actor
from atelier.platform.errors import DomainError, NotFound
from atelier.platform.outbox import Event, subscriber
from atelier.production import cascade, policy, service, transitions
from atelier.production.completion import complete_run
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import RunStatus
from atelier.production.models import ProductionRun, RunType
from atelier.tasks import service as tasks

log = logging.getLogger(__name__)

SOURCE = "order.placed"


@subscriber("order.placed", name="production.runs_from_order")
def runs_from_order(session: Session, event: Event) -> None:
    """Create the order's production runs (idempotent per order line)."""
    create_runs_for_order(session, event.payload, event_id=event.id)


def create_runs_for_order(
    session: Session, payload: dict[str, Any], *, event_id: str | None = None
) -> list[str]:
    """One run per resolvable line of an ``order.placed`` payload; returns the ids created now.

    A fixed number of statements whatever the number of lines and designs
    (``service.create_order_runs``, ``policy.evaluate_runs``); each design's auto-approval is
    evaluated once. Only auto-approved runs are then loaded.
    """
    actor = Actor.system()
    order_id = payload.get("order_id")
    items: list[dict[str, Any]] = list(payload.get("items") or [])
    designs = catalog.designs_for_lines(
        session, [(item.get("product_id"), item.get("variant_id")) for item in items]
    )
    lines: list[service.OrderLine] = []
    contexts: list[dict[str, Any]] = []
    for item in items:
        context = {
            "order_id": order_id,
            "order_line_item_id": item.get("id"),
            "product_id": item.get("product_id"),
            "variant_id": item.get("variant_id"),
        }
        design_id = designs[(item.get("product_id"), item.get("variant_id"))]
        if design_id is None:
            log.info("order line has no design; no production run", extra=context)
            continue
        lines.append(
            service.OrderLine(
                line_id=item.get("id"),
                design_id=design_id,
                quantity=item.get("quantity"),
                product_id=item.get("product_id"),
                variant_id=item.get("variant_id"),
            )
        )
        contexts.append(context)
    metadata: dict[str, Any] = {"source": SOURCE}
    if payload.get("external_id"):
        metadata["external_order_id"] = payload["external_id"]
    if event_id:
        metadata["event_id"] = event_id
    result = service.create_order_runs(
        session, lines, actor=actor, order_id=order_id, metadata=metadata
    )
    for index, exc in sorted(result.refused.items()):
        if exc.code == ProductionCode.DUPLICATE_ORDER_LINE:
            log.info("order line already has a production run", extra=contexts[index])
        else:
            log.warning(
                "order line skipped: %s", exc.detail, extra={**contexts[index], "code": exc.code}
            )
    rules = policy.auto_approval_rules(session)
    if rules.enabled and result.created:
        # One decision per design (its runs are alike: pending, no partner), all in a fixed
        # number of statements.
        refs = {
            new.design_id: policy.RunRef(new.status, new.design_id, new.partner_id)
            for new in result.created
        }
        evaluated = policy.evaluate_runs(
            session, list(refs.values()), rules, designs=result.designs
        )
        decisions = dict(zip(refs, evaluated, strict=True))
        for new in result.created:
            _maybe_auto_approve(session, new.id, decisions[new.design_id], actor)
    return [new.id for new in result.created]


def _maybe_auto_approve(
    session: Session, run_id: str, decision: policy.AutoApprovalDecision, actor: Actor
) -> None:
    if not decision.auto_approvable:
        log.info(
            "production run waits for review",
            extra={"run_id": run_id, "reasons": list(decision.reasons)},
        )
        return
    run = session.get(ProductionRun, run_id)
    if run is None:
        return
    try:
        # The approval either happens whole or not at all; the run then simply waits.
        with session.begin_nested():
            run.partner_id = decision.partner_id
            run.metadata_ = {**run.metadata_, "auto_approved": True}
            session.flush()
            result = service.approve_run(
                session,
                run.id,
                actor=actor,
                template_names=list(decision.template_names),
                auto_approved=True,
            )
    except DomainError as exc:
        log.warning(
            "auto-approval failed; the run waits for review",
            extra={"run_id": run.id, "code": exc.code},
        )
        return
    log.info(
        "production run auto-approved",
        extra={
            "run_id": run.id,
            "partner_id": decision.partner_id,
            "dispatched": bool(result.dispatch.dispatched),
        },
    )


@subscriber("production_run.cancelled", name="production.flag_dependants_of_cancelled")
def flag_dependants_of_cancelled(session: Session, event: Event) -> None:
    """Runs that waited on the cancelled run get a feed entry and a timeline event."""
    run_id = event.payload.get("production_run_id")
    if isinstance(run_id, str) and run_id:
        cascade.flag_dependants_of_cancelled(session, run_id, Actor.system())


# --- task-driven completion -------------------------------------------------------------------

_COMPLETABLE = frozenset({RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS})


# The name predates the move from the tasks package; deliveries are recorded under it.
@subscriber(tasks.TASK_UPDATED, name="tasks.complete_run_when_tasks_done")
def complete_run_when_tasks_done(session: Session, event: Event) -> None:
    run_id = event.payload.get("production_run_id")
    if not isinstance(run_id, str):
        return
    complete_run_if_tasks_done(session, run_id)


def complete_run_if_tasks_done(session: Session, run_id: str) -> bool:
    """Complete the run when all its tasks are done; True when this call completed it.

    The run row is locked first, so of two deliveries racing on the same run the second waits
    and then sees the run completed (SQLite: the write session holds the database lock).
    """
    try:
        run = transitions.lock_run(session, run_id)
    except NotFound:
        return False
    if run.status not in _COMPLETABLE:
        return False
    if run.finished_at is not None:
        # The partner finished the run through the run milestone: /complete, which records the
        # real yield, rejects and consumption, is the completion gate; don't guess it here.
        return False
    if not tasks.all_tasks_completed(session, run_id):
        return False
    result = complete_run(
        session, run, actor=Actor.system(), produced_quantity=None, source="tasks"
    )
    if result.already or result.skipped_reason is not None:
        return False
    log.info("run completed by its tasks", extra={"run_id": run_id, "partner_id": run.partner_id})
    return True


# --- reactions to a run's own changes ---------------------------------------------------------

RUN_COMPLETED = "production_run.completed"


@subscriber(RUN_COMPLETED, name="production.release_dependants")
def release_dependants(session: Session, event: Event) -> None:
    """Dispatch the runs that waited on the completed run (as the actor who completed it)."""
    cascade.release_dependants(
        session, str(event.payload["production_run_id"]), transitions.actor_of(event.payload)
    )


SAMPLE_DESIGN_STATUS: dict[str, DesignStatus] = {
    "production_run.started": DesignStatus.IN_DEVELOPMENT,
    "production_run.finished": DesignStatus.TECHNICAL_REVIEW,
    RUN_COMPLETED: DesignStatus.APPROVED,
}


def sample_moves_design(session: Session, event: Event) -> None:
    """A sample run drives its design's development status; production runs leave it alone."""
    payload = event.payload
    to_status = SAMPLE_DESIGN_STATUS[event.name]
    if payload.get("run_type") != RunType.SAMPLE:
        return
    if payload.get("via") == "children":
        return  # a parent completes because its children did; they moved the design already
    design_id = str(payload["design_id"])
    if catalog.move_design_status(session, design_id, to_status):
        log.info(
            "sample run moved its design",
            extra={
                "run_id": payload.get("production_run_id"),
                "design_id": design_id,
                "to": str(to_status),
            },
        )


for _event_name in SAMPLE_DESIGN_STATUS:
    subscriber(_event_name, name=f"production.sample_design_on_{_event_name.split('.')[-1]}")(
        sample_moves_design
    )
