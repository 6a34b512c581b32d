"""``order.placed`` → one ``pending_review`` run per line that resolves to a design.

Redelivery and concurrent delivery are safe because ``production_runs.order_line_item_id`` is
unique: each line's insert runs in its own SAVEPOINT and a duplicate just rolls that back.
When the auto-approval rules pass, the new run is approved with its route partner and template
intent and dispatched; otherwise it waits for an admin.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.platform.actors import Actor
from atelier.platform.errors import DomainError
from atelier.platform.outbox import Event, subscriber
from atelier.production import policy, service
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)

SOURCE = "order.placed"


@subscriber("order.placed", name="production.runs_from_order")
def runs_from_order(session: Session, event: Event) -> None:
    """Create the order's production runs (idempotent per order line)."""
    create_runs_for_order(session, event.payload, event_id=event.id)


def create_runs_for_order(
    session: Session, payload: dict[str, Any], *, event_id: str | None = None
) -> list[ProductionRun]:
    """One run per resolvable line of an ``order.placed`` payload; returns the runs created now."""
    actor = Actor.system()
    order_id = payload.get("order_id")
    rules = policy.auto_approval_rules(session)
    created: list[ProductionRun] = []
    for item in payload.get("items") or []:
        line_id = item.get("id")
        product_id = item.get("product_id")
        variant_id = item.get("variant_id")
        context = {
            "order_id": order_id,
            "order_line_item_id": line_id,
            "product_id": product_id,
            "variant_id": variant_id,
        }
        design_id = catalog.design_for_line(session, product_id, variant_id)
        if design_id is None:
            log.info("order line has no design; no production run", extra=context)
            continue
        metadata: dict[str, Any] = {"source": SOURCE}
        if payload.get("external_id"):
            metadata["external_order_id"] = payload["external_id"]
        if event_id:
            metadata["event_id"] = event_id
        try:
            run = service.create_run(
                session,
                design_id=design_id,
                actor=actor,
                quantity=item.get("quantity"),
                product_id=product_id,
                variant_id=variant_id,
                order_id=order_id,
                order_line_item_id=line_id,
                metadata=metadata,
            )
        except DomainError as exc:
            if exc.code == "duplicate_order_line":
                log.info("order line already has a production run", extra=context)
            else:
                log.warning(
                    "order line skipped: %s", exc.detail, extra={**context, "code": exc.code}
                )
            continue
        created.append(run)
        _maybe_auto_approve(session, run, rules, actor)
    return created


def _maybe_auto_approve(
    session: Session, run: ProductionRun, rules: policy.AutoApprovalRules, actor: Actor
) -> None:
    if not rules.enabled:
        return
    decision = policy.evaluate_run(session, run, rules)
    if not decision.auto_approvable:
        log.info(
            "production run waits for review",
            extra={"run_id": run.id, "reasons": list(decision.reasons)},
        )
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
    from atelier.production import cascade

    run_id = event.payload.get("production_run_id")
    if isinstance(run_id, str) and run_id:
        cascade.flag_dependants_of_cancelled(session, run_id, Actor.system())
