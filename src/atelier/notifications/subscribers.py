"""Outbox reactions of the notifications domain.

``notifications.partner_messages``: every ``production_run.*`` event goes through the catalogue
mapping (``catalog.EVENT_TEMPLATES``); a mapped event queues one partner message with
``service.send_for_event`` in the subscriber's own transaction (the provider call happens later,
in the delivery loop). The flows engine may replace this subscriber with a seeded flow that calls
the same ``send_for_event``/``send_partner_message``; unregister it by this name then.

``notifications.feed_run_sent``: a run sent to a partner adds an admin feed entry.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from atelier.notifications import feed, service
from atelier.platform.outbox import Event, subscriber

PARTNER_MESSAGES = "notifications.partner_messages"
FEED_RUN_SENT = "notifications.feed_run_sent"


@subscriber("production_run.*", name=PARTNER_MESSAGES)
def partner_messages(session: Session, event: Event) -> None:
    """Notify the partner of a run event that has a template (idempotent through dedup)."""
    service.send_for_event(session, event.name, event.payload, event_id=event.id)


@subscriber("production_run.sent_to_partner", name=FEED_RUN_SENT)
def feed_run_sent(session: Session, event: Event) -> None:
    """Tell the admins a run went to its partner (one entry per event)."""
    run_id = event.payload.get("production_run_id")
    partner_id = event.payload.get("partner_id")
    feed.add_feed_entry(
        session,
        "production_run.sent_to_partner",
        f"Run {run_id} was sent to its partner",
        body="The partner is notified and can accept or decline it.",
        run_id=str(run_id) if run_id else None,
        partner_id=str(partner_id) if partner_id else None,
        data={"template_names": event.payload.get("template_names") or []},
        dedup_key=f"{run_id}:sent_to_partner:{event.id}",
    )
