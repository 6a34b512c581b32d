"""The operation registry: typed operations a flow step can name, each with an options model.

An operation is a class with a ``name``, a Pydantic ``Options`` model (validated when a flow is
saved, so a bad step is a 422, not a failure at 10:00 the next morning) and ``run(ctx, options)``
returning a JSON-ready dict that later steps read as ``steps.<key>``. Domains above flows
register their own operations (reminders, notifications sends) by importing this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from atelier.flows import expressions
from atelier.platform.settings import Settings


class OperationOptions(BaseModel):
    """Base of every options model: unknown keys are refused (a typo is a 422 on save)."""

    model_config = ConfigDict(extra="forbid")


OptionsT = TypeVar("OptionsT", bound=OperationOptions)


class StopFlow(Exception):
    """Raised by a step to end the execution early as ``skipped`` (not failed)."""

    def __init__(self, reason: str, output: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.output = output or {}


@dataclass
class StepContext:
    """What a running step can see: the session, the input, earlier outputs, the clock."""

    session: Session
    settings: Settings
    flow_id: str
    flow_name: str
    execution_id: str
    triggered_by: str
    now: datetime
    input: Mapping[str, Any]
    # ``{id, name}`` of the triggering event (empty for schedule and manual runs).
    event: Mapping[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)
    # Resolved values a step wants recorded as its input (besides its options).
    recorded_input: dict[str, Any] = field(default_factory=dict)

    def scope(self, **extra: Any) -> dict[str, Any]:
        """Names an expression can read: ``input``, ``event``, ``steps``, ``flow``, ``now``,
        ``trigger``."""
        return {
            "input": self.input,
            "event": self.event,
            "steps": self.steps,
            "flow": {"id": self.flow_id, "name": self.flow_name},
            "now": self.now,
            "trigger": self.triggered_by,
            **extra,
        }

    def evaluate(self, source: str, **extra: Any) -> Any:
        return expressions.evaluate(source, self.scope(**extra))

    def render(self, source: str, **extra: Any) -> str:
        return expressions.render(source, self.scope(**extra))


class Operation(Generic[OptionsT]):
    """Subclass, set ``name``/``description``/``Options``, implement ``run``."""

    name: ClassVar[str]
    description: ClassVar[str]
    Options: type[OptionsT]

    def run(self, ctx: StepContext, options: OptionsT) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class OperationInfo:
    name: str
    description: str
    options_schema: dict[str, Any]


class OperationRegistry:
    def __init__(self) -> None:
        self._operations: dict[str, Operation[Any]] = {}

    def register(self, cls: type[Operation[Any]]) -> type[Operation[Any]]:
        self._operations[cls.name] = cls()
        return cls

    def get(self, name: str) -> Operation[Any] | None:
        return self._operations.get(name)

    def names(self) -> list[str]:
        return sorted(self._operations)

    def describe(self) -> list[OperationInfo]:
        return [
            OperationInfo(op.name, op.description, op.Options.model_json_schema())
            for _, op in sorted(self._operations.items())
        ]

    def validate_options(self, name: str, options: Mapping[str, Any]) -> OperationOptions:
        """The parsed options; KeyError for an unknown operation, ValidationError for bad ones."""
        op = self._operations.get(name)
        if op is None:
            raise KeyError(name)
        parsed: OperationOptions = op.Options.model_validate(dict(options))
        return parsed


registry = OperationRegistry()


def operation(cls: type[Operation[Any]]) -> type[Operation[Any]]:
    """Class decorator: register an operation by its ``name``."""
    return registry.register(cls)
