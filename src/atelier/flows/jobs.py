"""Scheduled work of the flows domain: cron-triggered flows and execution retention.

Active schedule flows become scheduler jobs named ``flow:<id>`` (listed on every tick), so a
flow's slot gets the scheduler's guarantee: one claim in ``scheduled_slots`` per (job, slot),
whatever the number of workers; a missed slot runs once, late. The cron is read in the flow's
own time zone, never the host's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from atelier.flows import repository, service
from atelier.flows.models import TriggerType
from atelier.platform import clock
from atelier.platform.db import Database
from atelier.platform.scheduler import Job, registry, scheduled_job
from atelier.platform.settings import Settings, current

log = logging.getLogger(__name__)

JOB_PREFIX = "flow:"
PRUNE_JOB = "flows.prune_executions"


def _run(flow_id: str, settings: Settings, session: Session, slot: datetime) -> None:
    service.run_scheduled(session, flow_id, slot, settings)


def scheduled_flow_jobs(db: Database, settings: Settings) -> Iterator[Job]:
    """One job per active schedule flow (read fresh each tick: edits apply at the next tick)."""
    with db.session(write=False) as session:
        flows = [
            (f.id, dict(f.trigger_config), f.activated_at)
            for f in repository.active_flows(session, TriggerType.SCHEDULE)
        ]
    for flow_id, config, activated_at in flows:
        cron = config.get("cron")
        if not cron:
            continue
        try:
            zone = ZoneInfo(str(config.get("timezone") or settings.timezone))
        except Exception:  # a zone removed from tzdata since the flow was saved
            log.warning("flow time zone unknown; using the business zone", extra={"flow": flow_id})
            zone = settings.zone
        yield Job(
            name=f"{JOB_PREFIX}{flow_id}",
            cron=str(cron),
            handler=partial(_run, flow_id, settings),
            zone=zone,
            not_before=activated_at,
        )


def _scheduled_flow_jobs(db: Database, settings: Settings) -> list[Job]:
    return list(scheduled_flow_jobs(db, settings))


registry.add_source("flows", _scheduled_flow_jobs)


@scheduled_job(PRUNE_JOB, "20 3 * * *")
def prune_executions(session: Session, slot: datetime) -> None:
    """Daily: delete executions older than ``ATELIER_FLOW_EXECUTION_RETENTION_DAYS`` (90)."""
    days = current().flow_execution_retention_days
    deleted = service.prune_executions(session, max(slot, clock.now()), days)
    log.info("flow executions pruned", extra={"deleted": deleted, "retention_days": days})
