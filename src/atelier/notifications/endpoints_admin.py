"""Admin feed API: list entries, mark one (or all) read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import Field

from atelier.notifications import feed
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import ListEnvelope, OutputSchema

router = APIRouter(prefix="/admin/feed", tags=["admin feed"])

FeedId = Annotated[str, Path(min_length=1, max_length=64)]


class FeedEntryOut(OutputSchema):
    id: str
    kind: str
    title: str
    body: str | None
    production_run_id: str | None
    partner_id: str | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None
    read: bool = False


class FeedEntryEnvelope(OutputSchema):
    feed_entry: FeedEntryOut


class FeedList(ListEnvelope[FeedEntryOut]):
    items: list[FeedEntryOut] = Field(alias="feed_entries")
    unread_count: int


class ReadAllResult(OutputSchema):
    marked_read: int = Field(ge=0)


def _out(entry: Any) -> FeedEntryOut:
    out = FeedEntryOut.model_validate(entry)
    out.read = entry.read_at is not None
    return out


@router.get("", response_model=FeedList)
def list_feed(
    _admin: AdminPrincipal,
    session: DbSession,
    unread: Annotated[bool | None, Query(description="only unread (true) or read (false)")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    production_run_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FeedList:
    """Feed entries, newest first."""
    page = feed.list_feed(
        session, unread=unread, kind=kind, run_id=production_run_id, limit=limit, offset=offset
    )
    return FeedList(
        items=[_out(e) for e in page.entries],
        count=page.count,
        limit=limit,
        offset=offset,
        unread_count=page.unread_count,
    )


@router.post("/read-all", response_model=ReadAllResult)
def read_all(_admin: AdminPrincipal, session: DbSession) -> ReadAllResult:
    """Mark every unread entry read."""
    return ReadAllResult(marked_read=feed.mark_all_read(session))


@router.post("/{entry_id}/read", response_model=FeedEntryEnvelope)
def read_entry(entry_id: FeedId, _admin: AdminPrincipal, session: DbSession) -> FeedEntryEnvelope:
    """Mark one entry read; reading it again keeps the first read time."""
    return FeedEntryEnvelope(feed_entry=_out(feed.mark_read(session, entry_id)))
