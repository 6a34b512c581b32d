"""Sign-in for admins and partner users; the bootstrap admin."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atelier.partners.models import Partner, PartnerStatus, PartnerUser
from atelier.platform import clock
from atelier.platform.errors import Conflict, Forbidden, Unauthorized
from atelier.platform.models import AdminUser
from atelier.platform.security import hash_password, issue_token, verify_password
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

_BAD_CREDENTIALS = "email or password is incorrect"


def authenticate_admin(session: Session, email: str, password: str) -> AdminUser:
    """The active admin whose password matches (last sign-in recorded); else 401."""
    user = session.scalars(select(AdminUser).where(AdminUser.email == email.lower())).one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    if not user.is_active:
        raise Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    user.last_login_at = clock.now()
    return user


def authenticate_partner(
    session: Session, email: str, password: str
) -> tuple[PartnerUser, Partner]:
    """The active partner user whose password matches, and their partner; else 401/403."""
    user = session.scalars(
        select(PartnerUser).where(PartnerUser.email == email.lower())
    ).one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    if not user.is_active:
        raise Unauthorized(_BAD_CREDENTIALS, code="invalid_credentials")
    partner = session.get(Partner, user.partner_id)
    if partner is None or partner.status == PartnerStatus.INACTIVE:
        raise Forbidden("the partner account is inactive", code="partner_inactive")
    user.last_login_at = clock.now()
    return user, partner


def admin_token(session: Session, settings: Settings, email: str, password: str) -> str:
    """A bearer token for an admin whose password matches."""
    user = authenticate_admin(session, email, password)
    return issue_token(
        settings.secret_key.get_secret_value(),
        subject=user.id,
        role="admin",
        ttl=settings.token_ttl,
    )


def partner_token(
    session: Session, settings: Settings, email: str, password: str
) -> tuple[str, str]:
    """A bearer token and the partner id for a partner user whose password matches."""
    user, partner = authenticate_partner(session, email, password)
    token = issue_token(
        settings.secret_key.get_secret_value(),
        subject=user.id,
        role="partner",
        partner_id=partner.id,
        ttl=settings.token_ttl,
    )
    return token, partner.id


def create_admin(
    session: Session, *, email: str, password: str, first_name: str = "", last_name: str = ""
) -> AdminUser:
    """A new admin user; 409 when the email is taken."""
    email = email.strip().lower()
    exists = session.scalar(
        select(func.count()).select_from(AdminUser).where(AdminUser.email == email)
    )
    if exists:
        raise Conflict(f"an admin with email {email!r} already exists", code="admin_exists")
    user = AdminUser(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def ensure_bootstrap_admin(session: Session, settings: Settings) -> AdminUser | None:
    """Create the configured first admin when no admin exists yet (idempotent)."""
    if not settings.bootstrap_admin_email or settings.bootstrap_admin_password is None:
        return None
    if session.scalar(select(func.count()).select_from(AdminUser)):
        return None
    user = create_admin(
        session,
        email=settings.bootstrap_admin_email,
        password=settings.bootstrap_admin_password.get_secret_value(),
        first_name="Admin",
    )
    log.info("bootstrap admin created", extra={"admin_id": user.id})
    return user


def admin_names(session: Session, admin_ids: list[str]) -> dict[str, str]:
    """``{admin_id: display name}`` for the known ids (timelines show who acted)."""
    if not admin_ids:
        return {}
    rows = session.scalars(select(AdminUser).where(AdminUser.id.in_(set(admin_ids))))
    return {u.id: (f"{u.first_name} {u.last_name}".strip() or u.email) for u in rows}
