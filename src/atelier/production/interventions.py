"""Admin and partner interventions on a run: cancel, decline, reassign, edit, note.

Each one locks the run, asks the lifecycle, mutates, and audits + emits in the caller's
transaction (``transitions.record_change``). Re-exported from ``production.service``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from atelier.audit import service as audit
from atelier.audit.models import RunEvent
from atelier.catalog import service as catalog
from atelier.partners import service as partners
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict, Invalid, not_found
from atelier.production import cascade, repository, transitions
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import TERMINAL, Action, RunStatus
from atelier.production.models import DispatchState, ProductionRun
from atelier.tasks import service as tasks_service

log = logging.getLogger(__name__)

DECLINE_REASONS = frozenset({"capacity", "materials_unavailable", "scheduling_conflict", "other"})
ALREADY_CANCELLED = "Already cancelled"
ALREADY_QUEUED = "Run already queued for reassignment"


def cancel_open_tasks(session: Session, run_id: str, actor: Actor, *, reason: str) -> int:
    """Cancel the run's open tasks (and subtasks); returns how many changed."""
    return tasks_service.cancel_open_tasks(session, run_id, actor, reason=reason)


def _reset_dispatch(run: ProductionRun) -> None:
    run.dispatch_state = DispatchState.IDLE
    run.dispatch_started_at = None
    run.dispatch_completed_at = None
    run.dispatched_template_ids = []


def _reset_gates_and_reminders(run: ProductionRun) -> None:
    run.current_gate = None
    run.gate_deadline_at = None
    run.overdue_gate = None
    run.overdue_at = None
    run.last_reminder_at = None
    run.reminder_counts = {}


# --- cancel -----------------------------------------------------------------------------------


def cancel_run(
    session: Session, run_id: str, actor: Actor, reason: str | None = None
) -> tuple[ProductionRun, list[ProductionRun], str]:
    """Cancel a non-terminal run, its open tasks and unfinished children.

    Returns ``(run, cancelled_children, message)``; a run already cancelled answers
    ``"Already cancelled"`` and changes nothing; a completed run is refused (409).
    """
    run = transitions.lock_run(session, run_id)
    if run.status == RunStatus.CANCELLED:
        return run, [], ALREADY_CANCELLED
    transitions.require(session, run, Action.CANCEL)
    _cancel_locked(session, run, actor, reason)
    children = _cancel_children(session, run, actor)
    if run.parent_run_id:
        _cancel_parent_if_settled(session, run.parent_run_id, actor, run.id)
    log.info("production run cancelled", extra={"run_id": run.id, "partner_id": run.partner_id})
    return run, children, "Cancelled"


def _cancel_locked(
    session: Session, run: ProductionRun, actor: Actor, reason: str | None, **data: Any
) -> None:
    before = run.status
    run.status = RunStatus.CANCELLED
    run.cancelled_at = clock.now()
    run.cancelled_reason = reason
    run.current_gate = None
    run.gate_deadline_at = None
    cancelled_tasks = cancel_open_tasks(
        session, run.id, actor, reason=reason or "production run cancelled"
    )
    transitions.record_change(
        session,
        run,
        "cancelled",
        actor,
        from_status=before,
        data={"reason": reason, "cancelled_tasks": cancelled_tasks, **data},
        event="cancelled",
    )


def _cancel_children(session: Session, run: ProductionRun, actor: Actor) -> list[ProductionRun]:
    child_ids = repository.open_child_ids(session, run.id)
    cancelled: list[ProductionRun] = []
    for child_id in child_ids:
        child = transitions.lock_run(session, child_id)
        if child.status in TERMINAL:
            continue
        _cancel_locked(session, child, actor, "parent run cancelled", parent_run_id=run.id)
        cancelled.append(child)
        cancelled.extend(_cancel_children(session, child, actor))
    return cancelled


