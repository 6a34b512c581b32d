"""Delivery of queued messages: claim (short transaction) → provider call (no transaction) →
record (short transaction).

A provider call never holds a database lock. A message is claimed with a conditional update
that stamps ``send_started_at`` before the call, so two workers never send one message; a
5xx/timeout clears the stamp and schedules a retry with backoff (2, 4, 8 … s, at most
``ATELIER_MESSAGE_MAX_ATTEMPTS`` attempts); a 4xx fails the message with the provider's code and
text. A worker that dies mid-call leaves the stamp behind: once its lease has passed the message
is failed with ``outcome_unknown`` rather than sent a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from atelier.auth.deeplinks import build_wa_token, deep_link_url
from atelier.notifications import catalog, repository
from atelier.notifications.models import Message, MessageChannel, MessageStatus
from atelier.notifications.providers.base import OutgoingMessage, Provider, SendOutcome
from atelier.notifications.providers.log import LogProvider
from atelier.notifications.providers.smtp import SmtpProvider
from atelier.notifications.providers.whatsapp_cloud import (
    GraphClient,
    PlatformCredentials,
    WhatsAppCloudProvider,
)
from atelier.platform import clock
from atelier.platform.db import Database
from atelier.platform.dispatcher import backoff
from atelier.platform.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

ProviderFor = Callable[[Message], Provider]


class MessageDelivery:
    """Sends due messages; any number of these may run against one database."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        worker_id: str = "delivery",
        batch_size: int = 20,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id
        self.batch_size = batch_size
        # Made on the first provider call (httpx and its TLS context are not start-up work).
        self._http = http_client
        # Long enough for one provider call with its timeout; a lease only matters on a crash.
        self.lease = timedelta(seconds=max(60.0, settings.whatsapp_timeout * 3))

    @property
    def http(self) -> httpx.Client:
        """The HTTP client for provider calls, made on first use (one delivery thread)."""
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self.settings.whatsapp_timeout)
        return self._http

    # --- providers ------------------------------------------------------------------------------

    def _provider(self, session: Any, message: Message) -> Provider | SendOutcome:
        if message.channel == MessageChannel.WHATSAPP:
            platform = repository.get_platform(session, message.platform_id or "")
            if platform is None or not platform.is_active:
                return SendOutcome.refused(
                    "platform_unavailable", "the WhatsApp platform is gone or inactive"
                )
            credentials = PlatformCredentials(
                platform.id, platform.phone_number_id, platform.waba_id, platform.access_token
            )
            graph = GraphClient(self.settings.whatsapp_graph_url, credentials, self.http)
            return WhatsAppCloudProvider(graph)
        if message.channel == MessageChannel.EMAIL and self.settings.smtp_host:
            return SmtpProvider(self.settings)
        return LogProvider()

    def _outgoing(self, message: Message) -> OutgoingMessage:
        options = message.options or {}
        link_run = options.get("link_run_id")
        token = link = None
        if link_run and message.partner_id:
            token = build_wa_token(self.settings, partner_id=message.partner_id, run_id=link_run)
            link = deep_link_url(self.settings, message.partner_id, link_run)
        values = tuple(str(v) for v in options.get("values") or ())
        return OutgoingMessage(
            id=message.id,
            channel=message.channel,
            recipient=message.recipient or "",
            kind=message.kind,
            body=message.body or "",
            template_name=message.template_name,
            language=message.language,
            values=values,
            subject=options.get("subject"),
            image_url=message.image_url,
            quick_reply_payloads=tuple(options.get("quick_replies") or ()),
            link_token=token,
            deep_link=link,
            url_button=bool(options.get("url_button")),
            partner_id=message.partner_id,
            production_run_id=message.production_run_id,
        )

    # --- the image check (outside any transaction) -----------------------------------------------

    def _image_too_large(self, url: str) -> bool:
        """HEAD the header image; True when it says it is larger than WhatsApp accepts."""
        import httpx

        try:
            response = self.http.head(url, follow_redirects=True)
        except httpx.HTTPError:
            return False  # unknown: let the provider judge
        length = response.headers.get("content-length")
        return (
            response.status_code < 400
            and length is not None
            and length.isdigit()
            and int(length) > self.settings.whatsapp_image_max_bytes
        )

    def _without_oversized_image(self, outgoing: OutgoingMessage) -> OutgoingMessage:
        if not outgoing.image_url or not self._image_too_large(outgoing.image_url):
            return outgoing
        spec = catalog.get_template(outgoing.template_name or "")
        log.info(
            "header image over the provider's limit; sending without it",
            extra={"message_id": outgoing.id},
        )
        name = spec.without_image if spec is not None and spec.without_image else None
        return replace(outgoing, image_url=None, template_name=name or outgoing.template_name)

    # --- one message ------------------------------------------------------------------------------

    def _claim(self, message_id: str) -> tuple[OutgoingMessage, Provider] | None:
        now = clock.now()
        with self.db.session(write=True) as session:
            if not repository.start_send(
                session, message_id, now, now + self.lease, self.worker_id
            ):
                return None
            message = repository.get_message(session, message_id)
            if message is None:  # pragma: no cover - deleted between the two statements
                return None
            provider = self._provider(session, message)
            if isinstance(provider, SendOutcome):
                self._apply(session, message_id, message.attempts, provider)
                return None
            return self._outgoing(message), provider

    def _apply(self, session: Any, message_id: str, attempts: int, outcome: SendOutcome) -> None:
        now = clock.now()
        values: dict[str, Any]
        if outcome.ok:
            values = {
                "status": MessageStatus.SENT,
                "provider_message_id": outcome.provider_message_id,
                "sent_at": now,
                "error": None,
                "error_code": None,
                "next_attempt_at": None,
            }
        elif outcome.retryable and attempts < self.settings.message_max_attempts:
            values = {
                "error": outcome.error,
                "error_code": outcome.error_code,
                "next_attempt_at": now + backoff(attempts),
            }
        else:
            values = {
                "status": MessageStatus.FAILED,
                "error": outcome.error,
                "error_code": outcome.error_code,
                "failed_at": now,
                "next_attempt_at": None,
            }
        repository.finish_send(session, message_id, self.worker_id, values)
        level = logging.INFO if outcome.ok or outcome.retryable else logging.WARNING
        log.log(
            level,
            "message sent" if outcome.ok else "message send failed",
            extra={
                "message_id": message_id,
                "attempts": attempts,
                "status": values.get("status", MessageStatus.QUEUED),
                "error_code": outcome.error_code,
            },
        )

    def deliver(self, message_id: str) -> bool:
        """Claim, send and record one message; False when it was not (or no longer) due."""
        claimed = self._claim(message_id)
        if claimed is None:
            return False
        outgoing, provider = claimed
        if outgoing.channel == MessageChannel.WHATSAPP and outgoing.kind == "template":
            outgoing = self._without_oversized_image(outgoing)
        try:
            outcome = provider.send(outgoing)
        except Exception as exc:  # a provider bug: retry like a transient failure, keep a trace
            log.exception("provider raised", extra={"message_id": message_id})
            outcome = SendOutcome.retry("provider_error", type(exc).__name__)
        with self.db.session(write=True) as session:
            message = repository.get_message(session, message_id)
            attempts = message.attempts if message is not None else 1
            swapped = message is not None and message.template_name != outgoing.template_name
            if outcome.ok and message is not None and swapped:
                # Sent without the oversized header image: the log shows what really went out.
                message.template_name = outgoing.template_name
                message.image_url = None
            self._apply(session, message_id, attempts, outcome)
        return True

    def run_once(self) -> int:
        """Send the messages that are due now; returns how many were attempted."""
        now = clock.now()
        with self.db.session(write=False) as reader:
            ids = repository.due_message_ids(reader, now, self.batch_size)
            abandoned = repository.has_abandoned_sends(reader, now)
        if abandoned:
            with self.db.session(write=True) as session:
                failed = repository.fail_abandoned_sends(session, now)
            if failed:
                log.warning("messages abandoned mid-send failed", extra={"count": failed})
        return sum(1 for message_id in ids if self.deliver(message_id))

    def drain(self, max_rounds: int = 50) -> int:
        """Send until nothing is due (tests, CLI)."""
        total = 0
        for _ in range(max_rounds):
            sent = self.run_once()
            total += sent
            if sent == 0:
                break
        return total

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
