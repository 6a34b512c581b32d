"""WhatsApp deep links: a signed, expiring, run-scoped token that signs a partner in.

The link token has its own type (``wa_link``), so it is never accepted as a bearer token; it is
exchanged at ``GET /partners/wa-auth`` for an ordinary partner session marked ``via=whatsapp``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.auth.errors import AuthCode
from atelier.partners.models import Partner, PartnerStatus, PartnerUser
from atelier.platform import clock
from atelier.platform.errors import NotFound, PlatformCode, Unauthorized, not_found
from atelier.platform.security import decode_token, issue_token
from atelier.platform.settings import Settings
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)

WA_LINK_TOKEN_TYPE = "wa_link"
REMINDER_MARKER = ":reminder:"
_RUN_CLAIM = "rid"
_LINK_TYPE_CLAIM = "lnk"


def raw_run_id(value: str) -> str:
    """The run id without a ``:reminder:<YYYY-MM-DD>`` dedup suffix (reminders carry one)."""
    return value.partition(REMINDER_MARKER)[0]


def build_wa_token(
    settings: Settings, *, partner_id: str, run_id: str, type: str = "production_run"
) -> str:
    """A signed token for ``partner_id`` scoped to ``run_id``; valid ``settings.wa_link_ttl``."""
    return issue_token(
        settings.secret_key.get_secret_value(),
        subject=partner_id,
        role="partner",
        partner_id=partner_id,
        ttl=settings.wa_link_ttl,
        token_type=WA_LINK_TOKEN_TYPE,
        extra={_RUN_CLAIM: raw_run_id(run_id), _LINK_TYPE_CLAIM: type},
    )


def deep_link_url(settings: Settings, partner_id: str, run_id: str) -> str:
    """The URL a partner taps in WhatsApp to open ``run_id`` signed in."""
    token = build_wa_token(settings, partner_id=partner_id, run_id=run_id)
    base = settings.public_base_url.rstrip("/")
    return f"{base}/partners/wa-auth?{urlencode({'wa_token': token})}"


def portal_path(run_id: str) -> str:
    return f"/portal/runs/{quote(run_id, safe='')}"


@dataclass(frozen=True, slots=True)
class Redemption:
    token: str
    partner_id: str
    partner_user_id: str
    production_run_id: str
    redirect_to: str
    token_version: int = 0


def redeem_wa_token(session: Session, settings: Settings, wa_token: str) -> Redemption:
    """Exchange a deep-link token for a partner session token.

    401 when the token is invalid, tampered or expired; 404 when the partner is unknown or
    inactive, has no active user, or the run is not the partner's.
    """
    secret = settings.secret_key.get_secret_value()
    claims = decode_token(secret, wa_token, token_type=WA_LINK_TOKEN_TYPE)
    partner_id = claims.partner_id
    link_run = claims.extra.get(_RUN_CLAIM)
    if claims.role != "partner" or not partner_id or not isinstance(link_run, str) or not link_run:
        raise Unauthorized("the link is invalid", code=PlatformCode.INVALID_TOKEN)
    run_id = raw_run_id(link_run)

    partner = session.get(Partner, partner_id)
    if partner is None or partner.status == PartnerStatus.INACTIVE:
        raise not_found("partner", partner_id)
    run = session.get(ProductionRun, run_id)
    if run is None or run.partner_id != partner.id:
        raise not_found("production_run", run_id)
    user = session.scalars(
        select(PartnerUser)
        .where(PartnerUser.partner_id == partner.id, PartnerUser.is_active.is_(True))
        .order_by(PartnerUser.created_at, PartnerUser.id)
        .limit(1)
    ).first()
    if user is None:
        raise NotFound(
            "the partner has no active user to sign in", code=AuthCode.PARTNER_USER_NOT_FOUND
        )

    user.last_login_at = clock.now()
    token = issue_token(
        secret,
        subject=user.id,
        role="partner",
        partner_id=partner.id,
        ttl=settings.token_ttl,
        extra={"via": "whatsapp"},
        version=user.token_version,
    )
    log.info(
        "whatsapp deep link redeemed",
        extra={"partner_id": partner.id, "run_id": run.id, "partner_user_id": user.id},
    )
    return Redemption(token, partner.id, user.id, run.id, portal_path(run.id), user.token_version)
