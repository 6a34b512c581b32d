"""Stable error codes of the notifications domain."""

from __future__ import annotations

from enum import StrEnum


class NotificationCode(StrEnum):
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TEMPLATE = "unknown_template"
    MISSING_VARIABLES = "missing_variables"
    WHATSAPP_API_ERROR = "whatsapp_api_error"
    INVALID_VERIFY_TOKEN = "invalid_verify_token"
    INVALID_SIGNATURE = "invalid_signature"
    INVALID_JSON = "invalid_json"
    # A Message whose provider call may or may not have reached the provider.
    OUTCOME_UNKNOWN = "outcome_unknown"
