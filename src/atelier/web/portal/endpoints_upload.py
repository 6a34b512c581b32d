"""Photo upload from the run page (the phone's camera opens from the file field).

The body streams to disk through the same receiver the partner API uses, so this router does
not parse the form for its CSRF check: the page puts the token in the form's action URL.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from atelier.media import service as media
from atelier.media.endpoints_partner import receive_and_store
from atelier.media.models import MediaFile
from atelier.platform.db import Database
from atelier.platform.deps import AppSettings, DbSession, get_database, release_admission
from atelier.platform.errors import DomainError
from atelier.platform.http import KIND_STATUS
from atelier.web.portal.common import portal_router, translator
from atelier.web.portal.endpoints_runs import _run_page, run_url, web_actor
from atelier.web.shared.csrf import CsrfRejected, csrf_token
from atelier.web.shared.render import FormError, redirect
from atelier.web.shared.session import WebPartner

router = portal_router(csrf=False)


@router.post("/runs/{run_id}/photos")
async def upload_photos(
    run_id: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    db: Annotated[Database, Depends(get_database)],
    partner: WebPartner,
    token: Annotated[str, Query(alias="csrf_token", max_length=128)] = "",
) -> Response:
    """Store the photos on the run, then back to the run page."""
    if not token or not hmac.compare_digest(token, csrf_token(request)):
        raise CsrfRejected()
    partner_id = partner.partner_id or ""
    actor = web_actor(partner)

    def _check() -> None:
        media.check_can_upload(session, run_id, partner_id)
        # End the request transaction: no database lock (nor writer admission) while a phone
        # sends a photo.
        session.commit()
        release_admission(session)

    def _record(s: Session, stored: list[media.StoredFile]) -> list[MediaFile]:
        return media.record_run_uploads(s, run_id, partner_id, stored, actor)

    try:
        await run_in_threadpool(_check)
        rows = await receive_and_store(request, settings, db, _record)
    except DomainError as exc:
        error = FormError(exc.detail, exc.code, KIND_STATUS[exc.kind])
        return await run_in_threadpool(
            _run_page, request, session, partner, run_id, error=error, form="photos"
        )
    words = await run_in_threadpool(translator, request, session, partner)
    notice = words.ngettext("%(num)d photo added", "%(num)d photos added", len(rows))
    return redirect(request, run_url(run_id, "photos"), notice=notice)