def _cancel_parent_if_settled(
    session: Session, parent_id: str, actor: Actor, child_id: str
) -> None:
    statuses = repository.child_statuses(session, parent_id)
    if any(s not in TERMINAL for s in statuses):
        return
    if RunStatus.COMPLETED in statuses:
        # The remaining children were completed before this one was dropped: the split is done.
        cascade.settle_parent(session, parent_id, child_id, actor)
        return
    # A split whose every child ended without any completing has nothing left to make.
    parent = transitions.lock_run(session, parent_id)
    if parent.status in TERMINAL:
        return
    _cancel_locked(session, parent, actor, "all child runs cancelled")


# --- decline ----------------------------------------------------------------------------------


def decline_run(
    session: Session,
    run_id: str,
    *,
    partner_id: str,
    reason: str,
    notes: str | None,
    actor: Actor,
) -> tuple[ProductionRun, str]:
    """The assigned partner hands the run back: → ``awaiting_reassignment``, partner cleared.

    Declining again by the same partner answers ``"Run already queued for reassignment"``; another
    partner's run is 404; a started run is refused (409 ``already_started``).
    """
    reason = str(reason)
    if reason not in DECLINE_REASONS:
        allowed = ", ".join(sorted(DECLINE_REASONS))
        raise Invalid(
            f"reason must be one of: {allowed}", code=ProductionCode.INVALID_DECLINE_REASON
        )
    run = transitions.lock_run(session, run_id)
    if run.partner_id != partner_id:
        if run.status == RunStatus.AWAITING_REASSIGNMENT and run.previous_partner_id == partner_id:
            return run, ALREADY_QUEUED
        raise not_found("production_run", run_id)
    transitions.require(session, run, Action.DECLINE)
    before = run.status
    run.status = RunStatus.AWAITING_REASSIGNMENT
    run.previous_partner_id = partner_id
    run.partner_id = None
    # Acceptance belonged to the partner who declined; the next partner accepts afresh.
    run.accepted_at = None
    _reset_dispatch(run)
    _reset_gates_and_reminders(run)
    repository.clear_reminder_states(session, run.id)
    cancelled_tasks = cancel_open_tasks(session, run.id, actor, reason=f"declined: {reason}")
    transitions.record_change(
        session,
        run,
        "declined",
        actor,
        from_status=before,
        data={
            "reason": reason,
            "notes": notes,
            "declined_by_partner_id": partner_id,
            "cancelled_tasks": cancelled_tasks,
        },
        event="declined",
    )
    log.info("production run declined", extra={"run_id": run.id, "partner_id": partner_id})
    return run, "Run declined; it is queued for reassignment"


# --- reassign ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReassignResult:
    run: ProductionRun
    previous_partner_id: str | None
    same_partner: bool


def reassign_run(
    session: Session, run_id: str, *, partner_id: str, actor: Actor, note: str | None = None
) -> ReassignResult:
    """Give the run to ``partner_id``: → ``approved`` with dispatch and reminder state reset.

    Unknown partner → 404 with nothing changed; an accepted run → 409 ``already_accepted``.
    """
    partners.get_partner(session, partner_id)
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.REASSIGN)
    previous = run.partner_id or run.previous_partner_id
    before = run.status
    had_tasks = run.dispatch_state != DispatchState.IDLE or before == RunStatus.SENT_TO_PARTNER
    if run.partner_id is not None and run.partner_id != partner_id:
        run.previous_partner_id = run.partner_id
    run.partner_id = partner_id
    run.status = RunStatus.APPROVED
    _reset_dispatch(run)
    _reset_gates_and_reminders(run)
    repository.clear_reminder_states(session, run.id)
    cancelled_tasks = (
        cancel_open_tasks(session, run.id, actor, reason="run reassigned") if had_tasks else 0
    )
    catalog.link_partner(session, run.design_id, partner_id)
    transitions.record_change(
        session,
        run,
        "reassigned",
        actor,
        from_status=before,
        data={
            "partner_id": partner_id,
            "previous_partner_id": previous,
            "note": note,
            "cancelled_tasks": cancelled_tasks,
        },
        event="reassigned",
    )
    log.info("production run reassigned", extra={"run_id": run.id, "partner_id": partner_id})
    return ReassignResult(run, previous, previous == partner_id)


