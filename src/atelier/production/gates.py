"""Lifecycle gate deadlines: which gate a dispatched run waits at, and until when.

After dispatch a run passes four gates — accept, start, finish, complete — each with a
deadline (``ATELIER_GATE_TIMEOUT``, default 23 days) counted from the moment the previous gate
was passed. The state lives in the run's row (``current_gate``/``gate_deadline_at``), so a
waiting run costs no process memory; ``production.jobs`` flags passed deadlines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

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


def gate_changes(
    fields: Mapping[str, Any], paused_seconds: int | None, timeout: timedelta | None = None
) -> dict[str, Any]:
    """The gate columns to write for a run whose columns are ``fields`` (``gate_paused_seconds``
    given apart, as the responses do not show it): ``current_gate``/``gate_deadline_at`` up to
    date, the overdue flag cleared when the gate moved on; empty when nothing changes."""
    gate, deadline = next_gate(
        fields["status"],
        fields["dispatch_completed_at"],
        fields["accepted_at"],
        fields["started_at"],
        fields["finished_at"],
        timeout if timeout is not None else gate_timeout(),
    )
    gate_value = gate.value if gate is not None else None
    changes: dict[str, Any] = {}
    if fields["current_gate"] != gate_value:
        # Time on hold counts for the gate it was spent at; a new gate starts with none.
        changes["gate_paused_seconds"] = paused_seconds = 0
    if deadline is not None and paused_seconds:
        deadline += timedelta(seconds=paused_seconds)
    if not changes and fields["gate_deadline_at"] == deadline:
        return changes
    changes["current_gate"] = gate_value
    changes["gate_deadline_at"] = deadline
    # A new gate (or the same gate re-armed by a re-dispatch) starts unflagged.
    if fields["overdue_gate"] is not None or fields["overdue_at"] is not None:
        changes["overdue_gate"] = None
        changes["overdue_at"] = None
    return changes


_GATE_INPUTS = (
    "status",
    "dispatch_completed_at",
    "accepted_at",
    "started_at",
    "finished_at",
    "current_gate",
    "gate_deadline_at",
    "overdue_gate",
    "overdue_at",
)


def refresh_gate(run: ProductionRun, timeout: timedelta | None = None) -> bool:
    """Bring ``current_gate``/``gate_deadline_at`` up to date; clear the overdue flag when the
    gate moved on. Returns whether the gate (or its deadline) changed."""
    fields = {name: getattr(run, name) for name in _GATE_INPUTS}
    changes = gate_changes(fields, run.gate_paused_seconds, timeout)
    for name, value in changes.items():
        setattr(run, name, value)
    return bool(changes)
