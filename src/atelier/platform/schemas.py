"""Shared Pydantic building blocks: bounded strings and numbers, metadata, pagination."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from atelier.platform.numbers import plain_decimal

MAX_METADATA_BYTES = 16 * 1024


S = TypeVar("S", str, str | None)


def no_nul(value: S) -> S:
    """Refuse NUL characters (PostgreSQL text cannot store them); use as an AfterValidator."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _lower_stripped(value: Any) -> Any:
    # Normalise before the pattern runs, so "Loom-House" is the handle "loom-house".
    return value.strip().lower() if isinstance(value, str) else value


def _bounded_json(value: Any) -> Any:
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ValueError("must be JSON-serialisable without NaN or Infinity") from exc
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")
    if "\\u0000" in encoded or "\x00" in encoded:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(no_nul),
]
ShortText = Annotated[str, StringConstraints(max_length=500), AfterValidator(no_nul)]
LongText = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(no_nul)]
Handle = Annotated[
    str,
    BeforeValidator(_lower_stripped),
    StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"),
]
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(no_nul)]
Email = Annotated[
    str,
    BeforeValidator(_lower_stripped),
    StringConstraints(max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9]{6,14}$")]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    AfterValidator(no_nul),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]

# Numbers and booleans in JSON request bodies are JSON numbers and JSON booleans: ``true``,
# ``"3"`` and ``3.5`` for an integer, or ``"yes"`` and ``1`` for a boolean, are 422 (pydantic's
# lax mode would coerce them). The rule applies while validating JSON input (``json_input()``:
# every JSON request body, the order webhooks); HTML forms and query parameters arrive as text
# and keep the usual coercion. A boolean is never a number, from any source.
_JSON_INPUT: ContextVar[bool] = ContextVar("atelier_json_input", default=False)


@contextmanager
def json_input() -> Iterator[None]:
    """Validate what runs inside as JSON input (strict numbers and booleans)."""
    token = _JSON_INPUT.set(True)
    try:
        yield
    finally:
        _JSON_INPUT.reset(token)


def json_number(value: Any) -> Any:
    """A number: never a boolean, and not a string in JSON input."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str) and _JSON_INPUT.get():
        raise ValueError("must be a JSON number, not a string")
    return value


def json_integer(value: Any) -> Any:
    """An integer: what :func:`json_number` refuses, and in JSON input a number written with a
    fraction or an exponent (``3.0``, ``3e0``) too, which Python reads as a float."""
    value = json_number(value)
    if isinstance(value, float) and _JSON_INPUT.get():
        raise ValueError("must be a JSON integer")
    return value


def json_boolean(value: Any) -> Any:
    """A boolean: only ``true``/``false`` in JSON input."""
    if _JSON_INPUT.get() and not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def refuse_bool(value: Any) -> Any:
    """Refuse JSON booleans where a number is expected (``True`` is an ``int`` in Python)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


BodyInt = Annotated[int, BeforeValidator(json_integer)]
BodyFloat = Annotated[float, BeforeValidator(json_number), Field(allow_inf_nan=False)]
BodyBool = Annotated[bool, BeforeValidator(json_boolean)]
# Money and other exact decimals: a number or a decimal string ("12.50"), never a boolean.
# Written out in full (``1e3`` is ``1000``): money and amounts are echoed as plain decimals.
BodyDecimal = Annotated[Decimal, BeforeValidator(refuse_bool), AfterValidator(plain_decimal)]

Quantity = Annotated[BodyInt, Field(ge=1, le=1_000_000_000)]
NonNegativeQuantity = Annotated[BodyInt, Field(ge=0, le=1_000_000_000)]
Amount = Annotated[BodyFloat, Field(gt=0, le=1_000_000_000)]
Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
JsonList = Annotated[list[Any], AfterValidator(_bounded_json)]


class InputSchema(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class OutputSchema(BaseModel):
    """Responses, built from ORM objects."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class Page(BaseModel):
    """Validated ``limit``/``offset`` query parameters."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10_000_000)


T = TypeVar("T")


class ListEnvelope(OutputSchema, Generic[T]):
    """One page of a list: the items (under the resource's plural name), then the total
    ``count`` for the filters and the ``limit``/``offset`` that cut the page.

    A list names its items by aliasing the field::

        class DesignList(ListEnvelope[DesignSummary]):
            items: list[DesignSummary] = Field(alias="designs")

    Build one with :meth:`of`, or validate a dict keyed by the alias.
    """

    items: list[T]
    count: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Iterable[Any], count: int, *, limit: int, offset: int) -> Self:
        """The page of ``items`` (ORM objects or dicts) out of ``count``."""
        return cls.model_validate(
            {"items": list(items), "count": count, "limit": limit, "offset": offset}
        )


class Deleted(OutputSchema):
    """What a DELETE answers: which object is gone."""

    id: str
    object: str
    deleted: bool = True
