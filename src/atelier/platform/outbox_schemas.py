"""Response schemas of the outbox admin API (``/admin/outbox/events``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from atelier.platform.schemas import ListEnvelope, OutputSchema

EventState = Literal["pending", "failing", "dead", "delivered"]


class OutboxSubscriberOut(OutputSchema):
    """One subscriber's delivery of the event."""

    subscriber: str
    state: EventState
    attempts: int = Field(ge=0, description="failed attempts since the event was last re-armed")
    last_error: str | None = None
    last_failed_at: datetime | None = None
    dead_at: datetime | None = None
    delivered_at: datetime | None = None


class OutboxEventOut(OutputSchema):
    id: str
    name: str
    state: EventState
    attempts: int = Field(ge=0, description="delivery rounds that failed since last re-armed")
    manual_retries: int = Field(ge=0, description="times an admin revived it from dead")
    created_at: datetime
    available_at: datetime = Field(description="when it is (or was) next due")
    locked_by: str | None
    locked_until: datetime | None
    delivered_at: datetime | None
    dead_at: datetime | None
    last_error: str | None


class OutboxEventDetail(OutboxEventOut):
    payload: dict[str, Any]
    subscribers: list[OutboxSubscriberOut]


class OutboxEventList(ListEnvelope[OutboxEventOut]):
    items: list[OutboxEventOut] = Field(alias="events")


class OutboxEventEnvelope(OutputSchema):
    event: OutboxEventDetail


class OutboxRetryResult(OutputSchema):
    event: OutboxEventDetail
    rearmed: list[str] = Field(
        description="subscribers whose failing or dead delivery this call re-armed (empty when "
        "there was nothing to re-arm: a repeated call, a pending or delivered event)"
    )
