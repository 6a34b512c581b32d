"""Streaming multipart reception: each file goes straight to a spool file on disk, and reading
stops at the first file that passes the size limit (nothing is buffered in memory first).

Also: content sniffing by magic bytes, so a renamed executable labelled ``image/png`` is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from atelier.media.errors import MediaCode
from atelier.platform.errors import Invalid, TooLarge, UnsupportedMedia

FILE_FIELDS = frozenset({"files", "file"})
_MAX_FIELDS = 20
_MAX_FIELD_BYTES = 8 * 1024
_HEAD_BYTES = 64
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

# Extension used in generated storage keys, by sniffed type.
EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/avif": ".avif",
    "application/pdf": ".pdf",
}


def sniff_mime(head: bytes) -> str | None:
    """The type the first bytes of a file prove, or ``None`` when they prove nothing we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
            return "image/heic"
        if brand in (b"avif", b"avis"):
            return "image/avif"
    return None


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(raw: str) -> str:
    """A display-only filename: last path segment, no control characters, bounded."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().strip(".") or "upload"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) <= 9 else name[:200]
    return name


@dataclass
class IncomingFile:
    """One uploaded file, spooled to ``path``."""

    field: str
    filename: str
    declared_type: str
    path: Path
    size: int = 0
    head: bytes = b""
    mime_type: str = ""


@dataclass
class _Part:
    disposition: bytes = b""
    content_type: bytes = b""
    name: str = ""
    file: IncomingFile | None = None
    handle: IO[bytes] | None = None
    data: bytearray = field(default_factory=bytearray)


class UploadReceiver:
    """Feeds a multipart body to ``python_multipart`` and spools file parts to ``spool_dir``."""

    def __init__(self, content_type: str, *, max_bytes: int, max_files: int, spool_dir: Path):
        media_type, params = parse_options_header(content_type)
        if media_type != b"multipart/form-data":
            raise UnsupportedMedia(
                "upload files as multipart/form-data in the field 'files'",
                code=MediaCode.MULTIPART_REQUIRED,
            )
        boundary = params.get(b"boundary")
        if not boundary:
            raise Invalid("the multipart body has no boundary", code=MediaCode.INVALID_MULTIPART)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.spool_dir = spool_dir
        self.files: list[IncomingFile] = []
        self._fields = 0
        self._part = _Part()
        self._header_name = b""
        self._header_value = b""
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )

    # --- parser callbacks ---------------------------------------------------------------------
    def _on_part_begin(self) -> None:
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.lower()
        if name == b"content-disposition":
            self._part.disposition = self._header_value
        elif name == b"content-type":
            self._part.content_type = self._header_value
        self._header_name = b""
        self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._part.disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise Invalid("a multipart part has no name", code=MediaCode.INVALID_MULTIPART)
        part_field = raw_name.decode("utf-8", "replace")
        self._part.name = part_field
        if b"filename" not in options:
            self._fields += 1
            if self._fields > _MAX_FIELDS:
                raise Invalid("too many form fields", code=MediaCode.TOO_MANY_FIELDS)
            return
        if part_field not in FILE_FIELDS:
            raise Invalid(
                f"files go in the 'files' field, not {part_field[:40]!r}",
                code=MediaCode.UNEXPECTED_FILE_FIELD,
            )
        if len(self.files) >= self.max_files:
            raise Invalid(
                f"at most {self.max_files} files per upload", code=MediaCode.TOO_MANY_FILES
            )
        declared, _ = parse_options_header(self._part.content_type)
        fd, path = tempfile.mkstemp(prefix=".upload-", dir=self.spool_dir)
        incoming = IncomingFile(
            field=part_field,
            filename=clean_filename(options[b"filename"].decode("utf-8", "replace")),
            declared_type=declared.decode("latin-1").lower(),
            path=Path(path),
        )
        self.files.append(incoming)
        self._part.file = incoming
        self._part.handle = os.fdopen(fd, "wb")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        incoming = self._part.file
        if incoming is None:
            if len(self._part.data) + len(chunk) > _MAX_FIELD_BYTES:
                raise Invalid("a form field is too long", code=MediaCode.FIELD_TOO_LONG)
            self._part.data.extend(chunk)
            return
        incoming.size += len(chunk)
        if incoming.size > self.max_bytes:
            raise TooLarge(
                f"{incoming.filename!r} is larger than {self.max_bytes} bytes",
                code=MediaCode.FILE_TOO_LARGE,
                extra={"max_bytes": self.max_bytes},
            )
        if len(incoming.head) < _HEAD_BYTES:
            incoming.head += chunk[: _HEAD_BYTES - len(incoming.head)]
        assert self._part.handle is not None
        self._part.handle.write(chunk)

    def _on_part_end(self) -> None:
        if self._part.handle is not None:
            self._part.handle.close()
            self._part.handle = None

    # --- driving ------------------------------------------------------------------------------
    async def receive(self, stream: AsyncIterator[bytes]) -> list[IncomingFile]:
        """Read the whole body (or stop at the first violation, raising); returns the files."""
        try:
            async for chunk in stream:
                if chunk:
                    self._parser.write(chunk)
            self._parser.finalize()
        except FormParserError as exc:
            self.cleanup()
            raise Invalid(
                "the multipart body is malformed", code=MediaCode.INVALID_MULTIPART
            ) from exc
        except BaseException:
            self.cleanup()
            raise
        if self._part.handle is not None:  # body ended inside a part
            self.cleanup()
            raise Invalid("the multipart body is truncated", code=MediaCode.INVALID_MULTIPART)
        return self.files

    def cleanup(self) -> None:
        """Remove every spool file (call after the files were stored, or on failure)."""
        if self._part.handle is not None:
            self._part.handle.close()
            self._part.handle = None
        for incoming in self.files:
            with contextlib.suppress(OSError):
                incoming.path.unlink(missing_ok=True)


def check_types(files: list[IncomingFile], allowed: list[str]) -> None:
    """Refuse (415) any file whose declared or sniffed type is not allowed; sets ``mime_type``.

    The sniffed type is what gets stored: a label is only a claim.
    """
    allowed_set = {t.lower() for t in allowed}
    for incoming in files:
        if incoming.size == 0:
            raise Invalid(f"{incoming.filename!r} is empty", code=MediaCode.EMPTY_FILE)
        if incoming.declared_type not in _GENERIC_TYPES and incoming.declared_type not in (
            allowed_set
        ):
            raise UnsupportedMedia(
                f"{incoming.filename!r} is {incoming.declared_type}; allowed: "
                + ", ".join(sorted(allowed_set)),
                extra={"allowed_types": sorted(allowed_set)},
            )
        sniffed = sniff_mime(incoming.head)
        if sniffed is None or sniffed not in allowed_set:
            raise UnsupportedMedia(
                f"the content of {incoming.filename!r} is not one of the allowed types: "
                + ", ".join(sorted(allowed_set)),
                code=MediaCode.CONTENT_TYPE_MISMATCH,
                extra={"allowed_types": sorted(allowed_set)},
            )
        incoming.mime_type = sniffed
