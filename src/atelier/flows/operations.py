"""The built-in operations: read data, condition, transform, emit / bulk emit events, log.

Sending operations (resolve template, WhatsApp, email) live in ``flows.operations_notify``;
reminder operations (find stalled runs, apply reminder policy) in ``reminders.operations``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from sqlalchemy.orm import Session

from atelier.catalog import service as catalog
from atelier.catalog.schemas import DesignSummary
from atelier.flows.expressions import Expression, ExpressionError, TextTemplate
from atelier.flows.registry import (
    Operation,
    OperationOptions,
    StepContext,
    StopFlow,
    operation,
)
from atelier.partners import service as partners
from atelier.partners.schemas import PartnerSummary
from atelier.platform import outbox
from atelier.platform.errors import NotFound
from atelier.production import transitions as production
from atelier.production.schemas import ProductionRunRead

log = logging.getLogger(__name__)

EventName = Annotated[
    str, StringConstraints(min_length=3, max_length=120, pattern=r"^[a-z][a-z0-9_.]*[a-z0-9_]$")
]
MAX_BULK_ITEMS = 200_000


# --- read data --------------------------------------------------------------------------------


def _read_record(session: Session, entity: str, record_id: str) -> dict[str, Any]:
    if entity == "production_run":
        run = production.get_run(session, record_id)
        return ProductionRunRead.model_validate(run).model_dump(mode="json")
    if entity == "partner":
        partner = partners.get_partner(session, record_id)
        return PartnerSummary.model_validate(partner).model_dump(mode="json")
    design = catalog.get_design(session, record_id)
    return DesignSummary.model_validate(design).model_dump(mode="json")


class ReadDataOptions(OperationOptions):
    entity: Literal["production_run", "partner", "design"]
    id: Expression = Field(description="expression giving the record id, e.g. input.partner_id")
    fields: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=100, description="keep only these fields"
    )
    required: bool = Field(default=False, description="fail the step when the record is missing")


@operation
class ReadData(Operation[ReadDataOptions]):
    name = "read_data"
    description = "Read one production run, partner or design by id (an expression)."
    Options = ReadDataOptions

    def run(self, ctx: StepContext, options: ReadDataOptions) -> dict[str, Any]:
        record_id = ctx.evaluate(options.id)
        ctx.recorded_input["id"] = record_id
        if not record_id:
            if options.required:
                raise ValueError(f"{options.entity} id is empty")
            return {"found": False, "record": None}
        try:
            record = _read_record(ctx.session, options.entity, str(record_id))
        except NotFound:
            if options.required:
                raise
            return {"found": False, "record": None}
        if options.fields:
            record = {k: record.get(k) for k in options.fields}
        return {"found": True, "record": record}


# --- condition and transform ------------------------------------------------------------------


class ConditionOptions(OperationOptions):
    expression: Expression = Field(description="true to go on")
    on_false: Literal["stop", "continue"] = Field(
        default="stop", description="stop: end the execution as skipped; continue: go on"
    )
    reason: Annotated[str, StringConstraints(max_length=120)] = Field(
        default="condition_false", description="recorded as the skip reason"
    )


@operation
class Condition(Operation[ConditionOptions]):
    name = "condition"
    description = "Evaluate an expression; when false, end the execution as skipped (or go on)."
    Options = ConditionOptions

    def run(self, ctx: StepContext, options: ConditionOptions) -> dict[str, Any]:
        passed = bool(ctx.evaluate(options.expression))
        if not passed and options.on_false == "stop":
            raise StopFlow(options.reason, {"passed": False, "reason": options.reason})
        return {"passed": passed, "reason": None if passed else options.reason}


class TransformOptions(OperationOptions):
    values: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,63}$")], Expression
    ] = Field(min_length=1, max_length=100, description="output key → expression")


@operation
class Transform(Operation[TransformOptions]):
    name = "transform"
    description = "Compute named values from sandboxed expressions over earlier outputs."
    Options = TransformOptions

    def run(self, ctx: StepContext, options: TransformOptions) -> dict[str, Any]:
        return {key: ctx.evaluate(source) for key, source in options.values.items()}


# --- events -----------------------------------------------------------------------------------


class EmitEventOptions(OperationOptions):
    event_name: TextTemplate = Field(description="template, e.g. production_run.reminder_idle")
    payload: dict[str, Expression] = Field(
        default_factory=dict, max_length=100, description="payload key → expression"
    )


def _event_name(ctx: StepContext, template: str, **extra: Any) -> str:
    name = ctx.render(template, **extra).strip()
    if not name or len(name) > 120 or " " in name:
        raise ExpressionError(f"event name {name!r} is not valid")
    return name


@operation
class EmitEvent(Operation[EmitEventOptions]):
    name = "emit_event"
    description = "Emit one domain event through the outbox (delivered after the commit)."
    Options = EmitEventOptions

    def run(self, ctx: StepContext, options: EmitEventOptions) -> dict[str, Any]:
        event_name = _event_name(ctx, options.event_name)
        payload = {key: ctx.evaluate(source) for key, source in options.payload.items()}
        row = outbox.emit(ctx.session, event_name, payload)
        ctx.session.flush()
        return {"event_id": row.id, "event_name": event_name}


class BulkEmitOptions(OperationOptions):
    items: Expression = Field(description="expression giving a list, e.g. steps.policy.items")
    event_name: TextTemplate = Field(
        description="template per item, e.g. production_run.reminder_{{ item.bucket }}"
    )
    payload: dict[str, Expression] = Field(
        default_factory=dict,
        max_length=100,
        description="payload key → expression over `item` (and everything else)",
    )
    continue_on_error: bool = Field(default=True, description="a bad item does not stop the rest")
    max_items: int = Field(default=MAX_BULK_ITEMS, ge=1, le=MAX_BULK_ITEMS)


@operation
class BulkEmitEvents(Operation[BulkEmitOptions]):
    name = "bulk_emit_events"
    description = "Emit one event per item of a list; `continue_on_error` per item."
    Options = BulkEmitOptions

    def run(self, ctx: StepContext, options: BulkEmitOptions) -> dict[str, Any]:
        items = ctx.evaluate(options.items)
        if items is None:
            items = []
        if not isinstance(items, list | tuple):
            raise ValueError(f"items must be a list, got {type(items).__name__}")
        ctx.recorded_input["items_count"] = len(items)
        triggered = 0
        failures: list[dict[str, Any]] = []
        by_event: dict[str, int] = {}
        for index, item in enumerate(items[: options.max_items]):
            try:
                event_name = _event_name(ctx, options.event_name, item=item, index=index)
                payload = {
                    key: ctx.evaluate(source, item=item, index=index)
                    for key, source in options.payload.items()
                }
            except ExpressionError as exc:
                if not options.continue_on_error:
                    raise
                failures.append({"index": index, "error": str(exc)[:500]})
                continue
            outbox.emit(ctx.session, event_name, payload)
            by_event[event_name] = by_event.get(event_name, 0) + 1
            triggered += 1
        ctx.session.flush()
        return {
            "triggered": triggered,
            "failed": len(failures),
            "failures": failures,
            "by_event": by_event,
            "not_processed": max(0, len(items) - options.max_items),
        }


# --- log --------------------------------------------------------------------------------------


class LogOptions(OperationOptions):
    message: TextTemplate = Field(description="template of the log line")
    level: Literal["debug", "info", "warning", "error"] = "info"
    fields: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,63}$")], Expression
    ] = Field(default_factory=dict, max_length=50, description="structured fields → expression")


# LogRecord attributes an ``extra`` key must not shadow.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@operation
class Log(Operation[LogOptions]):
    name = "log"
    description = "Write one structured log line (e.g. a summary with counts)."
    Options = LogOptions

    def run(self, ctx: StepContext, options: LogOptions) -> dict[str, Any]:
        message = ctx.render(options.message)
        fields = {key: ctx.evaluate(source) for key, source in options.fields.items()}
        extra = {(f"field_{k}" if k in _RESERVED else k): v for k, v in fields.items()}
        extra.update(flow_id=ctx.flow_id, execution_id=ctx.execution_id)
        log.log(logging.getLevelName(options.level.upper()), message, extra=extra)
        return {"message": message, "level": options.level, "fields": fields}
