"""Uploaded files. Bytes live in the storage backend; this row says where and whose."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from atelier.platform.db import Base, created_at_column, id_column


class MediaFile(Base):
    __tablename__ = "media_files"

    id: Mapped[str] = id_column("media")
    url: Mapped[str] = mapped_column(String(2048))
    storage_key: Mapped[str | None] = mapped_column(String(512))
    filename: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(Integer)
    owner_type: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    production_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("production_runs.id", ondelete="SET NULL"), index=True
    )
    design_id: Mapped[str | None] = mapped_column(
        ForeignKey("designs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = created_at_column()
