"""Delivery status of messages by their context (e.g. a reminder's ``<run>:reminder:<day>``):
what other domains may ask about messages without reading the table themselves."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.notifications.models import Message

_BATCH = 500


def statuses_by_context(
    session: Session, context_type: str, context_ids: Iterable[str]
) -> dict[str, list[str]]:
    """``{context_id: [status, ...]}`` of every message sent for those contexts (missing ids
    have no message at all)."""
    ids = sorted(set(context_ids))
    out: dict[str, list[str]] = {}
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        rows = session.execute(
            select(Message.context_id, Message.status).where(
                Message.context_type == context_type, Message.context_id.in_(batch)
            )
        )
        for context_id, status in rows:
            out.setdefault(str(context_id), []).append(str(status))
    return out
