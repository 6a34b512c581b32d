"""Admin API for WhatsApp: platforms (``/admin/whatsapp/platforms``) and templates at Meta
(``/admin/whatsapp/templates``, forwarded to the Graph API; its errors answer 502)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from atelier.notifications import catalog, platforms, whatsapp_templates
from atelier.notifications.models import WhatsAppPlatform
from atelier.notifications.schemas import (
    PlatformCreate,
    PlatformEnvelope,
    PlatformList,
    PlatformOut,
    PlatformUpdate,
    ProviderTemplate,
    ProviderTemplateCreated,
    ProviderTemplateList,
    TemplateCreate,
)
from atelier.notifications.whatsapp_templates import PlatformAccess
from atelier.platform.db import Database
from atelier.platform.deps import (
    AdminPrincipal,
    AppSettings,
    DbSession,
    Principal,
    check_admin,
    get_database,
)
from atelier.platform.http import Limit, Offset
from atelier.platform.routers import APIRouter
from atelier.platform.settings import Settings

router = APIRouter(prefix="/admin/whatsapp", tags=["whatsapp"])

PlatformId = Annotated[str, Path(min_length=1, max_length=64)]


def _out(platform: WhatsAppPlatform, settings: Settings) -> PlatformOut:
    out = PlatformOut.model_validate(platform)
    out.effective_languages = catalog.languages_for_platform(
        platform.label,
        platform.country_codes or [],
        platform.languages,
        settings.whatsapp_platform_languages,
    )
    out.has_access_token = bool(platform.access_token)
    out.has_app_secret = bool(platform.app_secret)
    out.has_verify_token = bool(platform.verify_token)
    return out


@router.get("/platforms", response_model=PlatformList)
def list_platforms(
    _admin: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PlatformList:
    """Every WhatsApp platform, oldest first; secrets are never returned."""
    rows = platforms.list_platforms(session)
    return PlatformList(
        items=[_out(p, settings) for p in rows[offset : offset + limit]],
        count=len(rows),
        limit=limit,
        offset=offset,
    )


@router.post("/platforms", response_model=PlatformEnvelope, status_code=201)
def create_platform(
    body: PlatformCreate, _admin: AdminPrincipal, session: DbSession, settings: AppSettings
) -> PlatformEnvelope:
    """Add a business phone number; 409 when its label or phone number id is taken."""
    return PlatformEnvelope(
        whatsapp_platform=_out(platforms.create_platform(session, body), settings)
    )


@router.get("/platforms/{platform_id}", response_model=PlatformEnvelope)
def get_platform(
    platform_id: PlatformId, _admin: AdminPrincipal, session: DbSession, settings: AppSettings
) -> PlatformEnvelope:
    return PlatformEnvelope(
        whatsapp_platform=_out(platforms.get_platform(session, platform_id), settings)
    )


@router.patch("/platforms/{platform_id}", response_model=PlatformEnvelope)
def update_platform(
    platform_id: PlatformId,
    body: PlatformUpdate,
    _admin: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> PlatformEnvelope:
    """Change fields; a secret is replaced only when sent."""
    platform = platforms.update_platform(session, platform_id, body)
    return PlatformEnvelope(whatsapp_platform=_out(platform, settings))


@router.delete("/platforms/{platform_id}", status_code=204, response_class=Response)
def delete_platform(
    platform_id: PlatformId, _admin: AdminPrincipal, session: DbSession
) -> Response:
    platforms.delete_platform(session, platform_id)
    return Response(status_code=204)


# --- templates (no database transaction open during the Graph API call) ----------------------


def _admin_read_only(
    request: Request, settings: AppSettings, db: Annotated[Database, Depends(get_database)]
) -> Principal:
    """The admin check on a read session: a POST that calls Meta must not hold a write lock."""
    session = db.new_session(write=False)
    try:
        return check_admin(request, session, settings)
    finally:
        session.close()


ReadOnlyAdmin = Annotated[Principal, Depends(_admin_read_only)]


def _access(db: Database, settings: Settings, platform_id: str) -> PlatformAccess:
    session: Session
    with db.session(write=False) as session:
        return PlatformAccess.of(platforms.get_platform(session, platform_id), settings)


@router.get("/templates", response_model=ProviderTemplateList)
def list_templates(
    _admin: ReadOnlyAdmin,
    settings: AppSettings,
    db: Annotated[Database, Depends(get_database)],
    platform_id: Annotated[str, Query(min_length=1, max_length=64)],
    status: Annotated[str | None, Query(pattern=r"^[A-Za-z_]{1,32}$")] = None,
) -> ProviderTemplateList:
    """The platform's templates as the Graph API reports them (502 when it fails)."""
    access = _access(db, settings, platform_id)
    items = whatsapp_templates.list_templates(
        settings, access, status=status.upper() if status else None
    )
    templates = [
        ProviderTemplate(
            id=str(item["id"]) if item.get("id") is not None else None,
            name=str(item.get("name") or ""),
            language=item.get("language"),
            status=item.get("status"),
            category=item.get("category"),
            in_catalogue=item.get("name") in catalog.TEMPLATES,
        )
        for item in items
    ]
    return ProviderTemplateList(platform_id=platform_id, templates=templates, count=len(templates))


@router.post("/templates", response_model=ProviderTemplateCreated, status_code=201)
def create_template(
    body: TemplateCreate,
    _admin: ReadOnlyAdmin,
    settings: AppSettings,
    db: Annotated[Database, Depends(get_database)],
    platform_id: Annotated[str, Query(min_length=1, max_length=64)],
) -> ProviderTemplateCreated:
    """Forward ``{name, category, language, components}`` to the Graph API (502 with Meta's
    message when it refuses)."""
    access = _access(db, settings, platform_id)
    request: dict[str, Any] = body.model_dump()
    created = whatsapp_templates.create_template(settings, access, request)
    return ProviderTemplateCreated(platform_id=platform_id, template=created)