# --- edit and note ----------------------------------------------------------------------------

# Fields that change what the partner makes: frozen once the partner accepts.
STRUCTURAL_FIELDS = ("quantity", "role", "run_type")
EDITABLE_FIELDS = (*STRUCTURAL_FIELDS, "metadata", "partner_cost_estimate", "cost_type")


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def update_run(
    session: Session, run_id: str, *, changes: dict[str, Any], actor: Actor
) -> ProductionRun:
    """Apply admin edits; ``metadata`` is merged (a ``null`` value removes a key).

    quantity/role/run_type need the lifecycle's EDIT (409 once accepted); nothing on a terminal run.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(f"cannot edit {', '.join(sorted(unknown))}", code=ProductionCode.NOT_EDITABLE)
    run = transitions.lock_run(session, run_id)
    if any(name in changes for name in STRUCTURAL_FIELDS):
        transitions.require(session, run, Action.EDIT)
    elif run.status in TERMINAL:
        raise Conflict(
            f"the run is {run.status}; no further changes are allowed",
            code=ProductionCode.RUN_TERMINAL,
        )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "metadata":
            merged = dict(run.metadata_ or {})
            for key, item in (value or {}).items():
                if item is None:
                    merged.pop(key, None)
                else:
                    merged[key] = item
            old, new = dict(run.metadata_ or {}), merged
            run.metadata_ = merged
        else:
            old, new = getattr(run, name), value
            setattr(run, name, value)
        if old != new:
            before[name], after[name] = _jsonable(old), _jsonable(new)
    if after:
        transitions.record_change(
            session, run, "updated", actor, data={"before": before, "after": after}, event="updated"
        )
    return run


def add_note(session: Session, run_id: str, *, note: str, actor: Actor) -> RunEvent:
    """Append an admin note to the run's timeline (RunEvent kind ``note``)."""
    run = transitions.get_run(session, run_id)
    event = audit.record(session, run.id, "note", actor, data={"note": note})
    session.flush()
    return event


def relink_run(
    session: Session, run_id: str, *, depends_on_run_ids: Sequence[str], actor: Actor
) -> ProductionRun:
    """Replace the runs ``run_id`` waits on (e.g. drop a cancelled dependency).

    The lifecycle's EDIT decides when (409 once the partner accepted or the run is terminal);
    each dependency must be another run of the same parent (422), and no cycle may form (422).
    """
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.EDIT)
    wanted = list(dict.fromkeys(depends_on_run_ids))
    if run.id in wanted:
        raise Invalid("a run cannot depend on itself", code=ProductionCode.INVALID_DEPENDENCY)
    if wanted and run.parent_run_id is None:
        raise Invalid(
            "only child runs of one parent can depend on each other",
            code=ProductionCode.INVALID_DEPENDENCY,
        )
    siblings = {
        r.id: r for r in repository.children_of(session, run.parent_run_id or "") if r.id != run.id
    }
    strangers = [d for d in wanted if d not in siblings]
    if strangers:
        raise Invalid(
            f"not a sibling of this run: {', '.join(strangers)}",
            code=ProductionCode.INVALID_DEPENDENCY,
        )
    # A cycle: walking the new dependencies back through the siblings reaches this run.
    graph = {rid: list(r.depends_on_run_ids or []) for rid, r in siblings.items()}
    graph[run.id] = wanted
    stack, seen = list(wanted), set()
    while stack:
        current = stack.pop()
        if current == run.id:
            raise Invalid(
                "the dependencies would form a cycle", code=ProductionCode.DEPENDENCY_CYCLE
            )
        if current in seen:
            continue
        seen.add(current)
        stack.extend(graph.get(current, []))
    before = list(run.depends_on_run_ids or [])
    if before == wanted:
        return run
    run.depends_on_run_ids = wanted
    transitions.record_change(
        session,
        run,
        "dependencies_changed",
        actor,
        data={"before": before, "after": wanted},
        event="updated",
    )
    return run
