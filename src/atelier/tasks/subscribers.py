"""Task-driven run completion: when every top-level task of a run is completed (cancelled ones
don't block, redo tasks do), the run completes — exactly once, however many task events race."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from atelier.platform.actors import Actor
from atelier.platform.errors import NotFound
from atelier.platform.outbox import Event, subscriber
from atelier.production import transitions
from atelier.production.lifecycle import RunStatus
from atelier.production.models import ProductionRun
from atelier.tasks import service

log = logging.getLogger(__name__)

_COMPLETABLE = frozenset({RunStatus.SENT_TO_PARTNER, RunStatus.IN_PROGRESS})


@subscriber(service.TASK_UPDATED, name="tasks.complete_run_when_tasks_done")
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
    if not service.all_tasks_completed(session, run_id):
        return False
    result = _complete(session, run)
    if result:
        log.info(
            "run completed by its tasks", extra={"run_id": run_id, "partner_id": run.partner_id}
        )
    return result


def _complete(session: Session, run: ProductionRun) -> bool:
    # Imported lazily: production.completion imports inventory and catalog, which import tasks.
    from atelier.production.completion import complete_run

    result = complete_run(
        session, run, actor=Actor.system(), produced_quantity=None, source="tasks"
    )
    return not result.already and result.skipped_reason is None
