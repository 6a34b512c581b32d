"""Problem codes of partners and partner users."""

from __future__ import annotations

from enum import StrEnum


class PartnerCode(StrEnum):
    EMAIL_TAKEN = "email_taken"
    HANDLE_TAKEN = "handle_taken"
