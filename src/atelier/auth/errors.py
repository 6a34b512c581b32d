"""Stable error codes of the auth domain (sign-in, passwords, deep links, admin accounts)."""

from __future__ import annotations

from enum import StrEnum


class AuthCode(StrEnum):
    INVALID_CREDENTIALS = "invalid_credentials"
    WRONG_PASSWORD = "wrong_password"
    ADMIN_EXISTS = "admin_exists"
    PARTNER_USER_NOT_FOUND = "partner_user_not_found"
