"""Flow definitions in and out of the API; steps are validated against the registry on save."""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from atelier.flows.models import FlowStatus, TriggerType
from atelier.flows.registry import registry
from atelier.platform.scheduler import validate_cron
from atelier.platform.schemas import InputSchema, ListEnvelope, LongText, Name, OutputSchema

MAX_STEPS = 50
StepKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
OperationName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
EventPattern = Annotated[
    str, StringConstraints(min_length=1, max_length=120, pattern=r"^[a-z0-9_.*?\[\]-]+$")
]


class StepDefinition(InputSchema):
    key: StepKey
    operation: OperationName
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_operation_and_valid_options(self) -> StepDefinition:
        try:
            parsed = registry.validate_options(self.operation, self.options)
        except KeyError:
            known = ", ".join(registry.names())
            raise ValueError(f"unknown operation {self.operation!r} (known: {known})") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(options)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(f"invalid options for {self.operation}: {problems}") from None
        # Store what the operation understood (defaults filled in), so reads show them.
        self.options = parsed.model_dump(mode="json", exclude_unset=False)
        return self


class ScheduleTrigger(InputSchema):
    cron: Annotated[str, StringConstraints(max_length=120)]
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return validate_cron(" ".join(value.split()))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class EventTrigger(InputSchema):
    event_pattern: EventPattern

    @field_validator("event_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        fnmatch.translate(value)  # any fnmatch pattern compiles; the regex above bounds it
        return value


def parse_trigger(trigger_type: TriggerType, config: dict[str, Any]) -> dict[str, Any]:
    """The validated trigger config for ``trigger_type`` (ValueError when it does not fit)."""
    if trigger_type is TriggerType.SCHEDULE:
        return ScheduleTrigger.model_validate(config).model_dump(exclude_none=True)
    if trigger_type is TriggerType.EVENT:
        return EventTrigger.model_validate(config).model_dump()
    if config:
        raise ValueError("a manual flow takes no trigger_config")
    return {}


def _unique_keys(steps: list[StepDefinition]) -> list[StepDefinition]:
    seen: set[str] = set()
    for step in steps:
        if step.key in seen:
            raise ValueError(f"step key {step.key!r} is used twice")
        seen.add(step.key)
    return steps


class FlowCreate(InputSchema):
    name: Name
    description: LongText | None = None
    status: FlowStatus = FlowStatus.DRAFT
    trigger_type: TriggerType = TriggerType.MANUAL
    trigger_config: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepDefinition] = Field(default_factory=list, max_length=MAX_STEPS)

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[StepDefinition]) -> list[StepDefinition]:
        return _unique_keys(value)

    @model_validator(mode="after")
    def _trigger(self) -> FlowCreate:
        self.trigger_config = parse_trigger(self.trigger_type, self.trigger_config)
        return self


class FlowUpdate(InputSchema):
    """Every field optional; the trigger is re-validated whenever type or config is given."""

    name: Name | None = None
    description: LongText | None = None
    status: FlowStatus | None = None
    trigger_type: TriggerType | None = None
    trigger_config: dict[str, Any] | None = None
    steps: list[StepDefinition] | None = Field(default=None, max_length=MAX_STEPS)

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[StepDefinition] | None) -> list[StepDefinition] | None:
        return None if value is None else _unique_keys(value)


class ExecuteRequest(InputSchema):
    input: dict[str, Any] | None = None


class StepRead(OutputSchema):
    key: str
    operation: str
    options: dict[str, Any]


class FlowRead(OutputSchema):
    id: str
    name: str
    description: str | None
    status: str
    trigger_type: str
    trigger_config: dict[str, Any]
    steps: list[StepRead]
    activated_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class FlowEnvelope(OutputSchema):
    flow: FlowRead


class FlowList(ListEnvelope[FlowRead]):
    items: list[FlowRead] = Field(alias="flows")


class ExecutionStepRead(OutputSchema):
    key: str
    operation: str
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class ExecutionRead(OutputSchema):
    id: str
    flow_id: str
    flow_version: int
    status: str
    triggered_by: str
    input: dict[str, Any]
    error: str | None
    failed_step: str | None
    started_at: datetime
    finished_at: datetime | None
    steps: list[ExecutionStepRead] = Field(default_factory=list)


class ExecutionEnvelope(OutputSchema):
    execution: ExecutionRead


class ExecutionList(ListEnvelope[ExecutionRead]):
    items: list[ExecutionRead] = Field(alias="executions")


class OperationRead(OutputSchema):
    name: str
    description: str
    options_schema: dict[str, Any]


class OperationList(OutputSchema):
    operations: list[OperationRead]
