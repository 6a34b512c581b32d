"""Who a partner message goes to: one pure function over the partner and its users.

The partner's verified WhatsApp number; else the first active partner user with a phone
(WhatsApp); else the partner's email, else the first active user's email; else nobody (the
Message is recorded as ``skipped_no_recipient``).
"""

from __future__ import annotations

from dataclasses import dataclass

from atelier.notifications.models import MessageChannel
from atelier.partners.models import Partner


@dataclass(frozen=True, slots=True)
class Recipient:
    channel: MessageChannel
    address: str
    source: str  # verified_whatsapp | user_phone | partner_email | user_email | explicit


def resolve_recipient(partner: Partner) -> Recipient | None:
    """The partner's recipient (``partner.users`` must be loaded)."""
    if partner.whatsapp_number and partner.whatsapp_verified:
        return Recipient(MessageChannel.WHATSAPP, partner.whatsapp_number, "verified_whatsapp")
    users = [user for user in partner.users if user.is_active]
    for user in users:
        if user.phone:
            return Recipient(MessageChannel.WHATSAPP, user.phone, "user_phone")
    return resolve_email_recipient(partner)


def resolve_email_recipient(partner: Partner) -> Recipient | None:
    """The partner's email, else the first active user's email (``partner.users`` loaded)."""
    users = [user for user in partner.users if user.is_active]
    if partner.email:
        return Recipient(MessageChannel.EMAIL, partner.email, "partner_email")
    for user in users:
        if user.email:
            return Recipient(MessageChannel.EMAIL, user.email, "user_email")
    return None
