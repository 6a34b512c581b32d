"""Small copies of stored images for pages on slow phone connections.

A thumbnail is made once, on first request, from the stored original (Pillow), and kept beside
the store under ``.thumbs/<size>/``; later requests read that file. Only a few sizes exist, so
nobody can make the server resize to arbitrary dimensions. A file Pillow cannot read (HEIC, a
PDF, a broken or oversized image) has no thumbnail: the caller serves the original instead.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from atelier.media.storage import LocalStorage

log = logging.getLogger(__name__)

THUMB_SIZES = frozenset({96, 192, 384})
# Refuse images above this many pixels (a decompression bomb is a few KB that inflates to GBs).
MAX_PIXELS = 60_000_000
_THUMB_DIR = ".thumbs"


def thumbnail_path(storage: LocalStorage, key: str, size: int) -> Path | None:
    """The thumbnail file for ``key`` at ``size`` px (made now if missing), or ``None``."""
    if size not in THUMB_SIZES:
        return None
    original = storage.local_path(key)
    if original is None or not original.is_file():
        return None
    target = storage.root / _THUMB_DIR / str(size) / f"{key}.jpg"
    if target.is_file() and target.stat().st_mtime >= original.stat().st_mtime:
        return target
    # Imported on the first thumbnail made, not when the app starts (tests/test_startup.py).
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(original) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            picture = ImageOps.exif_transpose(image) or image
            picture = picture.convert("RGB")
            picture.thumbnail((size, size))
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a concurrent reader never sees half a file.
            fd, temp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as handle:
                    picture.save(handle, format="JPEG", quality=80, optimize=True)
                Path(temp).replace(target)
            finally:
                Path(temp).unlink(missing_ok=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        log.info("no thumbnail for a media file", extra={"key": key, "reason": type(exc).__name__})
        return None
    return target
