"""Admin API for partner workshops and their users."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from atelier.partners import service
from atelier.partners.models import PartnerStatus
from atelier.partners.schemas import (
    PartnerCreate,
    PartnerEnvelope,
    PartnerList,
    PartnerRead,
    PartnerUpdate,
    PartnerUserAdd,
    PartnerUserEnvelope,
    PartnerUserRead,
    PartnerUserUpdate,
)
from atelier.platform.deps import AdminPrincipal, DbSession
from atelier.platform.http import IdPath, Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import no_nul

router = APIRouter(prefix="/admin/partners", tags=["partners"])


@router.post("", status_code=201, response_model=PartnerEnvelope)
def create_partner(body: PartnerCreate, session: DbSession, _: AdminPrincipal) -> PartnerEnvelope:
    """Create a partner and its first user (409 ``handle_taken`` / ``email_taken``)."""
    partner = service.create_partner(session, body)
    return PartnerEnvelope(partner=PartnerRead.model_validate(partner))


@router.get("", response_model=PartnerList)
def list_partners(
    session: DbSession,
    _: AdminPrincipal,
    status: Annotated[PartnerStatus | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200), AfterValidator(no_nul)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PartnerList:
    """List partners (filter by status, search name and handle; newest first)."""
    rows, count = service.list_partners(session, status=status, q=q, limit=limit, offset=offset)
    return PartnerList.of(rows, count, limit=limit, offset=offset)


@router.get("/{partner_id}", response_model=PartnerEnvelope)
def get_partner(partner_id: IdPath, session: DbSession, _: AdminPrincipal) -> PartnerEnvelope:
    """A partner with its users."""
    partner = service.get_partner_with_users(session, partner_id)
    return PartnerEnvelope(partner=PartnerRead.model_validate(partner))


@router.post("/{partner_id}", response_model=PartnerEnvelope)
def update_partner(
    partner_id: IdPath, body: PartnerUpdate, session: DbSession, _: AdminPrincipal
) -> PartnerEnvelope:
    """Change the fields sent (name, status, WhatsApp, language, time zone, metadata)."""
    partner = service.update_partner(session, partner_id, body)
    return PartnerEnvelope(partner=PartnerRead.model_validate(partner))


@router.post("/{partner_id}/users", status_code=201, response_model=PartnerUserEnvelope)
def add_partner_user(
    partner_id: IdPath, body: PartnerUserAdd, session: DbSession, _: AdminPrincipal
) -> PartnerUserEnvelope:
    """Add another user to the partner (409 ``email_taken``)."""
    user = service.add_user(session, partner_id, body)
    partner = service.get_partner_with_users(session, partner_id)
    return PartnerUserEnvelope(
        partner_user=PartnerUserRead.model_validate(user),
        partner=PartnerRead.model_validate(partner),
    )


@router.post("/{partner_id}/users/{user_id}", response_model=PartnerUserEnvelope)
def update_partner_user(
    partner_id: IdPath,
    user_id: IdPath,
    body: PartnerUserUpdate,
    session: DbSession,
    _: AdminPrincipal,
) -> PartnerUserEnvelope:
    """Change a user: names, phone, role, ``is_active`` (locks the user out), password."""
    user = service.update_user(session, partner_id, user_id, body)
    partner = service.get_partner_with_users(session, partner_id)
    return PartnerUserEnvelope(
        partner_user=PartnerUserRead.model_validate(user),
        partner=PartnerRead.model_validate(partner),
    )
