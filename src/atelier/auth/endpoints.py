from __future__ import annotations

from atelier.auth import service
from atelier.auth.schemas import (
    AdminTokenResponse,
    PartnerTokenResponse,
    PasswordChange,
    TokenRequest,
)
from atelier.platform.deps import AdminPrincipal, AppSettings, DbSession, PartnerAccount
from atelier.platform.routers import APIRouter

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/admin/token", response_model=AdminTokenResponse)
def admin_token(
    body: TokenRequest, session: DbSession, settings: AppSettings
) -> AdminTokenResponse:
    """Exchange an admin's email and password for a bearer token."""
    token = service.admin_token(session, settings, body.email, body.password)
    return AdminTokenResponse(token=token)


@router.post("/partner/token", response_model=PartnerTokenResponse)
def partner_token(
    body: TokenRequest, session: DbSession, settings: AppSettings
) -> PartnerTokenResponse:
    """Exchange a partner user's email and password for a bearer token."""
    token, partner_id = service.partner_token(session, settings, body.email, body.password)
    return PartnerTokenResponse(token=token, partner_id=partner_id)


@router.post("/admin/password", response_model=AdminTokenResponse)
def change_admin_password(
    body: PasswordChange, session: DbSession, settings: AppSettings, admin: AdminPrincipal
) -> AdminTokenResponse:
    """Change the signed-in admin's password (``current_password`` must match).

    Every token issued before, on any device, stops working; the answer carries a new one.
    """
    token = service.change_admin_password(
        session, settings, admin.user_id, body.current_password, body.new_password
    )
    return AdminTokenResponse(token=token)


@router.post("/partner/password", response_model=PartnerTokenResponse)
def change_partner_password(
    body: PasswordChange, session: DbSession, settings: AppSettings, partner: PartnerAccount
) -> PartnerTokenResponse:
    """Change the signed-in partner user's password (``current_password`` must match).

    Every token issued before (WhatsApp sessions included) stops working; the answer carries a
    new one. Allowed while the partner is ``pending``.
    """
    token, partner_id = service.change_partner_password(
        session, settings, partner.user_id, body.current_password, body.new_password
    )
    return PartnerTokenResponse(token=token, partner_id=partner_id)
