"""Reading HTML form posts: the parsed form as a dependency and small typed getters.

Values go from here into the JSON API's own Pydantic schemas, so a form is validated exactly
like the equivalent JSON body; these helpers only turn browser conventions (empty fields,
checkboxes, one value per line) into Python values.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def form_data(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def text(form: FormData, name: str) -> str | None:
    """The field's stripped text; ``None`` when missing or empty."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def texts(form: FormData, name: str) -> list[str]:
    """Every non-empty value of a repeated field (a multiple select, checkboxes)."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def flag(form: FormData, name: str) -> bool:
    """A checkbox: checked when it sent ``1``, ``on`` or ``true``."""
    return text(form, name) in {"1", "on", "true"}


def comma_list(value: str | None) -> list[str]:
    """``"indigo, red"`` → ``["indigo", "red"]``."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def line_list(value: str | None) -> list[str]:
    """One item per non-empty line."""
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def key_values(value: str | None) -> dict[str, str]:
    """``key: value`` per line → a dict (a line without a colon becomes a key with "")."""
    out: dict[str, str] = {}
    for line in line_list(value):
        key, _, rest = line.partition(":")
        if key.strip():
            out[key.strip()] = rest.strip()
    return out


def key_value_text(data: object) -> str:
    """The inverse of :func:`key_values` for showing a stored dict in a textarea, by name (the
    stored order is not kept by PostgreSQL's JSONB, so the page does not pretend it is)."""
    if not isinstance(data, dict):
        return ""
    return "\n".join(f"{k}: {v}" for k, v in sorted(data.items()))
