"""Admin feed entries as reactions to domain events (each in its own transaction, once).

The production domain only says what happened (``production_run.gate_overdue``,
``production_run.dependency_cancelled``); what the brand's admins see about it is decided
here. Each entry carries a ``dedup_key``, so a redelivered event adds nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from atelier.notifications.feed import add_feed_entry
from atelier.platform.dispatcher import FEED_KIND_DEAD, DeadEvent, on_event_death
from atelier.platform.outbox import Event, subscriber

GATE_OVERDUE = "production_run.gate_overdue"


@subscriber(GATE_OVERDUE, name="notifications.feed_gate_overdue")
def feed_gate_overdue(session: Session, event: Event) -> None:
    """One feed entry per overdue gate of a run."""
    payload = event.payload
    run_id = str(payload["production_run_id"])
    gate = str(payload["gate"])
    deadline = str(payload["deadline"])
    add_feed_entry(
        session,
        kind=GATE_OVERDUE,
        title=f"Run {run_id} is overdue at the {gate} gate",
        body=(
            f"The {gate} gate was due by {deadline}. "
            "The run is still open; follow up with the partner or reassign it."
        ),
        run_id=run_id,
        partner_id=payload.get("partner_id"),
        data={"gate": gate, "deadline": deadline},
        dedup_key=f"{run_id}:overdue:{gate}:{deadline}",
    )


DEPENDENCY_CANCELLED = "production_run.dependency_cancelled"


@subscriber(DEPENDENCY_CANCELLED, name="notifications.feed_dependency_cancelled")
def feed_dependency_cancelled(session: Session, event: Event) -> None:
    """A run that waits on a cancelled run: the admin chooses what happens to it."""
    payload = event.payload
    run_id = str(payload["production_run_id"])
    cancelled = str(payload["cancelled_run_id"])
    add_feed_entry(
        session,
        kind=DEPENDENCY_CANCELLED,
        title=f"Run {run_id} waits on cancelled run {cancelled}",
        body="Cancel it, re-link it to another run, or dispatch it by hand once re-linked.",
        run_id=run_id,
        partner_id=payload.get("partner_id"),
        data={"cancelled_run_id": cancelled},
        dedup_key=f"{run_id}:dependency_cancelled:{cancelled}",
    )


def feed_event_death(session: Session, dead: DeadEvent) -> None:
    """One admin feed entry per death of an event (a revived event that dies again gets one
    more), written in the transaction that marks it dead."""
    add_feed_entry(
        session,
        kind=FEED_KIND_DEAD,
        title=f"Event {dead.name} could not be delivered",
        body=dead.last_error,
        data={
            "event_id": dead.id,
            "event_name": dead.name,
            "subscribers": dead.subscribers,
            "attempts": dead.attempts,
            "dead_at": dead.dead_at.isoformat(),
        },
        dedup_key=f"outbox:{dead.id}:dead:{dead.manual_retries}",
    )


on_event_death("notifications.feed_event_death", feed_event_death)
