"""Sandboxed Jinja2 expressions over a flow's input and earlier step outputs.

``evaluate("steps.classify.items")`` returns the native value; ``render("Run {{ input.id }}")``
returns a string. The sandbox refuses attribute access to internals (``__class__`` ...), there is
no ``eval``/``exec`` and no import: an operator can shape data, not run code.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import AfterValidator

MAX_SOURCE = 4000
MAX_POWER = 64
MAX_SEQUENCE = 1_000_000


class ExpressionError(ValueError):
    """An expression that does not compile or fails while evaluating."""


class _DataSandbox(ImmutableSandboxedEnvironment):
    """Sandboxed and immutable; ``a.items`` on a dict means its ``items`` key, not the method."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        # Bound the two operators that can build huge values from small expressions.
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_POWER:
            raise ExpressionError(f"exponents are limited to {MAX_POWER}")
        if operator == "*":
            sequence, times = (left, right) if isinstance(right, int) else (right, left)
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and len(sequence) * times > MAX_SEQUENCE
            ):
                raise ExpressionError(f"sequences are limited to {MAX_SEQUENCE} items")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


class _NativeSandbox(_DataSandbox, NativeEnvironment):
    """The data sandbox, returning native Python values instead of strings."""


def _days_between(start: Any, end: Any) -> int:
    return int((end - start).total_seconds() // 86400)


def _make_env(native: bool) -> _DataSandbox:
    cls = _NativeSandbox if native else _DataSandbox
    env = cls(undefined=StrictUndefined, autoescape=False)
    env.globals.update(
        {
            "len": len,
            "min": min,
            "max": max,
            "sorted": sorted,
            "sum": sum,
            "abs": abs,
            "round": round,
            "int": int,
            "str": str,
            "days_between": _days_between,
        }
    )
    return env


_NATIVE = _make_env(native=True)
_TEXT = _make_env(native=False)


@lru_cache(maxsize=512)
def _compiled_expression(source: str) -> Any:
    try:
        return _NATIVE.compile_expression(source, undefined_to_none=False)
    except TemplateError as exc:
        raise ExpressionError(f"invalid expression {source!r}: {exc}") from exc


@lru_cache(maxsize=512)
def _compiled_template(source: str) -> Any:
    try:
        return _TEXT.from_string(source)
    except TemplateError as exc:
        raise ExpressionError(f"invalid template {source!r}: {exc}") from exc


def check_expression(source: str) -> str:
    """``source`` when it compiles as an expression; ExpressionError (a ValueError) otherwise."""
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"expressions are limited to {MAX_SOURCE} characters")
    _compiled_expression(source)
    return source


def check_template(source: str) -> str:
    """``source`` when it compiles as a text template."""
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"templates are limited to {MAX_SOURCE} characters")
    _compiled_template(source)
    return source


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """The native value of expression ``source`` in ``context``."""
    compiled = _compiled_expression(source)
    try:
        value = compiled(**context)
    except Exception as exc:  # the sandbox raises SecurityError, undefined names UndefinedError
        raise ExpressionError(f"{source!r}: {type(exc).__name__}: {exc}") from exc
    _reject_undefined(source, value)
    return value


def _reject_undefined(source: str, value: Any, depth: int = 0) -> None:
    """A missing name or key is an error, also inside a list or dict the expression built."""
    if isinstance(value, Undefined):
        raise ExpressionError(f"{source!r}: {value._undefined_message}")
    if depth > 3:
        return
    if isinstance(value, list | tuple):
        for item in value:
            _reject_undefined(source, item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _reject_undefined(source, item, depth + 1)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Template ``source`` rendered as text in ``context``."""
    compiled = _compiled_template(source)
    try:
        return str(compiled.render(**context))
    except Exception as exc:
        raise ExpressionError(f"{source!r}: {type(exc).__name__}: {exc}") from exc


# Option field types: validated (compiled) when a flow is saved.
Expression = Annotated[str, AfterValidator(check_expression)]
TextTemplate = Annotated[str, AfterValidator(check_template)]
