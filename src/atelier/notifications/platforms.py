"""WhatsApp platforms (one per business phone number): create, read, update, delete.

Secrets (``access_token``, ``app_secret``, ``verify_token``) are write-only: responses say only
whether each is set, and log lines name the fields that changed, never their values.
"""

from __future__ import annotations

import hmac
import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.notifications import repository
from atelier.notifications.models import WhatsAppPlatform
from atelier.notifications.schemas import PlatformCreate, PlatformUpdate
from atelier.platform.errors import Conflict, not_found

log = logging.getLogger(__name__)


def _taken(field: str) -> Conflict:
    return Conflict(f"another WhatsApp platform already uses this {field}", code=f"{field}_taken")


def get_platform(session: Session, platform_id: str) -> WhatsAppPlatform:
    """The platform, or 404 ``whatsapp_platform_not_found``."""
    platform = repository.get_platform(session, platform_id)
    if platform is None:
        raise not_found("whatsapp_platform", platform_id)
    return platform


def list_platforms(session: Session) -> list[WhatsAppPlatform]:
    return repository.list_platforms(session)


def create_platform(session: Session, data: PlatformCreate) -> WhatsAppPlatform:
    """A new platform; 409 ``label_taken`` / ``phone_number_id_taken`` (race-safe)."""
    taken = repository.label_or_number_taken(session, data.label, data.phone_number_id)
    if taken:
        raise _taken(taken)
    platform = WhatsAppPlatform(
        label=data.label,
        phone_number_id=data.phone_number_id,
        waba_id=data.waba_id,
        access_token=data.access_token,
        app_secret=data.app_secret,
        verify_token=data.verify_token,
        country_codes=list(data.country_codes),
        languages=list(data.languages) if data.languages else None,
        is_active=data.is_active,
    )
    try:
        with session.begin_nested():
            session.add(platform)
            session.flush()
    except IntegrityError:
        raise _taken("label") from None
    log.info(
        "whatsapp platform created",
        extra={"platform_id": platform.id, "label": platform.label},
    )
    return platform


def update_platform(session: Session, platform_id: str, data: PlatformUpdate) -> WhatsAppPlatform:
    """Change the fields sent (a secret sent replaces the stored one; omitted ones stay)."""
    platform = get_platform(session, platform_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("label", "phone_number_id", "waba_id", "access_token", "app_secret"):
        if key in changes and changes[key] is None:
            changes.pop(key)
    label = changes.get("label", platform.label)
    number = changes.get("phone_number_id", platform.phone_number_id)
    taken = repository.label_or_number_taken(session, label, number, exclude_id=platform.id)
    if taken:
        raise _taken(taken)
    for key, value in changes.items():
        if key == "verify_token" and value is None:
            continue
        setattr(platform, key, list(value) if isinstance(value, list) else value)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _taken("label") from None
    log.info(
        "whatsapp platform updated",
        extra={"platform_id": platform.id, "fields": sorted(changes)},
    )
    return platform


def delete_platform(session: Session, platform_id: str) -> None:
    """Remove the platform; queued messages through it then fail (``platform_unavailable``)."""
    platform = get_platform(session, platform_id)
    session.delete(platform)
    session.flush()
    log.info("whatsapp platform deleted", extra={"platform_id": platform_id})


def platform_for_verify_token(session: Session, token: str) -> WhatsAppPlatform | None:
    """The active platform whose verify token is ``token`` (constant-time comparison)."""
    match: WhatsAppPlatform | None = None
    for platform in repository.list_platforms(session, active_only=True):
        if hmac.compare_digest(platform.verify_token.encode(), token.encode()):
            match = platform
    return match
