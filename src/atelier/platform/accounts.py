"""Partner sign-in without importing the partners package: platform sits below every domain.

``platform.deps.require_partner`` asks the loader registered here for the caller's account;
the application factory registers ``partners.service.partner_account`` (the composition root
may import any domain, platform may not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class PartnerAccount:
    """What authorising a partner user's request needs to know."""

    user_id: str
    partner_id: str
    user_active: bool
    partner_active: bool  # not deactivated by the brand
    partner_pending: bool  # not approved yet: may sign in and read, not act
    token_version: int  # tokens issued before the last password change carry an older one
    name: str  # "first last", else the partner's name


PartnerAccountLoader = Callable[[Session, str], PartnerAccount | None]

_loader: PartnerAccountLoader | None = None


def use_partner_accounts(loader: PartnerAccountLoader) -> None:
    """Register how a partner user id becomes a :class:`PartnerAccount` (``create_app`` does)."""
    global _loader
    _loader = loader


def partner_account(session: Session, user_id: str) -> PartnerAccount | None:
    """The account of partner user ``user_id``; ``None`` when there is no such user."""
    if _loader is None:
        raise RuntimeError("no partner account loader registered (create_app registers one)")
    return _loader(session, user_id)
