"""Request and response bodies for uploads and design media attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from atelier.platform.schemas import (
    BodyBool,
    EntityId,
    InputSchema,
    ListEnvelope,
    OutputSchema,
    Url,
)


def _safe_url(value: str) -> str:
    # Links end up in <img src> in the portals and in WhatsApp messages: only web URLs or
    # paths on this service, never javascript:/data: URLs.
    lowered = value.lower()
    if lowered.startswith(("https://", "http://")) or (
        value.startswith("/") and not value.startswith("//")
    ):
        if any(c.isspace() for c in value):
            raise ValueError("must not contain whitespace")
        return value
    raise ValueError("must be an http(s) URL or a path starting with '/'")


MediaUrl = Annotated[Url, AfterValidator(_safe_url)]


class MediaFileRead(OutputSchema):
    id: str
    url: str
    filename: str
    mime_type: str
    size_bytes: int
    owner_type: str
    owner_id: str | None
    partner_id: str | None
    production_run_id: str | None
    design_id: str | None
    created_at: datetime


class MediaFileList(ListEnvelope[MediaFileRead]):
    items: list[MediaFileRead] = Field(alias="media_files")


class UploadResult(OutputSchema):
    media_files: list[MediaFileRead]


class AttachItem(InputSchema):
    url: MediaUrl | None = None
    id: EntityId | None = None
    is_thumbnail: BodyBool = False

    @model_validator(mode="after")
    def _url_or_id(self) -> AttachItem:
        if self.url is None and self.id is None:
            raise ValueError("give the media file's url (and optionally its id)")
        return self


class AttachRequest(InputSchema):
    media_files: list[AttachItem] = Field(min_length=1, max_length=50)


class DesignMediaRead(OutputSchema):
    id: str
    thumbnail_url: str | None
    media_files: list[Any]


class AttachResult(OutputSchema):
    design: DesignMediaRead
    attached: list[dict[str, Any]]
    already_attached: int
    thumbnail_url: str | None
