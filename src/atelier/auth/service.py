"""Sign-in for admins and partner users; the bootstrap admin."""

from __future__ import annotations

import logging
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.auth.errors import AuthCode
from atelier.partners.models import Partner, PartnerStatus, PartnerUser
from atelier.platform import clock
from atelier.platform.errors import Conflict, Forbidden, Invalid, PlatformCode, Unauthorized
from atelier.platform.models import AdminUser
from atelier.platform.security import hash_password, issue_token, verify_password
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

_Account = TypeVar("_Account", AdminUser, PartnerUser)

_BAD_CREDENTIALS = "email or password is incorrect"


def authenticate_admin(session: Session, email: str, password: str) -> AdminUser:
    """The active admin whose password matches (last sign-in recorded); else 401."""
    user = session.scalars(select(AdminUser).where(AdminUser.email == email.lower())).one_or_none()
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(_BAD_CREDENTIALS, code=AuthCode.INVALID_CREDENTIALS)
    if not user.is_active:
        raise Unauthorized(_BAD_CREDENTIALS, code=AuthCode.INVALID_CREDENTIALS)
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
        raise Unauthorized(_BAD_CREDENTIALS, code=AuthCode.INVALID_CREDENTIALS)
    if not user.is_active:
        raise Unauthorized(_BAD_CREDENTIALS, code=AuthCode.INVALID_CREDENTIALS)
    partner = session.get(Partner, user.partner_id)
    if partner is None or partner.status == PartnerStatus.INACTIVE:
        raise Forbidden("the partner account is inactive", code=PlatformCode.PARTNER_INACTIVE)
    user.last_login_at = clock.now()
    return user, partner


def _issue_admin_token(settings: Settings, user: AdminUser) -> str:
    return issue_token(
        settings.secret_key.get_secret_value(),
        subject=user.id,
        role="admin",
        ttl=settings.token_ttl,
        version=user.token_version,
    )


def _issue_partner_token(settings: Settings, user: PartnerUser) -> str:
    return issue_token(
        settings.secret_key.get_secret_value(),
        subject=user.id,
        role="partner",
        partner_id=user.partner_id,
        ttl=settings.token_ttl,
        version=user.token_version,
    )


def admin_token(session: Session, settings: Settings, email: str, password: str) -> str:
    """A bearer token for an admin whose password matches."""
    user = authenticate_admin(session, email, password)
    return _issue_admin_token(settings, user)


def partner_token(
    session: Session, settings: Settings, email: str, password: str
) -> tuple[str, str]:
    """A bearer token and the partner id for a partner user whose password matches."""
    user, partner = authenticate_partner(session, email, password)
    return _issue_partner_token(settings, user), partner.id


def _wrong_password() -> Invalid:
    return Invalid(
        "current_password: the current password is incorrect",
        code=AuthCode.WRONG_PASSWORD,
        extra={
            "errors": [
                {
                    "field": "body.current_password",
                    "message": "the current password is incorrect",
                    "type": "wrong_password",
                }
            ]
        },
    )


def _replace_password(
    session: Session, model: type[_Account], user_id: str, current: str, new: str
) -> _Account:
    """Check ``current`` against the locked account and store ``new``; bumping the token
    version revokes every token issued before."""
    user = session.get(model, user_id, with_for_update=True, populate_existing=True)
    if user is None or not user.is_active:
        raise Unauthorized("the account is no longer active", code=PlatformCode.ACCOUNT_INACTIVE)
    if not verify_password(user.password_hash, current):
        raise _wrong_password()
    user.password_hash = hash_password(new)
    user.token_version += 1
    session.flush()
    return user


def change_admin_password(
    session: Session, settings: Settings, user_id: str, current: str, new: str
) -> str:
    """Replace the signed-in admin's password; every earlier token stops working.

    Returns a fresh token for the caller. 422 ``wrong_password`` when ``current`` is wrong.
    """
    user = _replace_password(session, AdminUser, user_id, current, new)
    log.info("admin password changed", extra={"admin_id": user.id})
    return _issue_admin_token(settings, user)


def change_partner_password(
    session: Session, settings: Settings, user_id: str, current: str, new: str
) -> tuple[str, str]:
    """Replace the signed-in partner user's password; every earlier token stops working.

    Returns a fresh token and the partner id. 422 ``wrong_password`` when ``current`` is wrong
    (also for a WhatsApp-only user, who has no password: an admin sets the first one).
    """
    user = _replace_password(session, PartnerUser, user_id, current, new)
    log.info(
        "partner user password changed",
        extra={"partner_id": user.partner_id, "partner_user_id": user.id},
    )
    return _issue_partner_token(settings, user), user.partner_id


def create_admin(
    session: Session, *, email: str, password: str, first_name: str = "", last_name: str = ""
) -> AdminUser:
    """A new admin user; 409 when the email is taken."""
    email = email.strip().lower()
    exists = session.scalar(
        select(func.count()).select_from(AdminUser).where(AdminUser.email == email)
    )
    if exists:
        raise Conflict(f"an admin with email {email!r} already exists", code=AuthCode.ADMIN_EXISTS)
    user = AdminUser(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password_hash=hash_password(password),
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        # A concurrent create with the same email committed between our check and our insert.
        raise Conflict(
            f"an admin with email {email!r} already exists", code=AuthCode.ADMIN_EXISTS
        ) from None
    return user


def ensure_bootstrap_admin(session: Session, settings: Settings) -> AdminUser | None:
    """Create the configured first admin when no admin exists yet (idempotent).

    Safe when several processes start together on a database without an admin: the insert runs
    in a savepoint (``create_admin``), and a process that loses the race on the unique email
    creates nothing and carries on.
    """
    if not settings.bootstrap_admin_email or settings.bootstrap_admin_password is None:
        return None
    if session.scalar(select(func.count()).select_from(AdminUser)):
        return None
    try:
        user = create_admin(
            session,
            email=settings.bootstrap_admin_email,
            password=settings.bootstrap_admin_password.get_secret_value(),
            first_name="Admin",
        )
    except Conflict:
        # Another process created it between our count and our insert.
        log.info("bootstrap admin already created by another process")
        return None
    log.info("bootstrap admin created", extra={"admin_id": user.id})
    return user


def admin_names(session: Session, admin_ids: list[str]) -> dict[str, str]:
    """``{admin_id: display name}`` for the known ids (timelines show who acted)."""
    if not admin_ids:
        return {}
    rows = session.scalars(select(AdminUser).where(AdminUser.id.in_(set(admin_ids))))
    return {u.id: (f"{u.first_name} {u.last_name}".strip() or u.email) for u in rows}
