"""Problem codes of uploads, storage and attachments."""

from __future__ import annotations

from enum import StrEnum


class MediaCode(StrEnum):
    CONTENT_TYPE_MISMATCH = "content_type_mismatch"
    EMPTY_FILE = "empty_file"
    FIELD_TOO_LONG = "field_too_long"
    FILE_TOO_LARGE = "file_too_large"
    INVALID_MULTIPART = "invalid_multipart"
    MEDIA_FILE_NOT_FOUND = "media_file_not_found"
    MULTIPART_REQUIRED = "multipart_required"
    NO_FILES = "no_files"
    THUMBNAIL_SIZE_NOT_FOUND = "thumbnail_size_not_found"
    TOO_MANY_FIELDS = "too_many_fields"
    TOO_MANY_FILES = "too_many_files"
    UNEXPECTED_FILE_FIELD = "unexpected_file_field"
