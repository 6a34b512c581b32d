"""The provider protocol: one ``send`` that never raises for a provider's refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """Everything a provider needs, detached from the database session."""

    id: str
    channel: str
    recipient: str
    kind: str  # "template" | "text"
    body: str
    template_name: str | None = None
    language: str | None = None
    values: tuple[str, ...] = ()
    subject: str | None = None
    image_url: str | None = None
    quick_reply_payloads: tuple[str, ...] = ()
    # The deep-link token (the URL button's dynamic suffix) and the full link (email, log).
    link_token: str | None = field(default=None, repr=False)
    deep_link: str | None = field(default=None, repr=False)
    url_button: bool = False
    partner_id: str | None = None
    production_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """``ok`` with the provider's message id, or an error that is ``retryable`` (5xx, timeout)
    or permanent (4xx: the provider refused this message and will refuse it again)."""

    ok: bool
    provider_message_id: str | None = None
    retryable: bool = False
    error_code: str | None = None
    error: str | None = None

    @classmethod
    def sent(cls, provider_message_id: str) -> SendOutcome:
        return cls(True, provider_message_id)

    @classmethod
    def retry(cls, code: str, error: str) -> SendOutcome:
        return cls(False, retryable=True, error_code=code, error=error)

    @classmethod
    def refused(cls, code: str, error: str) -> SendOutcome:
        return cls(False, retryable=False, error_code=code, error=error)


class Provider(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> SendOutcome:
        """Send once. Never raises for a provider failure: the outcome says what happened."""
        ...
