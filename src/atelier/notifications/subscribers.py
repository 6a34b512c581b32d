"""Outbox reactions of the notifications domain.

Partner messages for ``production_run.*`` events are sent by the seeded flow "Partner WhatsApp
— Production Run (all events)" (``flows.seeds``): its ``resolve_template`` step holds the event →
template table (seeded from ``catalog.EVENT_TEMPLATES``) and its ``send_whatsapp`` step calls
``service.send_for_event`` — one code path, editable and switchable without a deploy.

``notifications.feed_run_sent``: a run sent to a partner adds an admin feed entry.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from atelier.notifications import feed
from atelier.platform.outbox import Event, subscriber

FEED_RUN_SENT = "notifications.feed_run_sent"


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
