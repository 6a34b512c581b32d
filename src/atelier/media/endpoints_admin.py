"""Admin media API: list uploads, upload files straight onto a design."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from atelier.catalog import service as catalog
from atelier.catalog.models import Design
from atelier.media import service
from atelier.media.endpoints_partner import _UPLOAD_DOC, receive_and_store
from atelier.media.models import MediaFile
from atelier.media.schemas import DesignMediaRead, MediaFileList, MediaFileRead
from atelier.platform.db import Database
from atelier.platform.deps import (
    AdminPrincipal,
    AppSettings,
    DbSession,
    get_database,
    release_admission,
)
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import OutputSchema

router = APIRouter(tags=["admin media"])

Db = Annotated[Database, Depends(get_database)]
FilterId = Annotated[str | None, Query(min_length=1, max_length=64)]


class DesignUploadResult(OutputSchema):
    media_files: list[MediaFileRead]
    design: DesignMediaRead


@router.get("/admin/media", response_model=MediaFileList)
def list_media(
    _admin: AdminPrincipal,
    session: DbSession,
    production_run_id: FilterId = None,
    design_id: FilterId = None,
    partner_id: FilterId = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> MediaFileList:
    """Uploaded files, newest first; filter by run, design or partner."""
    rows, count = service.list_media(
        session,
        production_run_id=production_run_id,
        design_id=design_id,
        partner_id=partner_id,
        limit=limit,
        offset=offset,
    )
    return MediaFileList.of(rows, count, limit=limit, offset=offset)


def _design_exists(session: Session, design_id: str) -> None:
    catalog.get_design(session, design_id)
    # Release SQLite's write lock (and the writer admission) before the (possibly slow)
    # upload is read.
    session.commit()
    release_admission(session)


@router.post(
    "/admin/designs/{design_id}/media",
    status_code=201,
    response_model=DesignUploadResult,
    openapi_extra=_UPLOAD_DOC,
)
async def upload_design_media(
    design_id: IdPath,
    request: Request,
    admin: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
    db: Db,
) -> DesignUploadResult:
    """Upload files (multipart field ``files``) and attach them onto the design."""
    await run_in_threadpool(_design_exists, session, design_id)

    def _record(s: Session, stored: list[service.StoredFile]) -> tuple[list[MediaFile], Design]:
        return service.record_design_uploads(s, design_id, stored, admin.actor)

    rows, design = await receive_and_store(request, settings, db, _record)
    return DesignUploadResult(
        media_files=[MediaFileRead.model_validate(r) for r in rows],
        design=DesignMediaRead.model_validate(design),
    )
