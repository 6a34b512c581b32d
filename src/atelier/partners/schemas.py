"""Request and response bodies for partner workshops and their users."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from atelier.partners.models import PartnerStatus
from atelier.platform.schemas import (
    BodyBool,
    Email,
    Handle,
    InputSchema,
    ListEnvelope,
    Metadata,
    Name,
    OutputSchema,
    Password,
    Phone,
    no_nul,
)


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _valid_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError("must be an IANA time zone such as 'Asia/Kolkata'")
    return value


TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_valid_time_zone),
]
Language = Literal["en", "hi"]
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(no_nul)
]
UserRole = Literal["owner", "member"]


class PartnerFields(InputSchema):
    name: Name
    handle: Handle
    status: PartnerStatus = PartnerStatus.ACTIVE
    whatsapp_number: Phone | None = None
    whatsapp_verified: BodyBool = False
    email: Email | None = None
    preferred_language: Language | None = None
    timezone: TimeZone | None = None
    metadata: Metadata | None = None


class PartnerUserCreate(InputSchema):
    email: Email
    first_name: Annotated[PersonName, StringConstraints(min_length=1)]
    last_name: PersonName
    password: Password | None = None
    phone: Phone | None = None
    role: UserRole = "owner"


class PartnerUserAdd(PartnerUserCreate):
    """Another user for an existing partner; a ``member`` unless said otherwise."""

    role: UserRole = "member"


class PartnerUserUpdate(InputSchema):
    """Partial update of a partner user; ``password: null`` removes password sign-in."""

    first_name: Annotated[PersonName, StringConstraints(min_length=1)] | None = None
    last_name: PersonName | None = None
    phone: Phone | None = None
    role: UserRole | None = None
    is_active: BodyBool | None = None
    password: Password | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> PartnerUserUpdate:
        for field in ("first_name", "last_name", "role", "is_active"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class PartnerCreate(InputSchema):
    partner: PartnerFields
    admin: PartnerUserCreate


class PartnerUpdate(InputSchema):
    """Partial update: only the fields sent change; ``null`` clears the optional ones."""

    name: Name | None = None
    status: PartnerStatus | None = None
    whatsapp_number: Phone | None = None
    whatsapp_verified: BodyBool | None = None
    email: Email | None = None
    preferred_language: Language | None = None
    timezone: TimeZone | None = None
    metadata: Metadata | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> PartnerUpdate:
        for field in ("name", "status", "whatsapp_verified"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class PartnerUserRead(OutputSchema):
    id: str
    partner_id: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    role: str
    is_active: bool
    has_password: bool
    last_login_at: datetime | None
    created_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _password_flag(cls, data: Any) -> Any:
        # Never expose the hash; only whether one is set.
        if isinstance(data, dict):
            return data
        return {
            "id": data.id,
            "partner_id": data.partner_id,
            "email": data.email,
            "first_name": data.first_name,
            "last_name": data.last_name,
            "phone": data.phone,
            "role": data.role,
            "is_active": data.is_active,
            "has_password": data.password_hash is not None,
            "last_login_at": data.last_login_at,
            "created_at": data.created_at,
        }


class PartnerSummary(OutputSchema):
    id: str
    name: str
    handle: str
    status: str
    whatsapp_number: str | None
    whatsapp_verified: bool
    email: str | None
    preferred_language: str | None
    timezone: str | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    updated_at: datetime


class PartnerRead(PartnerSummary):
    users: list[PartnerUserRead]


class PartnerEnvelope(OutputSchema):
    partner: PartnerRead


class PartnerUserEnvelope(OutputSchema):
    partner_user: PartnerUserRead
    partner: PartnerRead


class PartnerList(ListEnvelope[PartnerSummary]):
    items: list[PartnerSummary] = Field(alias="partners")
