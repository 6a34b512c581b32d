"""Lifecycle gate deadlines: which gate a dispatched run waits at, and until when.

After dispatch a run passes four gates — accept, start, finish, complete — each with a
deadline (``ATELIER_GATE_TIMEOUT``, default 23 days) counted from the moment the previous gate
was passed. The state lives in the run's row (``current_gate``/``gate_deadline_at``), so a
waiting run costs no process memory; ``production.jobs`` flags passed deadlines.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from atelier.production.lifecycle import RunStatus
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)

DEFAULT_GATE_TIMEOUT = timedelta(days=23)


class Gate(StrEnum):
    ACCEPT = "accept"
    START = "start"
    FINISH = "finish"
    COMPLETE = "complete"


def next_gate(
    status: str,
    dispatch_completed_at: datetime | None,
    accepted_at: datetime | None,
    started_at: datetime | None,
    finished_at: datetime | None,
    timeout: timedelta,
) -> tuple[Gate | None, datetime | None]:
    """The gate a run waits at and its deadline; ``(None, None)`` before dispatch or when done."""
    # Only runs whose work is with the partner have a gate: before dispatch the brand is the one
    # acting, and terminal / awaiting_reassignment runs wait on nobody's deadline.
    if status not in (RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS):
        return None, None
    if dispatch_completed_at is None:
        return None, None
    if accepted_at is None:
        return Gate.ACCEPT, dispatch_completed_at + timeout
    if started_at is None:
        return Gate.START, accepted_at + timeout
    if finished_at is None:
        return Gate.FINISH, started_at + timeout
    return Gate.COMPLETE, finished_at + timeout


def gate_timeout() -> timedelta:
    """``ATELIER_GATE_TIMEOUT`` from the process settings (the default when they cannot load)."""
    from atelier.platform.settings import get_settings

    try:
        return get_settings().gate_timeout
    except ValidationError:  # pragma: no cover - misconfigured env; transitions must still work
        log.warning("settings could not be read; using the default gate timeout")
        return DEFAULT_GATE_TIMEOUT


def gate_started_at(run: ProductionRun) -> datetime | None:
    """When the run arrived at its current gate (``None`` without a gate)."""
    return {
        Gate.ACCEPT.value: run.dispatch_completed_at,
        Gate.START.value: run.accepted_at,
        Gate.FINISH.value: run.started_at,
        Gate.COMPLETE.value: run.finished_at,
    }.get(run.current_gate or "")


def refresh_gate(run: ProductionRun, timeout: timedelta | None = None) -> bool:
    """Bring ``current_gate``/``gate_deadline_at`` up to date; clear the overdue flag when the
    gate moved on. Returns whether the gate (or its deadline) changed."""
    gate, deadline = next_gate(
        run.status,
        run.dispatch_completed_at,
        run.accepted_at,
        run.started_at,
        run.finished_at,
        timeout if timeout is not None else gate_timeout(),
    )
    gate_value = gate.value if gate is not None else None
    if run.current_gate != gate_value:
        # Time on hold counts for the gate it was spent at; a new gate starts with none.
        run.gate_paused_seconds = 0
    if deadline is not None and run.gate_paused_seconds:
        deadline += timedelta(seconds=run.gate_paused_seconds)
    if run.current_gate == gate_value and run.gate_deadline_at == deadline:
        return False
    run.current_gate = gate_value
    run.gate_deadline_at = deadline
    # A new gate (or the same gate re-armed by a re-dispatch) starts unflagged.
    if run.overdue_gate is not None or run.overdue_at is not None:
        run.overdue_gate = None
        run.overdue_at = None
    return True
