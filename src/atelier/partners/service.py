"""Partner workshops: creation with a first user, updates, more users, lookups for other domains."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.partners import repository
from atelier.partners.errors import PartnerCode
from atelier.partners.models import Partner, PartnerStatus, PartnerUser
from atelier.partners.schemas import (
    PartnerCreate,
    PartnerUpdate,
    PartnerUserCreate,
    PartnerUserUpdate,
)
from atelier.platform.accounts import PartnerAccount
from atelier.platform.errors import Conflict, not_found
from atelier.platform.security import hash_password

log = logging.getLogger(__name__)


def _handle_taken(handle: str) -> Conflict:
    return Conflict(f"the handle {handle!r} is already taken", code=PartnerCode.HANDLE_TAKEN)


def _email_taken(email: str) -> Conflict:
    return Conflict(
        f"a partner user with email {email!r} already exists", code=PartnerCode.EMAIL_TAKEN
    )


def get_partner(session: Session, partner_id: str) -> Partner:
    """The partner, or 404 ``partner_not_found``."""
    partner = repository.get_partner(session, partner_id)
    if partner is None:
        raise not_found("partner", partner_id)
    return partner


def get_partner_with_users(session: Session, partner_id: str) -> Partner:
    """The partner with its users loaded, or 404."""
    partner = repository.get_partner(session, partner_id, with_users=True)
    if partner is None:
        raise not_found("partner", partner_id)
    return partner


def partner_account(session: Session, user_id: str) -> PartnerAccount | None:
    """The sign-in view of partner user ``user_id`` (``platform.deps`` authorises with it)."""
    user = session.get(PartnerUser, user_id)
    if user is None:
        return None
    partner = session.get(Partner, user.partner_id)
    return PartnerAccount(
        user_id=user.id,
        partner_id=user.partner_id,
        user_active=user.is_active,
        partner_active=partner is not None and partner.status != PartnerStatus.INACTIVE,
        partner_pending=partner is not None and partner.status == PartnerStatus.PENDING,
        token_version=user.token_version,
        name=f"{user.first_name} {user.last_name}".strip() or (partner.name if partner else ""),
    )


def partner_display(session: Session, partner_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{id: {id, name, handle}}`` for the known ids among ``partner_ids``."""
    return {
        p.id: {"id": p.id, "name": p.name, "handle": p.handle}
        for p in repository.partners_by_id(session, partner_ids)
    }


def list_partners(
    session: Session, *, status: str | None, q: str | None, limit: int, offset: int
) -> tuple[Sequence[Partner], int]:
    """A page of partners (newest first) and the total count for the filters."""
    return repository.list_partners(session, status=status, q=q, limit=limit, offset=offset)


def _new_user(session: Session, partner_id: str, data: PartnerUserCreate) -> PartnerUser:
    if repository.user_email_exists(session, data.email):
        raise _email_taken(data.email)
    user = PartnerUser(
        partner_id=partner_id,
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        phone=data.phone,
        role=data.role,
        password_hash=hash_password(data.password) if data.password else None,
    )
    # The unique key decides a race between two requests using the same email.
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise _email_taken(data.email) from None
    return user


def create_partner(session: Session, data: PartnerCreate) -> Partner:
    """A partner and its first user; 409 ``handle_taken`` / ``email_taken`` (race-safe)."""
    fields = data.partner
    if repository.handle_exists(session, fields.handle):
        raise _handle_taken(fields.handle)
    partner = Partner(
        name=fields.name,
        handle=fields.handle,
        status=fields.status,
        whatsapp_number=fields.whatsapp_number,
        whatsapp_verified=fields.whatsapp_verified,
        email=fields.email,
        preferred_language=fields.preferred_language,
        timezone=fields.timezone,
        metadata_=fields.metadata or {},
    )
    # The unique handle decides a race between two creates; the loser gets a clean 409.
    try:
        with session.begin_nested():
            session.add(partner)
            session.flush()
    except IntegrityError:
        raise _handle_taken(fields.handle) from None
    user = _new_user(session, partner.id, data.admin)
    log.info("partner created", extra={"partner_id": partner.id, "partner_user_id": user.id})
    return get_partner_with_users(session, partner.id)


def add_user(session: Session, partner_id: str, data: PartnerUserCreate) -> PartnerUser:
    """Another user for an existing partner; 409 ``email_taken`` when the email is used."""
    get_partner(session, partner_id)
    user = _new_user(session, partner_id, data)
    log.info("partner user added", extra={"partner_id": partner_id, "partner_user_id": user.id})
    return user


def update_partner(session: Session, partner_id: str, data: PartnerUpdate) -> Partner:
    """Apply the fields sent; an ``inactive`` partner can no longer authenticate."""
    partner = get_partner(session, partner_id)
    changes = data.model_dump(exclude_unset=True)
    if "metadata" in changes:
        partner.metadata_ = changes.pop("metadata") or {}
    if "whatsapp_number" in changes and changes["whatsapp_number"] != partner.whatsapp_number:
        # A new number is unverified until the provider confirms it (unless told otherwise).
        changes.setdefault("whatsapp_verified", False)
    for key, value in changes.items():
        setattr(partner, key, value)
    session.flush()
    log.info("partner updated", extra={"partner_id": partner_id, "fields": sorted(changes)})
    return get_partner_with_users(session, partner_id)


def update_user(
    session: Session, partner_id: str, user_id: str, data: PartnerUserUpdate
) -> PartnerUser:
    """Change a partner user (404 when it belongs to another partner); never logs the password."""
    get_partner(session, partner_id)
    user = repository.get_user(session, partner_id, user_id)
    if user is None:
        raise not_found("partner_user", user_id)
    changes = data.model_dump(exclude_unset=True)
    if "password" in changes:
        password = changes.pop("password")
        user.password_hash = hash_password(password) if password else None
        # Setting, replacing or removing the password signs the user out everywhere.
        user.token_version = PartnerUser.token_version + 1
    for key, value in changes.items():
        setattr(user, key, value)
    session.flush()
    fields = sorted(data.model_fields_set)
    log.info(
        "partner user updated",
        extra={"partner_id": partner_id, "partner_user_id": user_id, "fields": fields},
    )
    return user


def partner_for_whatsapp_number(session: Session, number: str) -> tuple[Partner | None, bool]:
    """The partner that owns WhatsApp ``number`` and whether it is that partner's *verified*
    number (only a verified number may act on runs). A number on no partner → ``(None, False)``;
    a verified owner wins over a partner whose user merely lists the phone."""
    candidates = list(repository.partners_with_number(session, number))
    for partner in candidates:
        if partner.whatsapp_number == number and partner.whatsapp_verified:
            return partner, True
    return (candidates[0] if candidates else None), False
