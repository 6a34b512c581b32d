"""The seeded flows, as data. ``seed_flows`` creates the missing ones and never touches a flow
it finds (by seed key or name): an operator's edits survive any number of re-seeds."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from atelier.flows import repository, service
from atelier.flows.errors import FlowError
from atelier.flows.schemas import FlowCreate
from atelier.notifications.catalog import EVENT_TEMPLATES
from atelier.platform.errors import Conflict
from atelier.platform.settings import Settings

log = logging.getLogger(__name__)

DISCOVERER_NAME = "Production Run Reminders — Daily Discoverer"
DISCOVERER_KEY = "production_run_reminders"
DISPATCHER_NAME = "Partner WhatsApp — Production Run (all events)"
DISPATCHER_KEY = "partner_run_whatsapp"

# The partner dispatcher: every production_run.* event → its template → one partner message.
# The event → template table is the resolve_template step's options (seeded from the
# notification catalogue): an operator edits a mapping, or sets the flow to draft to stop
# partner messages, without a deploy.
DISPATCHER: dict[str, Any] = {
    "name": DISPATCHER_NAME,
    "description": (
        "Every production_run.* event: resolve its template (the event → template table is "
        "this step's options), skip with no_template_for_event when unmapped, else queue one "
        "partner message through the send operation (WhatsApp, email fallback, log provider "
        "when no WhatsApp platform is configured; reminders dedup per run and business day)."
    ),
    "status": "active",
    "trigger_type": "event",
    "trigger_config": {"event_pattern": "production_run.*"},
    "steps": [
        {
            "key": "resolve_template",
            "operation": "resolve_template",
            "options": {"mapping": dict(EVENT_TEMPLATES)},
        },
        {
            "key": "has_template",
            "operation": "condition",
            "options": {
                "expression": "steps.resolve_template.template is not none",
                "on_false": "stop",
                "reason": "no_template_for_event",
            },
        },
        {"key": "send_whatsapp", "operation": "send_whatsapp", "options": {}},
    ],
}

REMINDER_PAYLOAD = {
    "production_run_id": "item.production_run_id",
    "partner_id": "item.partner_id",
    "design_id": "item.design_id",
    "reminder_kind": "item.reminder_kind",
    "days": "item.days",
    "reminder_number": "item.reminder_number",
    "context_id": "item.context_id",
    "reminder_day": "item.reminder_day",
}

DISCOVERER: dict[str, Any] = {
    "name": DISCOVERER_NAME,
    "description": (
        "Weekdays 10:00 Kolkata: finds runs stalled in assignment_pending / not_started / idle, "
        "applies the reminder policy (thresholds, cadence day 1/3/7 then weekly, cap then park "
        "or escalate, optional per-partner digest) and emits one production_run.reminder_<kind> "
        "event per due run for the partner dispatcher. Seeded as draft: activate it once the "
        "reminder templates are approved."
    ),
    "status": "draft",
    "trigger_type": "schedule",
    "trigger_config": {"cron": "0 10 * * 1-5", "timezone": "Asia/Kolkata"},
    "steps": [
        {
            "key": "find",
            "operation": "find_stalled_runs",
            "options": {"assignment_pending_hours": 24, "not_started_hours": 24, "idle_hours": 72},
        },
        {
            "key": "policy",
            "operation": "apply_reminder_policy",
            "options": {
                "candidates": "steps.find.stalled",
                "cadence_days": [1, 3, 7],
                "then_every_days": 7,
                "cap": 2,
                "escalate_every_days": 7,
                "digest": False,
                "digest_min_runs": 2,
            },
        },
        {
            "key": "dispatch",
            "operation": "bulk_emit_events",
            "options": {
                "items": "steps.policy.items",
                "event_name": "production_run.reminder_{{ item.reminder_kind }}",
                "payload": REMINDER_PAYLOAD,
                "continue_on_error": True,
            },
        },
        {
            "key": "dispatch_digests",
            "operation": "bulk_emit_events",
            "options": {
                "items": "steps.policy.digests",
                "event_name": "production_run.reminder_digest",
                "payload": {
                    "partner_id": "item.partner_id",
                    "runs": "item.runs",
                    "run_count": "item.run_count",
                    "counts": "item.counts",
                    "context_id": "item.context_id",
                    "reminder_day": "item.reminder_day",
                },
                "continue_on_error": True,
            },
        },
        {
            "key": "log_summary",
            "operation": "log",
            "options": {
                "message": (
                    "Reminder run — inspected {{ steps.find.inspected }}, "
                    "overdue {{ steps.find.stalled | length }}, "
                    "dispatched {{ steps.dispatch.triggered + steps.dispatch_digests.triggered }}, "
                    "failed {{ steps.dispatch.failed + steps.dispatch_digests.failed }}, "
                    "parked {{ steps.policy.parked | length }}, "
                    "escalated {{ steps.policy.escalated | length }}"
                ),
                "fields": {
                    "inspected": "steps.find.inspected",
                    "counts": "steps.find.counts",
                    "skipped_no_partner": "steps.find.skipped_no_partner",
                    "skipped_not_due": "steps.find.skipped_not_due + steps.policy.skipped_not_due",
                    "dispatched": "steps.dispatch.triggered + steps.dispatch_digests.triggered",
                    "failed": "steps.dispatch.failed + steps.dispatch_digests.failed",
                },
            },
        },
    ],
}

# Flows seeded by key.
SEEDS: dict[str, dict[str, Any]] = {DISPATCHER_KEY: DISPATCHER, DISCOVERER_KEY: DISCOVERER}


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def seed_flows(session: Session, settings: Settings) -> SeedReport:
    """Create every seeded flow that does not exist yet (idempotent; never overwrites)."""
    report = SeedReport()
    for key, definition in SEEDS.items():
        name = str(definition["name"])
        if repository.flow_by_seed_key(session, key) or repository.flow_by_name(session, name):
            report.existing.append(name)
            continue
        try:
            data = FlowCreate.model_validate(definition)
        except ValidationError as exc:
            # An operation it needs is not loaded (or its options changed): say so, go on.
            log.warning("seeded flow not valid: %s", exc.errors()[:3], extra={"seed": key})
            report.failed.append(name)
            continue
        try:
            service.create_flow(session, data, settings, seed_key=key)
        except Conflict as exc:
            if exc.code != FlowError.NAME_TAKEN:
                raise
            # Another process starting at the same moment seeded it first (its insert won the
            # unique name; ours rolled back to its savepoint): it exists, which is the goal.
            report.existing.append(name)
            continue
        report.created.append(name)
    log.info(
        "flows seeded",
        extra={"flows_created": report.created, "flows_existing": len(report.existing)},
    )
    return report
