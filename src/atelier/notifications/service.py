"""The one send operation for partner messages: ``send_partner_message``.

It never talks to a provider. In the caller's transaction it resolves the recipient, the
channel, the platform and the language, renders the template, claims the dedup scope, and writes
a ``messages`` row: ``queued`` (then delivered by ``notifications.delivery`` outside any
transaction), ``deduplicated``, ``skipped_no_recipient`` or ``failed``. Every call leaves exactly
one Message row, so the message log explains every decision.

Callers: the outbox subscriber for ``production_run.*`` events (``send_for_event``), the WhatsApp
webhook (confirmations and answers), and the flows engine's send step.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from atelier.catalog import service as catalog_service
from atelier.media import service as media_service
from atelier.notifications import catalog, repository
from atelier.notifications.catalog import TemplateSpec
from atelier.notifications.errors import NotificationCode
from atelier.notifications.language import resolve_language
from atelier.notifications.models import (
    Message,
    MessageChannel,
    MessageStatus,
    WhatsAppPlatform,
)
from atelier.notifications.recipients import (
    Recipient,
    resolve_email_recipient,
    resolve_recipient,
)
from atelier.partners import service as partners_service
from atelier.partners.models import Partner
from atelier.platform import clock, outbox
from atelier.platform.errors import Invalid
from atelier.platform.ids import new_id
from atelier.platform.settings import Settings, current
from atelier.production import transitions
from atelier.production.models import ProductionRun

log = logging.getLogger(__name__)

MESSAGE_QUEUED = "notifications.message_queued"
CONTEXT_RUN = "production_run"
CONTEXT_PARTNER = "partner"
WINDOW = timedelta(hours=24)
# WhatsApp refuses empty or multi-line template variables.
_EMPTY = "-"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What ``send_partner_message`` decided; ``message`` is the row it wrote."""

    message: Message
    status: str
    reason: str | None = None

    @property
    def queued(self) -> bool:
        return self.status == MessageStatus.QUEUED


def _clean(value: Any) -> str:
    text = " ".join(str(value).split()) if value is not None else ""
    return text[:900] if text else _EMPTY


def _days_since(moment: datetime | None, now: datetime) -> int:
    """Whole days since ``moment`` rounded up, at least 1 (a reminder never says "0 days")."""
    if moment is None:
        return 1
    return max(1, math.ceil((now - moment).total_seconds() / 86400))


