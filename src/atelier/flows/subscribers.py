"""Event-triggered flows: every outbox event is offered to the active flows whose pattern
matches it. The delivery row commits with the executions (``platform.dispatcher``), and the
``(flow_id, "event:<event id>")`` unique key holds even if two workers race: each matching flow
runs once per event."""

from __future__ import annotations

from sqlalchemy.orm import Session

from atelier.flows import service
from atelier.platform.outbox import Event, subscriber
from atelier.platform.settings import current

SUBSCRIBER_NAME = "flows.event_trigger"


@subscriber("*", name=SUBSCRIBER_NAME)
def run_event_flows(session: Session, event: Event) -> None:
    """Run the matching active event flows for ``event``."""
    service.run_for_event(session, event, current())
