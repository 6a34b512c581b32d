"""Password hashing (argon2) and signed, expiring tokens (JWT, HS256)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from atelier.platform import clock
from atelier.platform.errors import PlatformCode, Unauthorized

_hasher = PasswordHasher()


def use_fast_hashing() -> None:
    """Cheap argon2 parameters for the test suite only (the app calls this when env=test)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


# Verifying against a hash made with the same parameters when the user does not exist keeps
# response time independent of whether an email is registered. Made on first use, not at import
# (an argon2 hash costs a noticeable part of start-up).
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:  # a benign race: both compute the same thing
        _dummy = (_hasher, _hasher.hash("not-a-real-password-but-a-timing-shield"))
    return _dummy[1]


Role = Literal["admin", "partner"]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; never raises for a malformed or missing hash."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: Role
    partner_id: str | None
    expires_at: datetime
    token_type: str
    extra: Mapping[str, Any]
    issued_at: datetime | None = None
    # The user's ``token_version`` when the token was issued; a password change bumps it.
    version: int = 0


def issue_token(
    secret: str,
    *,
    subject: str,
    role: Role,
    ttl: timedelta,
    partner_id: str | None = None,
    token_type: str = "access",
    extra: dict[str, Any] | None = None,
    version: int | None = None,
) -> str:
    """A signed token for ``subject`` that expires after ``ttl``."""
    issued = clock.now()
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role,
        "typ": token_type,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if partner_id:
        claims["pid"] = partner_id
    if version:
        claims["ver"] = version
    if extra:
        claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")


# 9999-12-31T23:59:59Z: the last instant a ``datetime`` can hold.
_MAX_TIMESTAMP = 253_402_300_799
_MAX_SUBJECT = 255


def _invalid() -> Unauthorized:
    return Unauthorized("the token is invalid", code=PlatformCode.INVALID_TOKEN)


def _timestamp(claims: dict[str, Any], name: str) -> datetime | None:
    """A NumericDate claim as an aware datetime; ``None`` when absent; else ``Unauthorized``."""
    if name not in claims:
        return None
    value = claims[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= _MAX_TIMESTAMP
    ):
        raise _invalid()
    return datetime.fromtimestamp(value, tz=UTC)


def _text(claims: dict[str, Any], name: str) -> str | None:
    """A string claim (1 to 255 characters); ``None`` when absent; else ``Unauthorized``."""
    if name not in claims:
        return None
    value = claims[name]
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_SUBJECT:
        raise _invalid()
    return value


# Tokens already verified, with their claims: a client sends the same token on every request,
# and verifying it (base64, HMAC, JSON, claim checks) is ~40 µs of pure Python each time. The
# key is the whole token, signature included, so only a byte-identical token hits; expiry and
# not-before are still checked against the clock on every use. Failures are never cached.
_VERIFIED_LIMIT = 4096
_verified: dict[tuple[str, str, str], tuple[TokenClaims, datetime | None]] = {}


def decode_token(secret: str, token: str, *, token_type: str = "access") -> TokenClaims:
    """Verify signature, expiry (against the injected clock) and type; else ``Unauthorized``.

    Every claim the service reads is type-checked here, so a validly signed token with a
    malformed claim (``"exp": "abc"``, ``"exp": 1e30``, ``"sub": 7``) is a 401, never a 500.
    """
    key = (token_type, secret, token)
    verified = _verified.get(key)
    if verified is None:
        verified = _verify(secret, token, token_type)
        if len(_verified) >= _VERIFIED_LIMIT:
            _verified.clear()
        _verified[key] = verified
    claims, not_before = verified
    now = clock.now()
    if claims.expires_at <= now:
        raise Unauthorized("the token has expired", code=PlatformCode.TOKEN_EXPIRED)
    if not_before is not None and not_before > now:
        raise _invalid()
    return claims


def _verify(secret: str, token: str, token_type: str) -> tuple[TokenClaims, datetime | None]:
    """The token's claims and its not-before time, signature and claim types checked."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            # Time checks use the injected clock (``decode_token``), not PyJWT's wall clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["sub", "exp", "role", "typ"],
            },
        )
    except (jwt.PyJWTError, ValueError, RecursionError) as exc:
        # ValueError/RecursionError: a payload PyJWT's JSON parsing did not wrap (huge or deep).
        raise _invalid() from exc
    if not isinstance(claims, dict):
        raise _invalid()
    if claims.get("typ") != token_type or claims.get("role") not in ("admin", "partner"):
        raise _invalid()
    subject = _text(claims, "sub")
    partner_id = _text(claims, "pid")
    expires_at = _timestamp(claims, "exp")
    issued_at = _timestamp(claims, "iat")
    not_before = _timestamp(claims, "nbf")
    version = claims.get("ver", 0)
    if (
        subject is None
        or expires_at is None
        or isinstance(version, bool)
        or not isinstance(version, int)
        or not 0 <= version < 2**31
    ):
        raise _invalid()
    known = {"sub", "role", "typ", "iat", "exp", "nbf", "pid", "ver"}
    extra = MappingProxyType({k: v for k, v in claims.items() if k not in known})
    verified = TokenClaims(
        subject=subject,
        role=claims["role"],
        partner_id=partner_id,
        expires_at=expires_at,
        issued_at=issued_at,
        version=version,
        token_type=token_type,
        extra=extra,
    )
    return verified, not_before
