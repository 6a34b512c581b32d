"""Media rules: who may upload to a run, storing uploads, attaching media onto a run's design.

Uploaded bytes are stored *before* the database transaction that records them opens, so a slow
S3 upload never holds a run lock (or SQLite's write lock); if that transaction then fails the
stored objects are removed again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.catalog.models import Design
from atelier.media import repository
from atelier.media.models import MediaFile
from atelier.media.schemas import AttachItem
from atelier.media.storage import Storage, public_url
from atelier.media.uploads import EXTENSIONS, IncomingFile
from atelier.platform import clock
from atelier.platform.actors import Actor
from atelier.platform.errors import not_found
from atelier.platform.ids import new_id
from atelier.platform.settings import Settings
from atelier.production import run_media
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredFile:
    id: str
    key: str
    url: str
    filename: str
    mime_type: str
    size_bytes: int


def check_can_upload(session: Session, run_id: str, partner_id: str) -> ProductionRun:
    """404 unless the run is the partner's; 409 when the run no longer takes media."""
    return run_media.run_taking_media(session, run_id, partner_id, lock=False)


def store_files(
    settings: Settings, storage: Storage, files: Sequence[IncomingFile]
) -> list[StoredFile]:
    """Put validated spool files into the storage backend under fresh generated keys."""
    stored: list[StoredFile] = []
    month = clock.now().strftime("%Y/%m")
    try:
        for incoming in files:
            media_id = new_id("media")
            key = f"{month}/{media_id}{EXTENSIONS.get(incoming.mime_type, '')}"
            storage.put(key, incoming.path, content_type=incoming.mime_type)
            stored.append(
                StoredFile(
                    id=media_id,
                    key=key,
                    url=public_url(settings, key),
                    filename=incoming.filename,
                    mime_type=incoming.mime_type,
                    size_bytes=incoming.size,
                )
            )
    except BaseException:
        discard(storage, stored)
        raise
    return stored


def discard(storage: Storage, stored: Iterable[StoredFile]) -> None:
    """Best-effort removal of objects whose database rows were never committed."""
    for item in stored:
        with contextlib.suppress(Exception):
            storage.delete(item.key)


def _rows(
    stored: Sequence[StoredFile],
    *,
    owner_type: str,
    owner_id: str | None,
    partner_id: str | None,
    run_id: str | None,
    design_id: str | None,
) -> list[MediaFile]:
    now = clock.now()
    return [
        MediaFile(
            id=item.id,
            url=item.url,
            storage_key=item.key,
            filename=item.filename,
            mime_type=item.mime_type,
            size_bytes=item.size_bytes,
            owner_type=owner_type,
            owner_id=owner_id,
            partner_id=partner_id,
            production_run_id=run_id,
            design_id=design_id,
            created_at=now,
        )
        for item in stored
    ]


def record_run_uploads(
    session: Session, run_id: str, partner_id: str, stored: Sequence[StoredFile], actor: Actor
) -> list[MediaFile]:
    """MediaFile rows for files a partner uploaded to its run; bumps the run's activity."""
    run = run_media.run_taking_media(session, run_id, partner_id, lock=True)
    rows = _rows(
        stored,
        owner_type="partner",
        owner_id=partner_id,
        partner_id=partner_id,
        run_id=run.id,
        design_id=run.design_id,
    )
    session.add_all(rows)
    run_media.record_media(
        session,
        run,
        "media_uploaded",
        actor,
        {"media_file_ids": [r.id for r in rows], "count": len(rows)},
    )
    session.flush()
    log.info(
        "media uploaded",
        extra={"run_id": run.id, "partner_id": partner_id, "count": len(rows)},
    )
    return rows


def record_design_uploads(
    session: Session, design_id: str, stored: Sequence[StoredFile], actor: Actor
) -> tuple[list[MediaFile], Design]:
    """MediaFile rows for files an admin uploaded to a design, attached onto the design."""
    # Lock the design before the rows that reference it are inserted (PostgreSQL's foreign key
    # share lock would otherwise let two uploads deadlock upgrading to FOR UPDATE).
    catalog.lock_design(session, design_id)
    rows = _rows(
        stored,
        owner_type="admin",
        owner_id=actor.id,
        partner_id=None,
        run_id=None,
        design_id=design_id,
    )
    session.add_all(rows)
    session.flush()
    entries = [_entry_for(row, None, actor) for row in rows]
    design, _added = catalog.attach_design_media(session, design_id, entries)
    return rows, design


def _entry_for(
    row: MediaFile | None, url: str | None, actor: Actor, **extra: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": row.id if row else None,
        "url": row.url if row else url,
        "filename": row.filename if row else None,
        "mime_type": row.mime_type if row else None,
        "attached_at": clock.now().isoformat(),
        "attached_by": {"type": actor.type.value, "id": actor.id},
    }
    entry.update(extra)
    return entry


@dataclass(frozen=True, slots=True)
class AttachOutcome:
    design: Design
    attached: list[dict[str, Any]]
    already_attached: int
    thumbnail_url: str | None


def attach_to_run_design(
    session: Session, run_id: str, partner_id: str, items: Sequence[AttachItem], actor: Actor
) -> AttachOutcome:
    """Append media onto the run's design without duplicates; optionally set the thumbnail.

    The design row is locked and read inside the lock, so concurrent attaches lose nothing.
    """
    run = run_media.run_taking_media(session, run_id, partner_id, lock=True)
    known = repository.files_by_ids(session, (item.id for item in items if item.id))
    entries: list[dict[str, Any]] = []
    thumbnail: str | None = None
    for item in items:
        row = known.get(item.id) if item.id else None
        if item.id and (row is None or row.partner_id != partner_id):
            # Someone else's upload is as unknown as a missing one.
            raise not_found("media_file", item.id)
        entry = _entry_for(row, item.url, actor, production_run_id=run.id)
        entries.append(entry)
        if item.is_thumbnail:
            thumbnail = entry["url"]

    design, added = catalog.attach_design_media(
        session, run.design_id, entries, thumbnail_url=thumbnail
    )
    run_media.record_media(
        session,
        run,
        "media_attached",
        actor,
        {"urls": [e["url"] for e in added], "thumbnail_url": thumbnail, "design_id": design.id},
    )
    session.flush()
    return AttachOutcome(design, added, len(entries) - len(added), thumbnail)


def list_media(
    session: Session,
    *,
    production_run_id: str | None = None,
    design_id: str | None = None,
    partner_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[MediaFile], int]:
    """Media files, newest first, filtered by run, design and/or partner."""
    return repository.list_media(
        session,
        production_run_id=production_run_id,
        design_id=design_id,
        partner_id=partner_id,
        limit=limit,
        offset=offset,
    )


def check_run_visible(session: Session, run_id: str, partner_id: str) -> ProductionRun:
    """The partner's run; 404 when it is unknown, foreign or has no partner."""
    return run_media.partner_run(session, run_id, partner_id, lock=False)


def known_size(session: Session, url: str) -> int | None:
    """The size in bytes of an uploaded file served at ``url``; None when it is not ours."""
    return repository.size_of_url(session, url)
