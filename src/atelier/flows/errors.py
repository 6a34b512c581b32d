"""Stable error codes of the flows domain."""

from __future__ import annotations

from enum import StrEnum


class FlowError(StrEnum):
    FLOW_NOT_FOUND = "flow_not_found"
    EXECUTION_NOT_FOUND = "flow_execution_not_found"
    NAME_TAKEN = "flow_name_taken"
    INVALID_STEPS = "invalid_flow_steps"
    INVALID_TRIGGER = "invalid_flow_trigger"
    ALREADY_ACTIVE = "flow_already_active"
    ALREADY_DRAFT = "flow_already_draft"
    UNKNOWN_FLOW = "unknown_flow"
