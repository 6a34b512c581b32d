"""Hot reads without the ORM: select exactly the columns a response schema shows, turn each
row into the schema's dict, and encode the response body once.

A :class:`RowShape` is built once per (schema, model) at import time. Its ``columns`` go into a
Core ``select()``; ``of(row)`` makes the dict the schema would dump (field order, the ``metadata``
alias, ``default_factory`` for a NULL list/dict). :func:`json_response` encodes the finished body
with pydantic-core's encoder (the same datetime/decimal formats as ``model_dump(mode="json")``)
and returns it as a ``Response``, so FastAPI does not validate it again: the endpoint's
``response_model`` stays the OpenAPI contract, and tests compare the two paths.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json, to_jsonable_python
from sqlalchemy import Executable, inspect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Label
from starlette.responses import Response

from atelier.platform.prepared import Prepared, ReadResult
from atelier.platform.read_session import ReadSession


@dataclass(frozen=True, slots=True)
class RowShape:
    """The columns of ``model`` that ``schema`` shows, labelled ``<prefix><field>``."""

    names: tuple[str, ...]
    columns: tuple[Label[Any], ...]
    fill: tuple[tuple[int, Callable[[], Any]], ...]

    @classmethod
    def of_schema(
        cls,
        schema: type[BaseModel],
        model: type[Any],
        *,
        prefix: str = "",
        skip: Sequence[str] = (),
    ) -> RowShape:
        mapper_columns = inspect(model).columns
        names: list[str] = []
        columns: list[Label[Any]] = []
        fill: list[tuple[int, Callable[[], Any]]] = []
        for name, info in schema.model_fields.items():
            alias = info.validation_alias
            attribute = alias if isinstance(alias, str) else name
            if name in skip or attribute not in mapper_columns:
                continue
            if info.default_factory is not None:
                fill.append((len(names), info.default_factory))  # type: ignore[arg-type]
            names.append(name)
            columns.append(mapper_columns[attribute].label(prefix + name))
        return cls(tuple(names), tuple(columns), tuple(fill))

    def of(self, row: Sequence[Any], start: int = 0) -> dict[str, Any]:
        """The schema's dict from ``row[start:start + len(columns)]``; a NULL list/dict becomes
        the schema's default."""
        values = list(row[start : start + len(self.names)])
        for index, factory in self.fill:
            if values[index] is None:
                values[index] = factory()
        return dict(zip(self.names, values, strict=True))


class JsonResponse(Response):
    """An ``application/json`` response of bytes already encoded: Starlette's ``Response``
    with the headers ``init_headers`` would build (``content-length``, ``content-type``),
    built directly (the hot reads answer thousands of these a second)."""

    media_type = "application/json"

    def __init__(self, content: bytes, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = content
        self.raw_headers = [
            (b"content-length", b"%d" % len(content)),
            (b"content-type", b"application/json"),
        ]


def json_response(body: Any, status_code: int = 200) -> Response:
    """``body`` (plain dicts/lists of str, numbers, datetimes, decimals) encoded once."""
    if status_code < 200 or status_code in (204, 304):  # no content-length for these
        return Response(to_json(body), status_code=status_code, media_type="application/json")
    return JsonResponse(to_json(body), status_code)


def jsonable(body: Any) -> Any:
    """``body`` with JSON-mode values (what ``model_dump(mode="json")`` gives): for HTML pages."""
    return to_jsonable_python(body)


def read_rows(session: Session, statement: Executable | Prepared, **params: Any) -> ReadResult:
    """Execute a (prebuilt) Core statement on the session's connection: plain rows, no ORM
    loading; a :class:`~atelier.platform.prepared.Prepared` one straight on the DB-API cursor.
    Pending changes are flushed first, so the read sees them as ``session.execute`` would."""
    session.flush()
    if isinstance(statement, Prepared):
        if isinstance(session, ReadSession):
            return statement.run(session.read_connection(), params)
        return statement.run(session.connection(), params)
    return session.connection().execute(statement, params)
