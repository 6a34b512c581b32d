"""The admin feed: things the brand's admins should see (run sent, gate overdue, escalations).

Entries with a ``dedup_key`` exist at most once; the unique index makes that a database
guarantee, so two workers adding the same fact at the same moment still leave one entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.notifications.models import AdminFeedEntry
from atelier.platform import clock
from atelier.platform.errors import not_found

log = logging.getLogger(__name__)

_TITLE_MAX = 300


def add_feed_entry(
    session: Session,
    kind: str,
    title: str,
    body: str | None = None,
    run_id: str | None = None,
    partner_id: str | None = None,
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> AdminFeedEntry | None:
    """Add an entry in the caller's transaction; ``None`` when ``dedup_key`` was already used."""
    if dedup_key is not None:
        existing = session.scalar(
            select(AdminFeedEntry.id).where(AdminFeedEntry.dedup_key == dedup_key)
        )
        if existing is not None:
            return None
    entry = AdminFeedEntry(
        kind=kind,
        title=title[:_TITLE_MAX],
        body=body,
        production_run_id=run_id,
        partner_id=partner_id,
        data=data or {},
        dedup_key=dedup_key,
        created_at=clock.now(),
    )
    try:
        # A savepoint, so losing the race on the unique key leaves the caller's work intact.
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        log.info("feed entry already present", extra={"dedup_key": dedup_key, "run_id": run_id})
        return None
    return entry


@dataclass(frozen=True, slots=True)
class FeedPage:
    entries: list[AdminFeedEntry]
    count: int
    unread_count: int


def list_feed(
    session: Session,
    *,
    unread: bool | None = None,
    kind: str | None = None,
    run_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> FeedPage:
    """Feed entries newest first, optionally only unread ones, of one kind, or of one run."""
    conditions: list[ColumnElement[bool]] = []
    if unread is True:
        conditions.append(AdminFeedEntry.read_at.is_(None))
    elif unread is False:
        conditions.append(AdminFeedEntry.read_at.is_not(None))
    if kind:
        conditions.append(AdminFeedEntry.kind == kind)
    if run_id:
        conditions.append(AdminFeedEntry.production_run_id == run_id)
    stmt = (
        select(AdminFeedEntry)
        .where(*conditions)
        .order_by(AdminFeedEntry.created_at.desc(), AdminFeedEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    count = session.scalar(select(func.count()).select_from(AdminFeedEntry).where(*conditions))
    unread_count = session.scalar(
        select(func.count()).select_from(AdminFeedEntry).where(AdminFeedEntry.read_at.is_(None))
    )
    return FeedPage(list(session.scalars(stmt)), int(count or 0), int(unread_count or 0))


def mark_read(session: Session, entry_id: str) -> AdminFeedEntry:
    """Mark one entry read (idempotent: the first read time is kept); 404 when unknown."""
    session.execute(
        update(AdminFeedEntry)
        .where(AdminFeedEntry.id == entry_id, AdminFeedEntry.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    entry = session.scalars(
        select(AdminFeedEntry)
        .where(AdminFeedEntry.id == entry_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if entry is None:
        raise not_found("feed_entry", entry_id)
    return entry


def mark_all_read(session: Session) -> int:
    """Mark every unread entry read; returns how many changed."""
    result = session.execute(
        update(AdminFeedEntry)
        .where(AdminFeedEntry.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def unread_count(session: Session) -> int:
    """How many feed entries nobody has read yet (the admin app's badge)."""
    count = session.scalar(
        select(func.count()).select_from(AdminFeedEntry).where(AdminFeedEntry.read_at.is_(None))
    )
    return int(count or 0)
