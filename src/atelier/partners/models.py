"""Partner workshops and the people who log in for them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from atelier.platform.db import Base, TimestampMixin, id_column


class PartnerStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


class Partner(TimestampMixin, Base):
    __tablename__ = "partners"

    id: Mapped[str] = id_column("partner")
    name: Mapped[str] = mapped_column(String(200), index=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PartnerStatus.ACTIVE, index=True)
    whatsapp_number: Mapped[str | None] = mapped_column(String(20))
    whatsapp_verified: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(String(254))
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    users: Mapped[list[PartnerUser]] = relationship(
        lazy="raise", back_populates="partner", order_by="PartnerUser.created_at"
    )


class PartnerUser(TimestampMixin, Base):
    __tablename__ = "partner_users"

    id: Mapped[str] = id_column("puser")
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(16), default="owner")
    # None until a password is set; such a user can only sign in through a WhatsApp deep link.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    # Bumped whenever the password is set, changed or removed; older tokens stop working.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    partner: Mapped[Partner] = relationship(lazy="raise", back_populates="users")
