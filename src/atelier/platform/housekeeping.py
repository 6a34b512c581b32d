"""Platform housekeeping job: delivered outbox events and old scheduler slots are pruned so the
tables the dispatcher and the scheduler scan stay small."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from atelier.platform.models import OutboxEvent, ScheduledSlot
from atelier.platform.scheduler import scheduled_job

log = logging.getLogger(__name__)

PRUNE_JOB = "platform.prune_outbox"
# Delivered events stay around for debugging for two weeks; undelivered ones are never pruned.
EVENT_RETENTION = timedelta(days=14)
SLOT_RETENTION = timedelta(days=90)


@scheduled_job(PRUNE_JOB, "40 3 * * *")
def prune(session: Session, slot: datetime) -> None:
    """Delete delivered events (their delivery rows cascade) and slots past retention."""
    events = session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.delivered_at.is_not(None),
            OutboxEvent.delivered_at < slot - EVENT_RETENTION,
        )
    )
    slots = session.execute(
        delete(ScheduledSlot).where(ScheduledSlot.slot_at < slot - SLOT_RETENTION)
    )
    log.info(
        "outbox pruned",
        extra={"events_deleted": events.rowcount, "slots_deleted": slots.rowcount},  # type: ignore[attr-defined]
    )
