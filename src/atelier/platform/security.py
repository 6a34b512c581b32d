"""Password hashing (argon2) and signed, expiring tokens (JWT, HS256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from atelier.platform import clock
from atelier.platform.errors import Unauthorized

_hasher = PasswordHasher()


def use_fast_hashing() -> None:
    """Cheap argon2 parameters for the test suite only (the app calls this when env=test)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


# Verifying against this when the user does not exist keeps response time independent of
# whether an email is registered.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-a-timing-shield")

Role = Literal["admin", "partner"]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; never raises for a malformed or missing hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: Role
    partner_id: str | None
    expires_at: datetime
    token_type: str
    extra: dict[str, Any]


def issue_token(
    secret: str,
    *,
    subject: str,
    role: Role,
    ttl: timedelta,
    partner_id: str | None = None,
    token_type: str = "access",
    extra: dict[str, Any] | None = None,
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
    if extra:
        claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str, *, token_type: str = "access") -> TokenClaims:
    """Verify signature, expiry (against the injected clock) and type; else ``Unauthorized``."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            # Time checks use the injected clock below, not PyJWT's wall clock (iat included).
            options={
                "verify_exp": False,
                "verify_iat": False,
                "require": ["sub", "exp", "role", "typ"],
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("the token is invalid", code="invalid_token") from exc
    if claims.get("typ") != token_type or claims.get("role") not in ("admin", "partner"):
        raise Unauthorized("the token is invalid", code="invalid_token")
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=clock.now().tzinfo)
    if expires_at <= clock.now():
        raise Unauthorized("the token has expired", code="token_expired")
    known = {"sub", "role", "typ", "iat", "exp", "pid"}
    return TokenClaims(
        subject=str(claims["sub"]),
        role=claims["role"],
        partner_id=claims.get("pid"),
        expires_at=expires_at,
        token_type=str(claims["typ"]),
        extra={k: v for k, v in claims.items() if k not in known},
    )
