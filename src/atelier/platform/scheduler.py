"""Cron jobs evaluated in the business time zone; each (job, slot) runs once across all workers.

A worker claims a slot by inserting ``(job, slot_at)`` into ``scheduled_slots`` (unique key) in
the same transaction as the job's work: on PostgreSQL a concurrent claimer waits on the unique
index and then learns (``ON CONFLICT DO NOTHING RETURNING``) that it lost; on SQLite writers are
serialised. A job that raises is rolled back and its slot recorded with the error, so it is not
retried every tick. Only the most recent due slot is considered: after downtime a job runs late
once, it does not replay every missed slot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from atelier.platform import clock, metrics
from atelier.platform.db import Database
from atelier.platform.models import ScheduledSlot
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

JobHandler = Callable[[Session, datetime], None]
_ERROR_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    cron: str
    handler: JobHandler
    # The zone the cron is read in (default: the business zone, ``ATELIER_TIMEZONE``).
    zone: ZoneInfo | None = None
    # Slots before this moment never run (e.g. a flow activated after today's slot).
    not_before: datetime | None = None


# Jobs defined by data (cron-triggered flows): listed afresh on every tick.
JobSource = Callable[[Database, Settings], Iterable[Job]]


def validate_cron(expression: str) -> str:
    """A 5-field cron expression, or ValueError."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValueError(f"not a 5-field cron expression: {expression!r}")
    return expression


def latest_slot(expression: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The most recent time ≤ ``now`` matching ``expression`` in ``zone``, as UTC."""
    # Cron has minute resolution: start just after the current minute and step back once.
    start = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    previous: datetime = croniter(expression, start.astimezone(zone)).get_prev(datetime)
    return previous.astimezone(UTC)


def next_slot(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first time strictly after ``after`` matching ``expression`` in ``zone``, as UTC."""
    following: datetime = croniter(expression, after.astimezone(zone)).get_next(datetime)
    return following.astimezone(UTC)


class JobRegistry:
    """Jobs by name. Domains register with ``@scheduled_job(name, cron)`` in their jobs.py."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._sources: dict[str, JobSource] = {}

    def register(self, name: str, cron: str) -> Callable[[JobHandler], JobHandler]:
        validate_cron(cron)

        def decorator(handler: JobHandler) -> JobHandler:
            self._jobs[name] = Job(name, cron, handler)
            return handler

        return decorator

    def unregister(self, name: str) -> None:
        self._jobs.pop(name, None)

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    def add_source(self, name: str, source: JobSource) -> None:
        """Register a provider of jobs that live in the database (one per name)."""
        self._sources[name] = source

    def remove_source(self, name: str) -> None:
        self._sources.pop(name, None)

    def current(self, db: Database, settings: Settings) -> list[Job]:
        """The registered jobs plus every source's jobs right now."""
        jobs = self.all()
        for name, source in list(self._sources.items()):
            try:
                jobs.extend(source(db, settings))
            except Exception:
                log.exception("job source failed", extra={"source": name})
        return jobs


registry = JobRegistry()
scheduled_job = registry.register


def _claim_statement(db: Database, job: str, slot: datetime, worker_id: str) -> Insert:
    values = {"job": job, "slot_at": slot, "claimed_by": worker_id, "claimed_at": clock.now()}
    if db.is_sqlite:
        return (
            sqlite.insert(ScheduledSlot)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["job", "slot_at"])
            .returning(ScheduledSlot.id)
        )
    return (
        postgresql.insert(ScheduledSlot)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["job", "slot_at"])
        .returning(ScheduledSlot.id)
    )


def run_slot(db: Database, job: Job, slot: datetime, worker_id: str) -> bool:
    """Claim and run one slot; True when this worker ran it (successfully or not).

    Public so other schedulers (e.g. cron-triggered flows, ``Job("flow:<id>", cron, handler)``)
    get the same once-per-slot guarantee from ``scheduled_slots``.
    """
    with db.session(write=False) as reader:
        # Cheap read first so an already-run slot does not take the write lock every tick.
        if reader.scalar(
            select(ScheduledSlot.id).where(
                ScheduledSlot.job == job.name, ScheduledSlot.slot_at == slot
            )
        ):
            return False
    session = db.new_session(write=True)
    try:
        slot_id = session.scalar(_claim_statement(db, job.name, slot, worker_id))
        if slot_id is None:
            session.rollback()
            return False
        job.handler(session, slot)
        session.execute(
            update(ScheduledSlot).where(ScheduledSlot.id == slot_id).values(finished_at=clock.now())
        )
        session.commit()
        metrics.SCHEDULER_JOB_RUNS.labels(job.name, "succeeded").inc()
        log.info("job finished", extra={"job": job.name, "slot": slot.isoformat()})
        return True
    except Exception as exc:
        session.rollback()
        metrics.SCHEDULER_JOB_RUNS.labels(job.name, "failed").inc()
        log.exception("job failed", extra={"job": job.name, "slot": slot.isoformat()})
        error = f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]
        with db.session(write=True) as failed:
            # Record the failure on the slot: insert it (the claim was rolled back), or, for a
            # job that commits in batches (its claim already committed), mark our own claim.
            failed.scalar(_claim_statement(db, job.name, slot, worker_id))
            failed.execute(
                update(ScheduledSlot)
                .where(
                    ScheduledSlot.job == job.name,
                    ScheduledSlot.slot_at == slot,
                    ScheduledSlot.claimed_by == worker_id,
                    ScheduledSlot.finished_at.is_(None),
                )
                .values(finished_at=clock.now(), error=error)
            )
        return True
    finally:
        session.close()


def run_due_jobs(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    *,
    jobs: JobRegistry = registry,
    worker_id: str = "scheduler",
) -> list[str]:
    """Run every job whose latest slot has not run yet; returns the jobs this worker ran."""
    now = now or clock.now()
    ran: list[str] = []
    for job in jobs.current(db, settings):
        slot = latest_slot(job.cron, job.zone or settings.zone, now)
        if job.not_before is not None and slot < job.not_before:
            continue
        if run_slot(db, job, slot, worker_id):
            ran.append(job.name)
    return ran


class Scheduler:
    """Ticks ``run_due_jobs`` in a loop; any number may run against one database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        worker_id: str,
        jobs: JobRegistry = registry,
        interval: float = 30.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id
        self.jobs = jobs
        self.interval = interval

    def tick(self, now: datetime | None = None) -> list[str]:
        return run_due_jobs(self.db, self.settings, now, jobs=self.jobs, worker_id=self.worker_id)

    def run_forever(self, stop: threading.Event) -> None:
        log.info("scheduler started", extra={"worker_id": self.worker_id})
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed", extra={"worker_id": self.worker_id})
            stop.wait(self.interval)
        log.info("scheduler stopped", extra={"worker_id": self.worker_id})
