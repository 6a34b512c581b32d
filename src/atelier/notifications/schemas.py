"""Request and response shapes of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from atelier.platform.schemas import BodyBool, InputSchema, ListEnvelope, OutputSchema, no_nul


class MessageOut(OutputSchema):
    id: str
    channel: str
    recipient: str | None
    partner_id: str | None
    production_run_id: str | None
    platform_id: str | None
    kind: str
    template_name: str | None
    language: str | None
    variables: dict[str, Any]
    body: str | None
    image_url: str | None
    # Quick-reply payloads, the ordered template values, the email subject, and where the
    # language and the recipient came from (``language_source``, ``recipient_source``).
    options: dict[str, Any]
    context_type: str | None
    context_id: str | None
    dedup_key: str | None
    status: str
    provider_message_id: str | None
    error: str | None
    error_code: str | None
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


class MessageEnvelope(OutputSchema):
    message: MessageOut


class MessageList(ListEnvelope[MessageOut]):
    items: list[MessageOut] = Field(alias="messages")


# --- WhatsApp platforms -------------------------------------------------------------------------

Secret = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
    AfterValidator(no_nul),
]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(no_nul),
]
GraphId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,40}$")]
CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[1-9][0-9]{0,3}$")
]
Language = Literal["en", "hi"]


def _normalise_codes(codes: list[str]) -> list[str]:
    out: list[str] = []
    for code in codes:
        value = "+" + code.lstrip("+")
        if value not in out:
            out.append(value)
    return out


class PlatformCreate(InputSchema):
    label: Label
    phone_number_id: GraphId
    waba_id: GraphId
    access_token: Secret
    app_secret: Secret
    verify_token: Secret
    country_codes: list[CountryCode] = Field(min_length=1, max_length=50)
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=2)
    is_active: BodyBool = True

    @field_validator("country_codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        return _normalise_codes(value)

    def __repr__(self) -> str:  # secrets never reach a repr (and so never a log line)
        return f"PlatformCreate(label={self.label!r}, phone_number_id={self.phone_number_id!r})"


class PlatformUpdate(InputSchema):
    label: Label | None = None
    phone_number_id: GraphId | None = None
    waba_id: GraphId | None = None
    access_token: Secret | None = None
    app_secret: Secret | None = None
    verify_token: Secret | None = None
    country_codes: list[CountryCode] | None = Field(default=None, min_length=1, max_length=50)
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=2)
    is_active: BodyBool | None = None

    @field_validator("country_codes")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        return _normalise_codes(value) if value is not None else None

    def __repr__(self) -> str:
        return f"PlatformUpdate(fields={sorted(self.model_fields_set)})"


class PlatformOut(OutputSchema):
    """A platform without its secrets: only whether each one is set."""

    id: str
    label: str
    phone_number_id: str
    waba_id: str
    country_codes: list[str]
    languages: list[str] | None
    effective_languages: list[str] = []
    is_active: bool
    has_access_token: bool = True
    has_app_secret: bool = True
    has_verify_token: bool = True
    created_at: datetime
    updated_at: datetime


class PlatformEnvelope(OutputSchema):
    whatsapp_platform: PlatformOut


class PlatformList(ListEnvelope[PlatformOut]):
    items: list[PlatformOut] = Field(alias="whatsapp_platforms")


# --- templates ----------------------------------------------------------------------------------

TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,512}$")]


class TemplateCreate(InputSchema):
    name: TemplateName
    category: Literal["UTILITY", "MARKETING", "AUTHENTICATION"]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")]
    components: list[dict[str, Any]] = Field(min_length=1, max_length=10)


class ProviderTemplate(OutputSchema):
    id: str | None = None
    name: str
    language: str | None = None
    status: str | None = None
    category: str | None = None
    in_catalogue: bool = False


class ProviderTemplateList(OutputSchema):
    platform_id: str
    templates: list[ProviderTemplate]
    count: int


class ProviderTemplateCreated(OutputSchema):
    platform_id: str
    template: dict[str, Any]
