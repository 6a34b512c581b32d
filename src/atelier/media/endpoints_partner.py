"""Partner media API: upload files to a run, attach media onto the run's design."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from atelier.media import service
from atelier.media.errors import MediaCode
from atelier.media.models import MediaFile
from atelier.media.schemas import (
    AttachRequest,
    AttachResult,
    DesignMediaRead,
    MediaFileList,
    MediaFileRead,
    UploadResult,
)
from atelier.media.storage import LocalStorage, get_storage
from atelier.media.uploads import UploadReceiver, check_types
from atelier.platform.db import Database
from atelier.platform.deps import (
    AppSettings,
    DbSession,
    PartnerPrincipal,
    get_database,
    release_admission,
)
from atelier.platform.errors import Invalid
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.settings import Settings

router = APIRouter(prefix="/partners/production-runs", tags=["partner media"])

Db = Annotated[Database, Depends(get_database)]
T = TypeVar("T")

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                }
            }
        },
    }
}


def _spool_dir(settings: Settings) -> Path:
    backend = get_storage(settings)
    if isinstance(backend, LocalStorage):
        # Same file system as the store, so nothing crosses devices on the way in.
        spool = backend.root / ".incoming"
        spool.mkdir(parents=True, exist_ok=True)
        return spool
    return Path(tempfile.gettempdir())


async def receive_and_store(
    request: Request,
    settings: Settings,
    db: Database,
    record: Callable[[Session, list[service.StoredFile]], T],
) -> T:
    """Stream the multipart body to spool files, validate, store, then ``record`` the rows in
    a fresh write transaction (removing the stored objects again if it fails)."""
    receiver = UploadReceiver(
        request.headers.get("content-type", ""),
        max_bytes=settings.media_max_bytes,
        max_files=settings.media_max_files,
        spool_dir=await run_in_threadpool(_spool_dir, settings),
    )
    try:
        files = await receiver.receive(request.stream())
        if not files:
            raise Invalid("attach at least one file in the field 'files'", code=MediaCode.NO_FILES)
        check_types(files, settings.media_allowed_types)
        storage = get_storage(settings)
        stored = await run_in_threadpool(service.store_files, settings, storage, files)
    finally:
        await run_in_threadpool(receiver.cleanup)

    def _record() -> T:
        with db.session(write=True) as session:
            return record(session, stored)

    ticket = None
    try:
        # Admitted like any writer (see platform.admission): the request gave its own
        # admission back before the upload streamed in.
        ticket = await db.admission.admit(write=True)
        return await run_in_threadpool(_record)
    except BaseException:
        await run_in_threadpool(service.discard, storage, stored)
        raise
    finally:
        if ticket is not None:
            ticket.release()


def _release(session: Session) -> None:
    # End the request transaction now: on SQLite a write transaction holds the database write
    # lock, which must not stay taken while a phone trickles a 10 MB photo in; nor may the
    # request's writer admission.
    session.commit()
    release_admission(session)


@router.post(
    "/{run_id}/media",
    status_code=201,
    response_model=UploadResult,
    openapi_extra=_UPLOAD_DOC,
)
async def upload_media(
    run_id: IdPath,
    request: Request,
    principal: PartnerPrincipal,
    session: DbSession,
    settings: AppSettings,
    db: Db,
) -> UploadResult:
    """Upload one or several files (multipart field ``files``) to the partner's run.

    413 when a file passes ``ATELIER_MEDIA_MAX_BYTES``; 415 when its type (declared or sniffed
    from its first bytes) is not allowed; 422 when no file was sent.
    """
    partner_id = principal.partner_id or ""
    await run_in_threadpool(service.check_can_upload, session, run_id, partner_id)
    await run_in_threadpool(_release, session)

    def _record(s: Session, stored: list[service.StoredFile]) -> list[MediaFile]:
        return service.record_run_uploads(s, run_id, partner_id, stored, principal.actor)

    rows = await receive_and_store(request, settings, db, _record)
    return UploadResult(media_files=[MediaFileRead.model_validate(r) for r in rows])


@router.post("/{run_id}/media/attach", response_model=AttachResult)
def attach_media(
    run_id: IdPath, body: AttachRequest, principal: PartnerPrincipal, session: DbSession
) -> AttachResult:
    """Attach media (by url, or id of an upload) onto the run's design, skipping duplicates."""
    outcome = service.attach_to_run_design(
        session, run_id, principal.partner_id or "", body.media_files, principal.actor
    )
    return AttachResult(
        design=DesignMediaRead.model_validate(outcome.design),
        attached=outcome.attached,
        already_attached=outcome.already_attached,
        thumbnail_url=outcome.thumbnail_url,
    )


@router.get("/{run_id}/media", response_model=MediaFileList)
def list_run_media(
    run_id: IdPath,
    principal: PartnerPrincipal,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
) -> MediaFileList:
    """Files uploaded to the partner's run, newest first."""
    service.check_run_visible(session, run_id, principal.partner_id or "")
    rows, count = service.list_media(session, production_run_id=run_id, limit=limit, offset=offset)
    return MediaFileList.of(rows, count, limit=limit, offset=offset)