def run_variables(
    session: Session,
    spec: TemplateSpec,
    *,
    partner: Partner,
    run: ProductionRun | None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Values for ``spec.variables`` computed from the run (payload values win when given)."""
    payload = payload or {}
    now = clock.now()
    values: dict[str, str] = {"partner_name": partner.name}
    if run is not None:
        design = catalog_service.get_design(session, run.design_id)
        values.update(
            design_name=design.name,
            run_id=run.id,
            quantity=_clean(run.quantity),
            produced_quantity=str(run.produced_quantity or 0),
            reason=_clean(run.cancelled_reason or payload.get("reason") or "not given"),
        )
        if spec.name == catalog.REMINDER_PENDING.name:
            values["days"] = str(_days_since(run.dispatch_completed_at or run.created_at, now))
        elif spec.name == catalog.REMINDER_NOT_STARTED.name:
            values["days"] = str(_days_since(run.accepted_at, now))
    if payload.get("days") is not None:
        values["days"] = str(max(1, int(payload["days"])))
    runs = payload.get("runs")
    if spec.name == catalog.PARTNER_DIGEST.name and isinstance(runs, list):
        values["run_count"] = str(len(runs))
        values["run_list"] = "; ".join(_digest_line(session, item) for item in runs[:20])
    return values


def _digest_line(session: Session, item: Any) -> str:
    if not isinstance(item, Mapping):
        return _clean(item)
    run_id = str(item.get("production_run_id") or "")
    name = item.get("design_name")
    if not name and run_id:
        try:
            run = transitions.get_run(session, run_id)
            name = catalog_service.get_design(session, run.design_id).name
        except Exception:  # a vanished run still gets its id listed
            name = None
    days = item.get("days")
    detail = f"{run_id}, {days} day(s)" if days else run_id
    return _clean(f"{name or 'run'} ({detail})")


# --- platform and image -------------------------------------------------------------------------


def platform_for_number(platforms: list[WhatsAppPlatform], number: str) -> WhatsAppPlatform | None:
    """The active platform whose country code is the longest prefix of ``number``."""
    best: tuple[int, WhatsAppPlatform] | None = None
    for platform in platforms:
        if not platform.is_active:
            continue
        for code in platform.country_codes or []:
            prefix = "+" + code.strip().lstrip("+")
            if number.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), platform)
    return best[1] if best else None


def platform_languages(platform: WhatsAppPlatform, settings: Settings) -> list[str]:
    return catalog.languages_for_platform(
        platform.label,
        platform.country_codes or [],
        platform.languages,
        settings.whatsapp_platform_languages,
    )


def _design_images(session: Session, run: ProductionRun | None) -> list[str]:
    if run is None:
        return []
    design = catalog_service.get_design(session, run.design_id)
    out: list[str] = []
    if design.thumbnail_url:
        out.append(design.thumbnail_url)
    for item in design.media_files or []:
        url = item if isinstance(item, str) else item.get("url") if isinstance(item, dict) else None
        mime = item.get("mime_type") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url:
            continue
        if mime and not str(mime).startswith("image/"):
            continue
        out.append(url)
        break
    return out


def choose_image(
    session: Session, settings: Settings, run: ProductionRun | None
) -> tuple[str | None, list[str]]:
    """The header image: design thumbnail → first design image → brand logo.

    A candidate known to exceed ``ATELIER_WHATSAPP_IMAGE_MAX_BYTES`` is skipped (it would only
    make the provider refuse the message). Returns the choice and the skipped URLs.
    """
    candidates = _design_images(session, run)
    if settings.brand_logo_url:
        candidates.append(settings.brand_logo_url)
    skipped: list[str] = []
    for url in candidates:
        if not url.lower().startswith(("http://", "https://")):
            skipped.append(url)
            continue
        size = media_service.known_size(session, url)
        if size is not None and size > settings.whatsapp_image_max_bytes:
            skipped.append(url)
            continue
        return url, skipped
    return None, skipped


# --- the send operation -------------------------------------------------------------------------


def _dedup_key(context_type: str, context_id: str, what: str, audience: str) -> str:
    """The dedup scope: the context, the message and who it is for.

    Reminders dedup per run, business day and partner whatever their kind; other messages per
    template (``what``; a free-form text by its content), so "sent" and "cancelled" ten minutes
    apart both reach the partner. The audience
    (partner, else recipient) keeps a run reassigned to another partner from being silenced.
    """
    if catalog.REMINDER_MARKER in context_id:
        return f"{context_type}:{context_id}:{audience}"
    return f"{context_type}:{context_id}:{what}:{audience}"


def _dedup_expiry(settings: Settings, context_id: str, now: datetime) -> datetime:
    window = now + timedelta(minutes=settings.message_dedup_minutes)
    if catalog.REMINDER_MARKER not in context_id:
        return window
    # One reminder per run per business day: the claim lasts until the day ends in that zone.
    local = now.astimezone(settings.zone)
    next_midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(window, next_midnight.astimezone(now.tzinfo))


def reminder_context_id(run_id: str, settings: Settings, at: datetime | None = None) -> str:
    """``<run_id>:reminder:<YYYY-MM-DD>`` with the date in the business time zone."""
    day = (at or clock.now()).astimezone(settings.zone).date().isoformat()
    return f"{run_id}{catalog.REMINDER_MARKER}{day}"


def send_partner_message(
    session: Session,
    *,
    partner_id: str | None,
    template_name: str | None = None,
    production_run_id: str | None = None,
    variables: Mapping[str, Any] | None = None,
    language: str | None = None,
    context_type: str | None = None,
    context_id: str | None = None,
    text: str | None = None,
    image_url: str | None = None,
    to: str | None = None,
    platform_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    event_id: str | None = None,
    settings: Settings | None = None,
    email_only: bool = False,
) -> SendResult:
    """Queue one partner message (template ``template_name``, or free-form ``text``).

    ``partner_id`` names the partner (recipient and language come from it); ``to`` sends to a
    WhatsApp number instead (a reply to whoever wrote in), through ``platform_id`` when given
    (the number the message came in on). ``image_url`` with ``text`` sends a free-form image
    with that caption. ``email_only`` skips WhatsApp and uses the partner's email (the flows
    ``send_email`` step). ``variables`` override the values
    computed from the run. ``context_type``/``context_id`` scope the dedup (default: the run).
    Writes exactly one Message row and returns it with the decision; never calls a provider.
    """
    settings = settings or current()
    if (template_name is None) == (text is None):
        raise Invalid(
            "give exactly one of template_name or text", code=NotificationCode.INVALID_MESSAGE
        )
    spec = catalog.get_template(template_name) if template_name else None
    if template_name and spec is None:
        raise Invalid(f"unknown template {template_name!r}", code=NotificationCode.UNKNOWN_TEMPLATE)
    partner = partners_service.get_partner_with_users(session, partner_id) if partner_id else None
    run = transitions.get_run(session, production_run_id) if production_run_id else None
    now = clock.now()

    recipient: Recipient | None
    if to:
        recipient = Recipient(MessageChannel.WHATSAPP, to, "explicit")
    elif email_only:
        recipient = resolve_email_recipient(partner) if partner else None
    else:
        recipient = resolve_recipient(partner) if partner else None

    platform: WhatsAppPlatform | None = None
    channel = recipient.channel if recipient else MessageChannel.LOG
    available = list(catalog.LANGUAGES)
    if recipient and recipient.channel == MessageChannel.WHATSAPP:
        chosen = repository.get_platform(session, platform_id) if platform_id else None
        if chosen is not None and chosen.is_active:
            platform = chosen
        else:
            platform = platform_for_number(repository.list_platforms(session), recipient.address)
        if platform is None:
            channel = MessageChannel.LOG  # no business number serves it: the log provider
        else:
            available = platform_languages(platform, settings)
    elif recipient and recipient.channel == MessageChannel.EMAIL and not settings.smtp_host:
        channel = MessageChannel.LOG

    choice = resolve_language(
        explicit=language,
        partner_preference=partner.preferred_language if partner else None,
        last_inbound=repository.last_inbound_language(session, partner.id) if partner else None,
        phone=recipient.address
        if recipient and recipient.channel == MessageChannel.WHATSAPP
        else None,
        default=settings.default_language,
        available=available,
    )

    if spec is not None:
        image_url = None  # a template's image is its header, chosen below
    if spec is not None and spec.image_header:
        image_url, skipped = choose_image(session, settings, run)
        if skipped:
            log.info(
                "header image candidates skipped",
                extra={"run_id": run.id if run else None, "skipped": skipped},
            )
        if image_url is None and spec.without_image:
            spec = catalog.TEMPLATES[spec.without_image]

    values_by_name: dict[str, str] = {}
    if spec is not None and partner is not None:
        values_by_name = run_variables(session, spec, partner=partner, run=run, payload=payload)
    for key, value in (variables or {}).items():
        values_by_name[str(key)] = _clean(value)
    ordered: list[str] = []
    if spec is not None:
        missing = [name for name in spec.variables if name not in values_by_name]
        if missing:
            raise Invalid(
                f"variables missing for {spec.name}: {', '.join(missing)}",
                code=NotificationCode.MISSING_VARIABLES,
            )
        ordered = [values_by_name[name] for name in spec.variables]
    body = spec.render(choice.language, ordered) if spec is not None else str(text)

    ctx_type = context_type or (CONTEXT_RUN if run else CONTEXT_PARTNER)
    ctx_id = context_id or (run.id if run else (partner.id if partner else to))
    message = Message(
        id=new_id("msg"),
        channel=channel,
        recipient=recipient.address if recipient else None,
        partner_id=partner.id if partner else None,
        production_run_id=run.id if run else None,
        platform_id=platform.id if platform else None,
        kind="template" if spec is not None else "text",
        template_name=spec.name if spec is not None else None,
        language=choice.language,
        variables=values_by_name,
        body=body,
        image_url=image_url,
        options={
            **_options(spec, run, partner, choice.language, values_by_name),
            "values": ordered,
            "language_source": choice.source,
            "recipient_source": recipient.source if recipient else None,
        },
        context_type=ctx_type,
        context_id=ctx_id,
        event_id=event_id,
        status=MessageStatus.QUEUED,
        created_at=now,
        next_attempt_at=now,
    )
    log_extra = {
        "message_id": message.id,
        "partner_id": message.partner_id,
        "run_id": message.production_run_id,
        "template": message.template_name,
        "language": message.language,
        "channel": channel,
    }

    if recipient is None:
        return _finish(
            session, message, MessageStatus.SKIPPED_NO_RECIPIENT, "no_recipient", log_extra
        )

    if spec is None and channel == MessageChannel.WHATSAPP:
        last = repository.last_inbound_at(session, recipient.address)
        if last is None or now - last > WINDOW:
            message.error_code = "outside_customer_service_window"
            message.error = (
                "free-form WhatsApp messages can only answer a message received in the last 24 h"
            )
            message.failed_at = now
            return _finish(session, message, MessageStatus.FAILED, message.error_code, log_extra)

    if ctx_id and settings.message_dedup_minutes > 0:
        audience = partner.id if partner else recipient.address
        what = message.template_name or "text:" + hashlib.sha256(body.encode()).hexdigest()[:16]
        key = _dedup_key(ctx_type, ctx_id, what, audience)
        message.dedup_key = key
        if not repository.claim_dedup(
            session, key, message.id, now, _dedup_expiry(settings, ctx_id, now)
        ):
            owner = repository.dedup_owner(session, key)
            message.error = f"duplicate of {owner}" if owner else "duplicate"
            return _finish(session, message, MessageStatus.DEDUPLICATED, "deduplicated", log_extra)

    session.add(message)
    session.flush()
    outbox.emit(
        session,
        MESSAGE_QUEUED,
        {"message_id": message.id, "partner_id": message.partner_id, "channel": channel},
    )
    log.info("partner message queued", extra=log_extra)
    return SendResult(message, MessageStatus.QUEUED)


def _options(
    spec: TemplateSpec | None,
    run: ProductionRun | None,
    partner: Partner | None,
    language: str,
    values: Mapping[str, str],
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if spec is None:
        return options
    if run is not None:
        options["quick_replies"] = [f"{reply.action}:{run.id}" for reply in spec.quick_replies]
        if partner is not None:
            options["link_run_id"] = run.id
    options["url_button"] = spec.url_button is not None and run is not None
    options["subject"] = spec.subject(language, values)
    return options


def _finish(
    session: Session,
    message: Message,
    status: MessageStatus,
    reason: str,
    log_extra: dict[str, Any],
) -> SendResult:
    message.status = status
    message.next_attempt_at = None
    session.add(message)
    session.flush()
    log.info("partner message not sent", extra={**log_extra, "reason": reason})
    return SendResult(message, status, reason)


def send_for_event(
    session: Session,
    event_name: str,
    payload: Mapping[str, Any],
    *,
    event_id: str | None = None,
    mapping: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    email_only: bool = False,
) -> SendResult | None:
    """Notify the partner about a ``production_run.*`` event through the catalogue mapping.

    None (and one log line, no Message) when the event has no template (``no_template_for_event``),
    names no partner, or is a cancellation of a run the partner was never sent. A reminder's
    ``reminder_day`` (the discoverer's business date) keys its dedup when the payload has one.
    """
    settings = settings or current()
    spec = catalog.template_for_event(event_name, mapping)
    extra = {"event_name": event_name, "event_id": event_id}
    if spec is None:
        log.info("no partner message", extra={**extra, "reason": "no_template_for_event"})
        return None
    run_id = payload.get("production_run_id")
    run = transitions.get_run(session, str(run_id)) if run_id else None
    partner_id = payload.get("partner_id") or (run.partner_id if run else None)
    if not partner_id:
        log.info("no partner message", extra={**extra, "run_id": run_id, "reason": "no_partner"})
        return None
    if (
        event_name == "production_run.cancelled"
        and run is not None
        and run.dispatch_completed_at is None
    ):
        log.info(
            "no partner message",
            extra={**extra, "run_id": run_id, "reason": "never_sent_to_partner"},
        )
        return None
    context_id: str | None = None
    day = _reminder_day(payload) or clock.now().astimezone(settings.zone).date().isoformat()
    if catalog.is_reminder(event_name) and event_name != catalog.DIGEST_EVENT and run is not None:
        context_id = f"{run.id}{catalog.REMINDER_MARKER}{day}"
    elif event_name == catalog.DIGEST_EVENT:
        context_id = f"{partner_id}:digest:{day}"
    return send_partner_message(
        session,
        partner_id=str(partner_id),
        template_name=spec.name,
        production_run_id=run.id if run and event_name != catalog.DIGEST_EVENT else None,
        language=payload.get("language") if isinstance(payload.get("language"), str) else None,
        context_type=CONTEXT_PARTNER if event_name == catalog.DIGEST_EVENT else CONTEXT_RUN,
        context_id=context_id,
        payload=payload,
        event_id=event_id,
        settings=settings,
        email_only=email_only,
    )


def _reminder_day(payload: Mapping[str, Any]) -> str | None:
    """The payload's ``reminder_day`` when it is an ISO date (``YYYY-MM-DD``)."""
    value = payload.get("reminder_day")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None
