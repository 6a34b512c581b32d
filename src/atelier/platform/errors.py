"""Domain errors carry a *kind*; ``platform.http`` maps kinds to HTTP statuses in one place."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorKind(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    GONE = "gone"
    TOO_LARGE = "too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    BAD_GATEWAY = "bad_gateway"


class PlatformCode(StrEnum):
    """Codes every domain shares. Each domain lists its own in its ``errors.py`` as a StrEnum;
    clients and tests match on them, so a value never changes (new ones are added). Unknown ids
    answer ``<entity>_not_found`` from :func:`not_found`."""

    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_VALUE = "invalid_value"
    INTERNAL_ERROR = "internal_error"
    DB_UNAVAILABLE = "db_unavailable"
    DB_BUSY = "db_busy"
    # Authentication and the caller's standing (``platform.deps``, ``platform.security``).
    INVALID_AUTHORIZATION = "invalid_authorization"
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REVOKED = "token_revoked"
    ADMIN_ONLY = "admin_only"
    PARTNER_ONLY = "partner_only"
    ACCOUNT_INACTIVE = "account_inactive"
    PARTNER_INACTIVE = "partner_inactive"
    PARTNER_PENDING = "partner_pending"
    METRICS_TOKEN_REQUIRED = "metrics_token_required"
    METRICS_LOOPBACK_ONLY = "metrics_loopback_only"


class DomainError(Exception):
    """Base of every expected failure. ``code`` is a stable machine-readable reason."""

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    default_code: ClassVar[str] = "invalid"

    def __init__(
        self, detail: str, *, code: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra or {}


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    default_code = "not_found"


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT
    default_code = "conflict"


class Invalid(DomainError):
    kind = ErrorKind.INVALID
    default_code = "invalid"


class Unauthorized(DomainError):
    kind = ErrorKind.UNAUTHORIZED
    default_code = "unauthorized"


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN
    default_code = "forbidden"


class Gone(DomainError):
    kind = ErrorKind.GONE
    default_code = "gone"


class TooLarge(DomainError):
    kind = ErrorKind.TOO_LARGE
    default_code = "too_large"


class UnsupportedMedia(DomainError):
    kind = ErrorKind.UNSUPPORTED_MEDIA
    default_code = "unsupported_media_type"


class BadGateway(DomainError):
    """An upstream service (e.g. the WhatsApp API) refused or failed a forwarded request."""

    kind = ErrorKind.BAD_GATEWAY
    default_code = "upstream_error"


def not_found(entity: str, entity_id: str) -> NotFound:
    """The standard 404 for an unknown (or foreign) id."""
    return NotFound(f"{entity} {entity_id!r} was not found", code=f"{entity}_not_found")
