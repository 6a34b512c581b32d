"""``GET /media/files/<key>``: serve stored media (local file, or a redirect to S3).

Keys are generated (a ULID per file), never user-supplied paths; anything that is not the shape
of a generated key answers 404 before touching the file system.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from fastapi.responses import FileResponse, RedirectResponse, Response

from atelier.media.errors import MediaCode
from atelier.media.storage import MEDIA_ROUTE, InvalidKey, LocalStorage, check_key, get_storage
from atelier.media.thumbnails import THUMB_SIZES, thumbnail_path
from atelier.media.uploads import EXTENSIONS
from atelier.platform.deps import AppSettings
from atelier.platform.errors import NotFound
from atelier.platform.routers import APIRouter

router = APIRouter(prefix="/media", tags=["media"])

_TYPES = {ext: mime for mime, ext in EXTENSIONS.items()}
_INLINE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})


def _missing(key: str) -> NotFound:
    return NotFound("the media file was not found", code=MediaCode.MEDIA_FILE_NOT_FOUND)


@router.get("/files/{key:path}", response_model=None)
def serve_media(
    key: Annotated[str, Path(min_length=1, max_length=512)], settings: AppSettings
) -> Response:
    """The stored bytes of a media file (public, like an unguessable object-store URL)."""
    try:
        check_key(key)
    except InvalidKey:
        raise _missing(key) from None
    backend = get_storage(settings)
    remote = backend.download_url(key)
    if remote is not None:
        return RedirectResponse(remote, status_code=302, headers={"Cache-Control": "no-store"})
    path = backend.local_path(key)
    if path is None:
        raise _missing(key)
    suffix = path.suffix.lower()
    mime = _TYPES.get(suffix, "application/octet-stream")
    disposition = "inline" if mime in _INLINE else "attachment"
    return FileResponse(
        path,
        media_type=mime,
        content_disposition_type=disposition,
        filename=path.name,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )


@router.get("/thumbs/{size}/{key:path}", response_model=None)
def serve_thumbnail(
    size: int, key: Annotated[str, Path(min_length=1, max_length=512)], settings: AppSettings
) -> Response:
    """A small JPEG of a stored image (96, 192 or 384 px on its longer side).

    Anything without a thumbnail (not an image Pillow reads, object storage) redirects to the
    original, so a page can always link here.
    """
    try:
        check_key(key)
    except InvalidKey:
        raise _missing(key) from None
    if size not in THUMB_SIZES:
        raise NotFound("no such thumbnail size", code=MediaCode.THUMBNAIL_SIZE_NOT_FOUND)
    backend = get_storage(settings)
    thumb = thumbnail_path(backend, key, size) if isinstance(backend, LocalStorage) else None
    if thumb is None:
        if isinstance(backend, LocalStorage) and backend.local_path(key) is None:
            raise _missing(key)
        return RedirectResponse(f"{MEDIA_ROUTE}/{key}", status_code=302)
    return FileResponse(
        thumb,
        media_type="image/jpeg",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
