"""WhatsApp templates at Meta: list and create them (admin API), and plan/upsert the catalogue
per platform and language (the ``atelier whatsapp-templates`` CLI).

Nothing here runs inside a database transaction: callers read the platform first, then talk to
the Graph API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atelier.notifications import catalog
from atelier.notifications.errors import NotificationCode
from atelier.notifications.models import WhatsAppPlatform
from atelier.notifications.providers.whatsapp_cloud import (
    GraphClient,
    GraphError,
    PlatformCredentials,
)
from atelier.platform.errors import BadGateway
from atelier.platform.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlatformAccess:
    """What the Graph API calls need, detached from the session."""

    id: str
    label: str
    credentials: PlatformCredentials
    languages: tuple[str, ...]

    @classmethod
    def of(cls, platform: WhatsAppPlatform, settings: Settings) -> PlatformAccess:
        languages = catalog.languages_for_platform(
            platform.label,
            platform.country_codes or [],
            platform.languages,
            settings.whatsapp_platform_languages,
        )
        credentials = PlatformCredentials(
            platform.id, platform.phone_number_id, platform.waba_id, platform.access_token
        )
        return cls(platform.id, platform.label, credentials, tuple(languages))


def _client(settings: Settings) -> httpx.Client:
    import httpx  # only when talking to the Graph API, not at start-up

    return httpx.Client(timeout=settings.whatsapp_timeout)


def _upstream(exc: GraphError) -> BadGateway:
    return BadGateway(
        f"the WhatsApp API refused the request: {exc.message}",
        code=NotificationCode.WHATSAPP_API_ERROR,
        extra={"provider_code": exc.code, "provider_status": exc.status},
    )


def list_templates(
    settings: Settings, access: PlatformAccess, *, status: str | None = None
) -> list[dict[str, Any]]:
    """The platform's templates as Meta reports them; 502 when the Graph API fails."""
    with _client(settings) as client:
        graph = GraphClient(settings.whatsapp_graph_url, access.credentials, client)
        try:
            return graph.list_templates(status=status)
        except GraphError as exc:
            raise _upstream(exc) from exc


def create_template(
    settings: Settings, access: PlatformAccess, request: dict[str, Any]
) -> dict[str, Any]:
    """Forward one template-creation request; 502 with Meta's message when it refuses."""
    with _client(settings) as client:
        graph = GraphClient(settings.whatsapp_graph_url, access.credentials, client)
        try:
            created = graph.create_template(request)
        except GraphError as exc:
            raise _upstream(exc) from exc
    log.info(
        "whatsapp template submitted",
        extra={"platform_id": access.id, "template": request.get("name")},
    )
    return created


# --- plan and upsert (CLI) -----------------------------------------------------------------------

APPROVED = "approved"
EXISTS = "exists"  # submitted: pending, rejected, paused ...
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class PlanRow:
    platform_id: str
    platform_label: str
    template: str
    language: str
    state: str  # approved | exists | missing
    provider_status: str | None = None
    outcome: str | None = None  # upsert: submitted | failed: ... | skipped: ...


def plan(access: PlatformAccess, existing: list[dict[str, Any]]) -> list[PlanRow]:
    """Every catalogue template × the platform's languages, with its state at Meta."""
    by_key: dict[tuple[str, str], str] = {}
    for item in existing:
        name, language = item.get("name"), item.get("language")
        if isinstance(name, str) and isinstance(language, str):
            by_key[(name, language.split("_")[0])] = str(item.get("status") or "").upper()
    rows: list[PlanRow] = []
    for spec in catalog.TEMPLATES.values():
        for language in access.languages:
            status = by_key.get((spec.name, language))
            if status is None:
                state = MISSING
            elif status == "APPROVED":
                state = APPROVED
            else:
                state = EXISTS
            rows.append(PlanRow(access.id, access.label, spec.name, language, state, status))
    return rows


def upsert(
    settings: Settings,
    access: PlatformAccess,
    rows: list[PlanRow],
    *,
    header_handle: str | None = None,
) -> list[PlanRow]:
    """Submit the missing rows only; returns every row with its outcome."""
    out: list[PlanRow] = []
    with _client(settings) as client:
        graph = GraphClient(settings.whatsapp_graph_url, access.credentials, client)
        for row in rows:
            if row.state != MISSING:
                out.append(row)
                continue
            spec = catalog.TEMPLATES[row.template]
            if spec.image_header and not header_handle:
                out.append(_with(row, "skipped: image header needs --header-handle"))
                continue
            request = catalog.creation_request(
                spec, row.language, settings.public_base_url, header_handle
            )
            try:
                created = graph.create_template(request)
            except GraphError as exc:
                out.append(_with(row, f"failed: {exc.code}: {exc.message}"))
                continue
            status = str(created.get("status") or "PENDING").upper()
            out.append(
                PlanRow(
                    row.platform_id,
                    row.platform_label,
                    row.template,
                    row.language,
                    APPROVED if status == "APPROVED" else EXISTS,
                    status,
                    "submitted",
                )
            )
    return out


def _with(row: PlanRow, outcome: str) -> PlanRow:
    return PlanRow(
        row.platform_id,
        row.platform_label,
        row.template,
        row.language,
        row.state,
        row.provider_status,
        outcome,
    )
