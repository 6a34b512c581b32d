"""Admin holds: a run that waits on the brand (materials not yet sent, a design question).

A held run gets no reminders and its gate deadline pauses: the sweeper skips it, and on release
the time spent on hold at the current gate (``gate_paused_seconds``) is added to the deadline.
Both verbs are in the lifecycle table (``Action.HOLD``/``RELEASE``), audited and emitted.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.production import transitions
from atelier.production.gates import gate_started_at, refresh_gate
from atelier.production.lifecycle import Action
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)


def hold_run(session: Session, run_id: str, *, reason: str, actor: Actor) -> ProductionRun:
    """Put a non-terminal run on hold; 409 ``already_on_hold`` when it is."""
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.HOLD)
    run.on_hold = True
    run.hold_reason = reason
    run.held_at = clock.now()
    transitions.record_change(session, run, "held", actor, data={"reason": reason}, event="held")
    log.info("production run held", extra={"run_id": run.id, "partner_id": run.partner_id})
    return run


def release_run(session: Session, run_id: str, *, actor: Actor) -> ProductionRun:
    """Release a held run; its current gate's deadline moves by the time it was held there."""
    run = transitions.lock_run(session, run_id)
    transitions.require(session, run, Action.RELEASE)
    now = clock.now()
    held_at = run.held_at or now
    paused = 0
    started = gate_started_at(run)
    if run.current_gate is not None and started is not None:
        paused = max(0, int((now - max(held_at, started)).total_seconds()))
        run.gate_paused_seconds = (run.gate_paused_seconds or 0) + paused
    reason = run.hold_reason
    run.on_hold = False
    run.hold_reason = None
    run.held_at = None
    refresh_gate(run)
    transitions.record_change(
        session,
        run,
        "released",
        actor,
        data={"reason": reason, "held_since": held_at.isoformat(), "gate_paused_seconds": paused},
        event="released",
    )
    log.info("production run released", extra={"run_id": run.id, "paused_seconds": paused})
    return run
