"""WhatsApp webhooks: ``GET /webhooks/whatsapp`` (Meta's subscription check) and
``POST /webhooks/whatsapp`` (signed status callbacks and inbound messages)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse

from atelier.notifications import inbound, platforms, repository
from atelier.notifications.errors import NotificationCode
from atelier.notifications.models import WhatsAppPlatform
from atelier.platform.deps import AppSettings, DbSession
from atelier.platform.errors import Forbidden, Invalid, Unauthorized
from atelier.platform.routers import APIRouter
from atelier.platform.schemas import OutputSchema

router = APIRouter(prefix="/webhooks/whatsapp", tags=["webhooks"])
log = logging.getLogger(__name__)


class WebhookResult(OutputSchema):
    received: bool = True
    statuses_applied: int
    statuses_ignored: int
    messages_recorded: int
    duplicates: int
    actions: list[str]


@router.get("", response_class=PlainTextResponse)
def verify_subscription(
    session: DbSession,
    mode: Annotated[str, Query(alias="hub.mode", max_length=32)],
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=255)],
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=255)],
) -> PlainTextResponse:
    """Echo ``hub.challenge`` when the verify token is a known platform's; else 403."""
    if mode != "subscribe" or platforms.platform_for_verify_token(session, verify_token) is None:
        raise Forbidden("unknown verify token", code=NotificationCode.INVALID_VERIFY_TOKEN)
    return PlainTextResponse(challenge)


def _signed_by(session: Any, body: bytes, signature: str | None) -> WhatsAppPlatform:
    """The active platform whose app secret signed ``body``; 401 when none did."""
    if not signature or not signature.startswith("sha256="):
        raise Unauthorized(
            "missing or malformed X-Hub-Signature-256", code=NotificationCode.INVALID_SIGNATURE
        )
    given = signature.removeprefix("sha256=").strip().lower()
    for platform in repository.list_platforms(session, active_only=True):
        expected = hmac.new(platform.app_secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, given):
            return platform
    raise Unauthorized("the signature does not match", code=NotificationCode.INVALID_SIGNATURE)


async def _raw_body(request: Request) -> bytes:
    """The exact bytes Meta signed (read once, before any parsing)."""
    return await request.body()


@router.post("", response_model=WebhookResult)
def receive(
    body: Annotated[bytes, Depends(_raw_body)],
    session: DbSession,
    settings: AppSettings,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> WebhookResult:
    """Apply a signed webhook: statuses (forward only), inbound messages, quick replies."""
    platform = _signed_by(session, body, signature)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise Invalid("the webhook body is not JSON", code=NotificationCode.INVALID_JSON) from exc
    if not isinstance(payload, dict):
        raise Invalid("the webhook body must be a JSON object", code=NotificationCode.INVALID_JSON)
    summary = inbound.handle_webhook(session, settings, platform, payload)
    return WebhookResult(
        statuses_applied=summary.statuses_applied,
        statuses_ignored=summary.statuses_ignored,
        messages_recorded=summary.messages_recorded,
        duplicates=summary.duplicates,
        actions=list(summary.actions),
    )
