from __future__ import annotations

from fastapi import APIRouter

from atelier.auth import service
from atelier.auth.schemas import AdminTokenResponse, PartnerTokenResponse, TokenRequest
from atelier.platform.deps import AppSettings, DbSession

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
