"""Background work of the notifications domain: the message delivery loop.

Registered as a platform background loop (not an outbox subscriber or a scheduled job) because
it calls providers, and a provider call must never run inside a database transaction.
"""

from __future__ import annotations

from atelier.notifications.delivery import MessageDelivery
from atelier.platform.db import Database
from atelier.platform.loops import background_loop
from atelier.platform.settings import Settings

DELIVERY_LOOP = "message-delivery"


@background_loop(DELIVERY_LOOP)
def message_delivery(db: Database, settings: Settings) -> MessageDelivery:
    """Sends queued messages; woken after commits that queued events, else polling."""
    from atelier.platform.worker import worker_identity

    return MessageDelivery(db, settings, worker_id=worker_identity("delivery"))
