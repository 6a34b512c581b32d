"""Problem codes come from each domain's ``errors.py`` (StrEnum members), never string literals.

Clients and tests match on codes, so one definition per code keeps a typo from shipping a new
code silently. This walks every module under ``src/atelier`` and fails on a ``code="..."`` or
``error_code="..."`` keyword argument with a literal string.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "atelier"
CODE_KEYWORDS = frozenset({"code", "error_code"})


def literal_codes(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if (
                keyword.arg in CODE_KEYWORDS
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                found.append(f"{name}:{value.lineno} {keyword.arg}={value.value!r}")
    return found


def test_no_literal_problem_codes() -> None:
    offenders = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        for hit in literal_codes(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))
    ]
    assert offenders == [], "use the domain's errors.py code enum:\n" + "\n".join(offenders)


def test_the_check_sees_a_literal_and_passes_an_enum_member() -> None:
    source = (
        'raise NotFound("gone", code="thing_not_found")\n'
        "raise NotFound('gone', code=ThingCode.NOT_FOUND)\n"
        'record(error_code="outcome_unknown")\n'
    )
    assert literal_codes(source, "m.py") == [
        "m.py:1 code='thing_not_found'",
        "m.py:3 error_code='outcome_unknown'",
    ]
