"""Sending operations: ``resolve_template`` (the event → template mapping, as step options),
``send_whatsapp`` and ``send_email``. All of them go through ``notifications.service``: one send
operation for every partner message (recipient, language, dedup, message log)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from atelier.flows.expressions import Expression
from atelier.flows.registry import Operation, OperationOptions, StepContext, operation
from atelier.notifications import catalog
from atelier.notifications import service as notifications

EventName = Annotated[str, StringConstraints(min_length=3, max_length=120)]


def _known_templates(mapping: dict[str, str]) -> dict[str, str]:
    unknown = sorted({name for name in mapping.values() if catalog.get_template(name) is None})
    if unknown:
        raise ValueError(f"unknown templates: {', '.join(unknown)}")
    return mapping


class ResolveTemplateOptions(OperationOptions):
    mapping: dict[EventName, Annotated[str, StringConstraints(min_length=1, max_length=200)]] = (
        Field(
            default_factory=lambda: dict(catalog.EVENT_TEMPLATES),
            max_length=200,
            description="event name → catalogue template (an event not listed sends nothing)",
        )
    )
    event_name: Expression = Field(
        default="event.name if event else input.event_name",
        description="the event to resolve (the triggering event by default)",
    )

    @field_validator("mapping")
    @classmethod
    def _templates_exist(cls, value: dict[str, str]) -> dict[str, str]:
        return _known_templates(value)


@operation
class ResolveTemplate(Operation[ResolveTemplateOptions]):
    name = "resolve_template"
    description = (
        "Map the event to its message template (the editable event → template table); "
        "`template` is null (reason no_template_for_event) when the event is not mapped."
    )
    Options = ResolveTemplateOptions

    def run(self, ctx: StepContext, options: ResolveTemplateOptions) -> dict[str, Any]:
        event_name = str(ctx.evaluate(options.event_name) or "")
        template = options.mapping.get(event_name)
        run_id = ctx.input.get("production_run_id")
        return {
            "event_name": event_name,
            "template": template,
            "reason": None if template else "no_template_for_event",
            "run_id": run_id,
            "reminder": catalog.is_reminder(event_name),
        }


class SendOptions(OperationOptions):
    template: Expression = Field(
        default="steps.resolve_template.template", description="template name (an expression)"
    )
    event_name: Expression = Field(
        default="event.name if event else input.event_name",
        description="the event the message is about",
    )
    payload: Expression = Field(
        default="input", description="the event payload (run id, partner id, reminder facts)"
    )


def _send(ctx: StepContext, options: SendOptions, *, email_only: bool) -> dict[str, Any]:
    template = ctx.evaluate(options.template)
    event_name = str(ctx.evaluate(options.event_name) or "")
    payload = ctx.evaluate(options.payload) or {}
    if not isinstance(payload, dict):
        raise ValueError("payload must be an object")
    if not template:
        return {"status": "skipped", "reason": "no_template_for_event", "message_id": None}
    ctx.recorded_input.update(template=template, event_name=event_name)
    result = notifications.send_for_event(
        ctx.session,
        event_name,
        payload,
        event_id=ctx.event.get("id"),
        mapping={event_name: str(template)},
        settings=ctx.settings,
        email_only=email_only,
    )
    if result is None:
        return {"status": "skipped", "reason": "no_partner_message", "message_id": None}
    message = result.message
    return {
        "status": result.status,
        "reason": result.reason,
        "message_id": message.id,
        "channel": message.channel,
        "template": message.template_name,
        "language": message.language,
        "context_id": message.context_id,
    }


@operation
class SendWhatsApp(Operation[SendOptions]):
    name = "send_whatsapp"
    description = (
        "Queue the partner's message through the one send operation: WhatsApp template "
        "(email fallback), language resolution, per-day reminder dedup, message log."
    )
    Options = SendOptions

    def run(self, ctx: StepContext, options: SendOptions) -> dict[str, Any]:
        return _send(ctx, options, email_only=False)


@operation
class SendEmail(Operation[SendOptions]):
    name = "send_email"
    description = "Queue the partner's message by email only (the template's email rendering)."
    Options = SendOptions

    def run(self, ctx: StepContext, options: SendOptions) -> dict[str, Any]:
        return _send(ctx, options, email_only=True)
