"""Gauges computed at scrape time from the database and this process's connection pool.

One grouped query over the undelivered outbox events (the ``ix_outbox_events_due`` index skips
the delivered ones) and one index look-up per scheduled job (cron-triggered flows included); a
scrape costs a few milliseconds.
These values describe the whole deployment, so every API process reports the same ones: in
PromQL take ``max``, not ``sum``, across instances.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from atelier.platform import clock
from atelier.platform.db import Database
from atelier.platform.models import OutboxEvent, ScheduledSlot
from atelier.platform.scheduler import JobRegistry
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

OUTBOX_STATES = ("pending", "failing", "dead")


class DatabaseCollector(Collector):
    """Outbox backlog, scheduler last success per job, connection pool in use."""

    def __init__(self, db: Database, jobs: JobRegistry, settings: Settings) -> None:
        self.db = db
        self.jobs = jobs
        self.settings = settings

    def describe(self) -> Iterable[Metric]:
        # Nothing up front: registering must not query the database.
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self._pool()
        up = GaugeMetricFamily(
            "atelier_database_up", "1 when this scrape's database queries succeeded, else 0."
        )
        try:
            with self.db.session(write=False) as session:
                families = [*self._outbox(session), self._scheduler(session)]
        except SQLAlchemyError as exc:
            log.warning("metrics: database query failed", extra={"error": type(exc).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _pool(self) -> Iterator[Metric]:
        pool = self.db.engine.pool
        in_use = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(in_use):
            gauge = GaugeMetricFamily(
                "atelier_db_pool_connections_in_use",
                "Database connections of this process checked out of its pool right now.",
            )
            gauge.add_metric([], float(in_use()))
            yield gauge
        if callable(size):
            gauge = GaugeMetricFamily(
                "atelier_db_pool_size",
                "Connections this process's pool keeps (overflow may add up to twice as many).",
            )
            gauge.add_metric([], float(size()))
            yield gauge

    def _outbox(self, session: Session) -> list[Metric]:
        state = case(
            (OutboxEvent.dead_at.is_not(None), "dead"),
            (OutboxEvent.attempts > 0, "failing"),
            else_="pending",
        )
        rows = session.execute(
            select(state, func.count(), func.min(OutboxEvent.created_at))
            .where(OutboxEvent.delivered_at.is_(None))
            .group_by(state)
        ).all()
        counts = dict.fromkeys(OUTBOX_STATES, 0)
        oldest: datetime | None = None
        for name, number, first in rows:
            counts[str(name)] = int(number)
            if name != "dead" and first is not None and (oldest is None or first < oldest):
                oldest = first
        events = GaugeMetricFamily(
            "atelier_outbox_events",
            "Undelivered outbox events by state: pending (never failed), failing (a retry is "
            "scheduled), dead (attempts exhausted; needs POST /admin/outbox/events/:id/retry).",
            labels=["state"],
        )
        for name in OUTBOX_STATES:
            events.add_metric([name], counts[name])
        age = GaugeMetricFamily(
            "atelier_outbox_oldest_pending_age_seconds",
            "Age of the oldest event still waiting for delivery (pending or failing); 0 if none.",
        )
        seconds = 0.0 if oldest is None else (clock.now() - oldest).total_seconds()
        age.add_metric([], max(seconds, 0.0))
        return [events, age]

    def _scheduler(self, session: Session) -> Metric:
        gauge = GaugeMetricFamily(
            "atelier_scheduler_last_success_timestamp_seconds",
            "When the latest successful run of each scheduled job finished (Unix time); absent "
            "for a job that has not succeeded within the slot retention (90 days).",
            labels=["job"],
        )
        # Registered jobs and the ones defined by data (cron-triggered flows).
        for job in sorted(self.jobs.current(self.db, self.settings), key=lambda j: j.name):
            finished = session.scalar(
                select(ScheduledSlot.finished_at)
                .where(
                    ScheduledSlot.job == job.name,
                    ScheduledSlot.finished_at.is_not(None),
                    ScheduledSlot.error.is_(None),
                )
                .order_by(ScheduledSlot.slot_at.desc())
                .limit(1)
            )
            if finished is not None:
                gauge.add_metric([job.name], finished.timestamp())
        return gauge
