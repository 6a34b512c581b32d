"""A partner's work on the tasks of a run: the task actions with the run's side of them.

``tasks.service`` owns the task rules; what those actions need from the run — its lock and the
check that the work is with the partner, accepting a run still ``sent_to_partner`` through the
run's own accept, and the run's ``last_activity_at`` — is :data:`RUN_WORK`, supplied here
because tasks sit below production.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import Conflict
from atelier.production import milestones, repository, transitions
from atelier.production.errors import ProductionCode
from atelier.production.lifecycle import WITH_PARTNER, RunStatus
from atelier.production.models import ProductionRun
from atelier.tasks import service as tasks
from atelier.tasks.models import Task, TaskComment


class _RunWork:
    """``tasks.service.RunWork`` for production runs."""

    def lock_for_task_change(self, session: Session, run_id: str) -> None:
        run = transitions.lock_run(session, run_id)
        if run.status not in WITH_PARTNER:
            raise Conflict(
                f"the task's production run is {run.status}; its tasks cannot change now",
                code=ProductionCode.RUN_NOT_WITH_PARTNER,
            )

    def accept_for_task(self, session: Session, run_id: str, actor: Actor) -> None:
        run = session.get(ProductionRun, run_id)
        if run is None or run.status != RunStatus.SENT_TO_PARTNER:
            return
        # The run's own accept: the RunEvent, ``production_run.accepted`` and the parent
        # following are exactly those of ``POST .../accept``.
        milestones.accept_run(session, run_id, actor=actor)

    def record_activity(self, session: Session, run_id: str) -> None:
        repository.set_last_activity(session, run_id, clock.now())


RUN_WORK = _RunWork()


def accept_task(session: Session, task_id: str, actor: Actor, *, partner_id: str | None) -> Task:
    """pending → accepted; accepting work on a run still ``sent_to_partner`` accepts the run."""
    return tasks.accept_task(session, task_id, actor, partner_id=partner_id, runs=RUN_WORK)


def finish_task(session: Session, task_id: str, actor: Actor, *, partner_id: str | None) -> Task:
    """→ completed (its open subtasks too); the run is accepted first when it was not yet."""
    return tasks.finish_task(session, task_id, actor, partner_id=partner_id, runs=RUN_WORK)


def complete_subtask(
    session: Session, task_id: str, subtask_id: str, actor: Actor, *, partner_id: str | None
) -> tuple[Task, Task]:
    """Complete one subtask (the last open one completes its parent); (parent, subtask)."""
    return tasks.complete_subtask(
        session, task_id, subtask_id, actor, partner_id=partner_id, runs=RUN_WORK
    )


def add_comment(
    session: Session, task_id: str, text: str, actor: Actor, *, partner_id: str | None
) -> TaskComment:
    """Comment on a task; a partner's comment counts as activity on the run."""
    return tasks.add_comment(
        session,
        task_id,
        text,
        actor,
        partner_id=partner_id,
        runs=RUN_WORK if partner_id is not None else None,
    )
