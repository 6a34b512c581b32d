"""All media SQL: uploaded files by id and the filtered list."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from atelier.media.models import MediaFile


def files_by_ids(session: Session, ids: Iterable[str]) -> dict[str, MediaFile]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {f.id: f for f in session.scalars(select(MediaFile).where(MediaFile.id.in_(wanted)))}


def list_media(
    session: Session,
    *,
    production_run_id: str | None,
    design_id: str | None,
    partner_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[MediaFile], int]:
    conditions: list[ColumnElement[bool]] = []
    if production_run_id:
        conditions.append(MediaFile.production_run_id == production_run_id)
    if design_id:
        conditions.append(MediaFile.design_id == design_id)
    if partner_id:
        conditions.append(MediaFile.partner_id == partner_id)
    stmt = (
        select(MediaFile)
        .where(*conditions)
        .order_by(MediaFile.created_at.desc(), MediaFile.id.desc())
        .limit(limit)
        .offset(offset)
    )
    count = session.scalar(select(func.count()).select_from(MediaFile).where(*conditions))
    return list(session.scalars(stmt)), int(count or 0)


def size_of_url(session: Session, url: str) -> int | None:
    return session.scalar(
        select(MediaFile.size_bytes).where(MediaFile.url == url).order_by(MediaFile.id).limit(1)
    )
