"""One policy for decoding JSON request bodies, before any endpoint sees them.

A body is UTF-8 (a UTF-8 byte-order mark is allowed), standard JSON (no ``NaN``/``Infinity``
literals), nested at most :data:`MAX_DEPTH` arrays/objects deep, with finite numbers, integers of
at most 4,300 digits (Python's own limit) and Unicode strings (no unpaired surrogate escapes such
as ``"\\ud800"``, which no database column can store). Anything else is :class:`MalformedJson`,
which the API answers with ``422 validation_error`` (``type: json_invalid``), never 400 or 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Deep enough for any document the service stores (metadata, specifications, policies), far
# below the point where parsing, validation or serialisation would recurse out of stack.
MAX_DEPTH = 32


class MalformedJson(ValueError):
    """The body is not JSON the service accepts; ``str(exc)`` says why."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise MalformedJson(f"the number {text[:40]} is out of range")
    return value


def _check_tree(value: Any) -> None:
    """Depth and text checks on the parsed value, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise MalformedJson("a string holds an unpaired surrogate (not Unicode text)")
            continue
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise MalformedJson(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children)


def decode_json_body(raw: bytes) -> Any:
    """The JSON value in ``raw``; :class:`MalformedJson` when it breaks the policy above."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except MalformedJson:
        raise
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        # Nested deeper than the parser's stack allows (about a thousand levels).
        raise MalformedJson(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        # An integer longer than Python's digit limit.
        raise MalformedJson(str(exc).partition(";")[0] or "not valid JSON") from None
    _check_tree(value)
    return value
