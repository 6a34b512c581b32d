"""The WhatsApp webhook: status callbacks, inbound messages, and replies that act.

Runs in the webhook request's transaction (no provider call here: answers are queued messages).

- ``statuses``: applied to the Message with that provider id, forward only
  (``messages.apply_status``); unknown ids are ignored with a log line.
- ``messages``: recorded once per provider message id (a redelivered webhook changes nothing);
  a text's language becomes the sender's "last inbound language".
- Quick replies (``accept:<run>``, ``decline:<run>``, ``start:<run>``) from the partner's own
  *verified* number perform that milestone through the same service as the API, with channel
  ``whatsapp``, and answer with a confirmation; from any other number, or for a run not in that
  state, nothing changes and the answer says why. A plain number replied to an idle reminder
  records that produced quantity.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.notifications import catalog, messages, repository, service
from atelier.notifications.language import detect_language, resolve_language
from atelier.notifications.models import InboundMessage, MessageStatus, WhatsAppPlatform
from atelier.partners import service as partners_service
from atelier.partners.models import Partner
from atelier.platform import clock
from atelier.platform.actors import Actor, ActorType, Channel
from atelier.platform.errors import DomainError
from atelier.platform.settings import Settings
from atelier.production import interventions, milestones

log = logging.getLogger(__name__)

_STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
}
_PAYLOAD = re.compile(r"^(accept|decline|start):([A-Za-z0-9_]{1,64})$")
_NUMBER = re.compile(r"^\s*(\d{1,9})\s*$")
IDLE_REPLY_WINDOW = timedelta(days=7)

# Answers, per language. ``{run}`` is the run id, ``{reason}`` the refusal.
_ANSWERS: dict[str, dict[str, str]] = {
    "accepted": {
        "en": "Thank you! Production run {run} is accepted. Tap Start when work begins.",
        "hi": "धन्यवाद! प्रोडक्शन रन {run} स्वीकार कर लिया गया है। काम शुरू होने पर शुरू करें पर टैप करें।",
    },
    "declined": {
        "en": "Understood — production run {run} is declined and goes back to the team.",
        "hi": "समझ गए — प्रोडक्शन रन {run} मना कर दिया गया है और टीम को वापस भेज दिया गया है।",
    },
    "started": {
        "en": "Great — production run {run} is started. Reply with the pieces produced anytime.",
        "hi": "बहुत बढ़िया — प्रोडक्शन रन {run} शुरू हो गया है। बने पीस की संख्या कभी भी यहाँ भेजें।",
    },
    "progress_recorded": {
        "en": "Thanks — {quantity} pieces recorded for production run {run}.",
        "hi": "धन्यवाद — प्रोडक्शन रन {run} के लिए {quantity} पीस दर्ज किए गए।",
    },
    "refused": {
        "en": "Nothing was changed on production run {run}: {reason}",
        "hi": "प्रोडक्शन रन {run} में कुछ नहीं बदला गया: {reason}",
    },
    "not_your_number": {
        "en": (
            "This number is not the verified WhatsApp number of the workshop for production "
            "run {run}, so nothing was changed. Please use the partner portal."
        ),
        "hi": (
            "यह नंबर प्रोडक्शन रन {run} की वर्कशॉप का सत्यापित व्हाट्सऐप नंबर नहीं है, इसलिए कुछ "
            "नहीं बदला गया। कृपया पार्टनर पोर्टल का उपयोग करें।"
        ),
    },
}


@dataclass(frozen=True, slots=True)
class WebhookSummary:
    statuses_applied: int = 0
    statuses_ignored: int = 0
    messages_recorded: int = 0
    duplicates: int = 0
    actions: tuple[str, ...] = ()


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return clock.now()


def _number(wa_id: Any) -> str:
    digits = "".join(ch for ch in str(wa_id or "") if ch.isdigit())
    return f"+{digits}" if digits else ""


def handle_webhook(
    session: Session, settings: Settings, platform: WhatsAppPlatform, payload: Mapping[str, Any]
) -> WebhookSummary:
    """Apply one verified webhook body from ``platform``."""
    applied = ignored = recorded = duplicates = 0
    actions: list[str] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, Mapping):
            continue
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, Mapping) else None
            if not isinstance(value, Mapping):
                continue
            metadata = value.get("metadata") or {}
            number_id = str(metadata.get("phone_number_id") or "")
            if number_id and number_id != platform.phone_number_id:
                log.warning(
                    "webhook change for another phone number ignored",
                    extra={"platform_id": platform.id},
                )
                continue
            for status in value.get("statuses") or []:
                if isinstance(status, Mapping) and _apply_status(session, status):
                    applied += 1
                else:
                    ignored += 1
            for message in value.get("messages") or []:
                if not isinstance(message, Mapping):
                    continue
                outcome = _inbound(session, settings, platform, message)
                if outcome is None:
                    duplicates += 1
                else:
                    recorded += 1
                    if outcome:
                        actions.append(outcome)
    return WebhookSummary(applied, ignored, recorded, duplicates, tuple(actions))


def _apply_status(session: Session, status: Mapping[str, Any]) -> bool:
    provider_id = status.get("id")
    new = _STATUSES.get(str(status.get("status") or ""))
    if not isinstance(provider_id, str) or new is None:
        return False
    error_code = error = None
    if new == MessageStatus.FAILED:
        errors = status.get("errors") or [{}]
        first = errors[0] if isinstance(errors, list) and errors else {}
        if isinstance(first, Mapping):
            error_code = str(first.get("code")) if first.get("code") is not None else None
            details = (first.get("error_data") or {}).get("details")
            error = str(details or first.get("message") or first.get("title") or "failed")[:1000]
    message = messages.apply_status(
        session,
        provider_id,
        new,
        _timestamp(status.get("timestamp")),
        error_code=error_code,
        error=error,
    )
    return message is not None


def _inbound(
    session: Session, settings: Settings, platform: WhatsAppPlatform, data: Mapping[str, Any]
) -> str | None:
    """Record one inbound message; None when it was already recorded, else the action taken
    (empty string for none)."""
    provider_id = str(data.get("id") or "")
    number = _number(data.get("from"))
    if not provider_id or not number:
        return ""
    kind = str(data.get("type") or "unknown")[:32]
    text = payload = None
    if kind == "text":
        text = str((data.get("text") or {}).get("body") or "")[:4096]
    elif kind == "button":
        button = data.get("button") or {}
        payload, text = button.get("payload"), button.get("text")
    elif kind == "interactive":
        interactive = data.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        payload, text = reply.get("id"), reply.get("title")
    context_id = (data.get("context") or {}).get("id")
    partner, verified = partners_service.partner_for_whatsapp_number(session, number)
    row = InboundMessage(
        platform_id=platform.id,
        provider_message_id=provider_id[:200],
        from_number=number[:20],
        partner_id=partner.id if partner else None,
        type=kind,
        text=text,
        payload=str(payload)[:256] if payload is not None else None,
        context_message_id=str(context_id)[:200] if context_id else None,
        language=detect_language(text) if kind == "text" else None,
        # Arrival time (seconds after the partner wrote): the 24 h window counts from it.
        received_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        log.info("inbound message already recorded", extra={"provider_message_id": provider_id})
        return None
    log.info(
        "inbound whatsapp message",
        extra={
            "inbound_id": row.id,
            "partner_id": row.partner_id,
            "type": kind,
            "language": row.language,
        },
    )
    return _act(_Reply(session, settings, platform, row, partner, verified))


@dataclass(frozen=True, slots=True)
class _Reply:
    """An inbound message being acted on, with what every step of acting on it needs."""

    session: Session
    settings: Settings
    platform: WhatsAppPlatform
    row: InboundMessage
    partner: Partner | None
    verified: bool


def _act(reply: _Reply) -> str:
    row = reply.row
    if row.payload:
        match = _PAYLOAD.match(row.payload)
        if match:
            return _quick_reply(reply, match[1], match[2])
    if row.type == "text" and row.text:
        number = _NUMBER.match(row.text)
        if number:
            run_id = _idle_reminder_run(reply.session, row)
            if run_id:
                return _progress(reply, run_id, int(number[1]))
    return ""


def _idle_reminder_run(session: Session, row: InboundMessage) -> str | None:
    """The run of the idle reminder this text answers (the quoted one, else the latest one)."""
    idle = catalog.REMINDER_IDLE.name
    if row.context_message_id:
        quoted = repository.message_by_provider_id(session, row.context_message_id)
        if quoted is not None and quoted.template_name == idle:
            return quoted.production_run_id
        if quoted is not None:
            return None
    latest = repository.latest_message_to(
        session, row.from_number, [idle], clock.now() - IDLE_REPLY_WINDOW
    )
    return latest.production_run_id if latest else None


def _quick_reply(reply: _Reply, verb: str, run_id: str) -> str:
    session = reply.session

    def perform(actor: Actor, partner_id: str) -> str:
        if verb == "accept":
            milestones.accept_run(session, run_id, actor=actor, partner_id=partner_id)
            return "accepted"
        if verb == "start":
            milestones.start_run(session, run_id, actor=actor, partner_id=partner_id)
            return "started"
        interventions.decline_run(
            session,
            run_id,
            partner_id=partner_id,
            reason="other",
            notes="Declined from WhatsApp",
            actor=actor,
        )
        return "declined"

    return _perform(reply, run_id, verb, perform, {})


def _progress(reply: _Reply, run_id: str, quantity: int) -> str:
    def perform(actor: Actor, partner_id: str) -> str:
        milestones.record_progress(
            reply.session, run_id, actor=actor, produced_quantity=quantity, partner_id=partner_id
        )
        return "progress_recorded"

    return _perform(reply, run_id, "progress", perform, {"quantity": str(quantity)})


def _perform(
    reply: _Reply,
    run_id: str,
    verb: str,
    perform: Callable[[Actor, str], str],
    extra: dict[str, str],
) -> str:
    row, partner = reply.row, reply.partner
    row.action = verb
    if partner is None or not reply.verified:
        row.action_result = "not_your_number"
        _answer(reply, "not_your_number", run_id, {})
        log.info(
            "whatsapp reply from an unverified number ignored",
            extra={"inbound_id": row.id, "run_id": run_id, "action": verb},
        )
        return f"{verb}:not_your_number"
    actor = Actor(ActorType.PARTNER, partner.id, Channel.WHATSAPP, partner.name)
    try:
        with reply.session.begin_nested():
            result = perform(actor, partner.id)
    except DomainError as exc:
        row.action_result = exc.code[:64]
        _answer(reply, "refused", run_id, {"reason": exc.detail})
        log.info(
            "whatsapp reply refused",
            extra={"inbound_id": row.id, "run_id": run_id, "action": verb, "code": exc.code},
        )
        return f"{verb}:{exc.code}"
    row.action_result = result
    _answer(reply, result, run_id, extra)
    log.info(
        "whatsapp reply acted on",
        extra={"inbound_id": row.id, "run_id": run_id, "partner_id": partner.id, "action": verb},
    )
    return f"{verb}:{result}"


def _answer(reply: _Reply, key: str, run_id: str, values: dict[str, str]) -> None:
    """Queue a free-form answer to the sender (inside the 24 h window they just opened)."""
    session, partner, row = reply.session, reply.partner, reply.row
    language = resolve_language(
        partner_preference=partner.preferred_language if partner else None,
        last_inbound=repository.last_inbound_language(session, partner.id) if partner else None,
        phone=row.from_number,
        default=reply.settings.default_language,
    ).language
    texts = _ANSWERS[key]
    text = (texts.get(language) or texts["en"]).format(run=run_id, **values)
    service.send_partner_message(
        session,
        partner_id=partner.id if partner else None,
        to=row.from_number,
        platform_id=reply.platform.id,
        text=text,
        language=language,
        context_type="whatsapp_inbound",
        context_id=row.provider_message_id,
        settings=reply.settings,
    )
