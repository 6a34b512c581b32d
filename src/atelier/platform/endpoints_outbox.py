"""Admin API over the outbox: failing and dead events, and a retry action."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from atelier.platform import outbox_admin
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import Limit, Offset
from atelier.platform.outbox_schemas import (
    EventState,
    OutboxEventDetail,
    OutboxEventEnvelope,
    OutboxEventList,
    OutboxEventOut,
    OutboxRetryResult,
    OutboxSubscriberOut,
)
from atelier.platform.routers import APIRouter

router = APIRouter(prefix="/admin/outbox", tags=["admin outbox"])

EventId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _detail_out(detail: outbox_admin.EventDetail) -> OutboxEventDetail:
    row = detail.event
    return OutboxEventDetail(
        **OutboxEventOut.model_validate(row).model_dump(),
        payload=dict(row.payload or {}),
        subscribers=[OutboxSubscriberOut.model_validate(s) for s in detail.subscribers],
    )


@router.get("/events", response_model=OutboxEventList)
def list_events(
    _admin: AdminPrincipal,
    session: DbSession,
    state: Annotated[
        EventState | None,
        Query(description="pending, failing (retry scheduled), dead (parked) or delivered"),
    ] = None,
    name: Annotated[str | None, Query(max_length=120, pattern=r"^[A-Za-z0-9_.-]+$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> OutboxEventList:
    """Outbox events newest first; ``state=dead`` lists the ones that need an admin."""
    page = outbox_admin.list_events(session, state=state, name=name, limit=limit, offset=offset)
    return OutboxEventList.of(page.events, page.count, limit=limit, offset=offset)


@router.get("/events/{event_id}", response_model=OutboxEventEnvelope)
def get_event(event_id: EventId, _admin: AdminPrincipal, session: DbSession) -> OutboxEventEnvelope:
    """One event with its payload and each subscriber's delivery state and last error."""
    return OutboxEventEnvelope(event=_detail_out(outbox_admin.event_detail(session, event_id)))


@router.post("/events/{event_id}/retry", response_model=OutboxRetryResult)
def retry_event(event_id: EventId, _admin: AdminPrincipal, session: DbSession) -> OutboxRetryResult:
    """Re-arm the event's failing or dead deliveries now (idempotent).

    Subscribers that already succeeded are never run again.
    """
    result = outbox_admin.retry_event(session, event_id)
    return OutboxRetryResult(event=_detail_out(result.detail), rearmed=result.rearmed)
