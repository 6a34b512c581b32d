"""Prepared reads: a prebuilt Core SELECT run straight on the DB-API cursor.

Executing a statement through SQLAlchemy's ``Connection.execute`` costs ~0.2 M instructions
before and after the driver's work (cache-key lookup, execution context, parameter processing,
``CursorResult`` metadata), measured with callgrind here; the SQLite driver itself answers a
primary-key look-up in a few thousand. The hot reads run 3–6 such statements per request.

A :class:`Prepared` wraps a module-level statement. For each dialect (and, for ``IN`` lists,
each list length rounded up to a power of two, the list padded with its last value, which
changes no result), it asks SQLAlchemy once for the SQL string, the parameter order and the
statement's own bound values (``construct_expanded_state``) and for the result columns' types;
each read then binds the caller's values in that order, runs the cursor, and applies the same
result processors SQLAlchemy would (``UTCDateTime``, ``Numeric``, booleans on SQLite).
Rows are named tuples: ``row[0]``, ``row.name``, ``row._mapping`` as with SQLAlchemy's rows.

It is only used where it is exact; the statement goes through SQLAlchemy when a bound parameter
has a bind processor, a result column name is not an identifier, or an ``IN`` list is empty.
Driver errors are raised as SQLAlchemy's ``DBAPIError`` subclasses (so ``OperationalError``
still means 503), and ``before_cursor_execute`` listeners (statement counters, the query-plan
test) see every statement.
"""

from __future__ import annotations

import json
import numbers
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, Executable, exc
from sqlalchemy.engine import Dialect

# Plans kept per statement and dialect: one per IN-list length bucket (powers of two).
_MAX_PLANS = 16


# A row of a read: SQLAlchemy's ``Row`` or a prepared read's named tuple (index, attribute and
# ``_mapping`` access alike).
ReadRow = Any


class ReadResult(Protocol):
    """What the hot reads use of a result (``CursorResult`` and :class:`_Rows` both have it)."""

    def first(self) -> Any: ...

    def all(self) -> Sequence[Any]: ...

    def scalar(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


# (index, processor) pairs of a result's columns; :meth:`_Plan.result_processors` gives two:
# those not called for a NULL, then those called for every value.
_Pairs = tuple[tuple[int, Callable[[Any], Any]], ...]
_Processors = tuple[_Pairs, _Pairs]


def _bucket(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


class _Plan:
    """The SQL of one statement for one dialect and one IN-list size."""

    __slots__ = (
        "base",
        "expanded",
        "expanding",
        "order",
        "plain",
        "positional",
        "processors",
        "row",
        "sql",
        "types",
    )

    def __init__(
        self,
        sql: str,
        order: tuple[str, ...],
        positional: bool,
        base: dict[str, Any],
        expanding: tuple[tuple[str, int], ...],
        row: Any,
        types: tuple[Any, ...],
    ) -> None:
        self.sql = sql
        self.order = order  # the statement's parameter names (in order, for positional drivers)
        self.positional = positional
        self.base = base
        self.expanding = expanding
        self.expanded = frozenset(name for name, _ in expanding)
        # No IN list and no literal parameter: the request's parameters are the statement's.
        self.plain = not expanding and not base
        self.row = row
        self.types = types
        # The columns' processors (see ``result_processors``); None until known (PostgreSQL's
        # depend on the cursor's column types, read at the first execution).
        self.processors: _Processors | None = None

    def parameters(self, params: dict[str, Any]) -> Any:
        if self.plain:
            if self.positional:
                return tuple([params[name] for name in self.order])
            return {name: params[name] for name in self.order}
        values = dict(self.base)
        for name, size in self.expanding:
            items = list(params[name])
            items.extend(items[-1:] * (size - len(items)))
            for index, item in enumerate(items, 1):
                values[f"{name}_{index}"] = item
        for name, value in params.items():
            if name not in self.expanded:
                values[name] = value
        if self.positional:
            return tuple(values[name] for name in self.order)
        return {name: values[name] for name in self.order}

    def result_processors(self, dialect: Dialect, description: Any) -> _Processors:
        """The columns' result processors: (those that turn NULL into NULL, the others). A
        page of runs holds hundreds of NULL timestamps; the first kind is not called for them
        (what the processor would have returned), the second is called for every value."""
        skip_null: list[tuple[int, Callable[[Any], Any]]] = []
        every: list[tuple[int, Callable[[Any], Any]]] = []
        for index, (type_, column) in enumerate(zip(self.types, description, strict=True)):
            processor = _sqlite_json(type_, dialect, column[1])
            if processor is None:
                processor = type_._cached_result_processor(dialect, column[1])
            if processor is not None:
                (skip_null if _keeps_null(processor) else every).append((index, processor))
        return tuple(skip_null), tuple(every)


def _sqlite_json(type_: Any, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
    """SQLAlchemy's processor of a JSON column on SQLite, in one function: the same steps
    (``None`` stays ``None``; the dialect's JSON deserializer; a number SQLite gave back
    as a number is kept) without its two wrapping functions (a page of runs parses hundreds of
    JSON values). ``None`` for any other type or dialect, or a JSON type of its own."""
    if dialect.name != "sqlite":
        return None
    from sqlalchemy.dialects.sqlite.base import _SQliteJson  # loaded with the dialect

    impl = type_.dialect_impl(dialect)
    if type(impl) is not _SQliteJson or impl._str_impl.result_processor(dialect, coltype):
        return None
    loads = dialect._json_deserializer or json.loads

    def process(value: Any) -> Any:
        if value is None:
            return None
        try:
            return loads(value)
        except TypeError:
            if isinstance(value, numbers.Number):
                return value
            raise

    return process


def _keeps_null(processor: Callable[[Any], Any]) -> bool:
    """Whether ``processor`` turns ``None`` into ``None`` (and does not fail on it)."""
    try:
        return processor(None) is None
    except Exception:
        return False


class _Rows:
    """The rows of one prepared read (the part of ``CursorResult`` the reads use)."""

    __slots__ = ("_cursor", "_every", "_plan", "_skip_null")

    def __init__(self, cursor: Any, plan: _Plan, processors: _Processors) -> None:
        self._cursor = cursor
        self._plan = plan
        self._skip_null, self._every = processors

    def _make(self, raw: Sequence[Any]) -> Any:
        # tuple.__new__ as the named tuple's own ``_make`` does, without its length check (the
        # cursor gives every row the statement's columns).
        if self._skip_null or self._every:
            values = list(raw)
            for index, processor in self._skip_null:
                value = values[index]
                if value is not None:
                    values[index] = processor(value)
            for index, processor in self._every:
                values[index] = processor(values[index])
            return tuple.__new__(self._plan.row, values)
        return tuple.__new__(self._plan.row, raw)

    def first(self) -> Any:
        raw = self._cursor.fetchone()
        self._cursor.close()
        return None if raw is None else self._make(raw)

    def scalar(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def all(self) -> list[Any]:
        raws = self._cursor.fetchall()
        self._cursor.close()
        return [self._make(raw) for raw in raws]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.all())


class Prepared:
    """A module-level SELECT for :func:`atelier.platform.rows.read_rows` (see the module doc)."""

    __slots__ = ("_compiled", "_fixed", "_plans", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[int, ...]], _Plan | None] = {}
        self._fixed: dict[str, _Plan] = {}
        self._compiled: dict[str, tuple[Any, tuple[str, ...]]] = {}

    def _plan(self, dialect: Dialect, params: dict[str, Any]) -> _Plan | None:
        fixed = self._fixed.get(dialect.name)
        if fixed is not None:  # no IN list: one plan per dialect
            return fixed
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            # The IN-list parameters, found once (not on every read).
            names = tuple(dict.fromkeys(b.key for b in compiled.binds.values() if b.expanding))
            found = self._compiled[dialect.name] = (compiled, names)
        compiled, expanding = found
        sizes = []
        for name in expanding:
            value = params.get(name)
            if not value:
                return None  # an empty IN list: SQLAlchemy renders its own empty-set form
            sizes.append(_bucket(len(value)))
        key = (dialect.name, tuple(sizes))
        if key in self._plans:
            return self._plans[key]
        plan = self._build(compiled, dialect, params, tuple(zip(expanding, sizes, strict=True)))
        if len(self._plans) < _MAX_PLANS:
            self._plans[key] = plan
        if plan is not None and not expanding:
            self._fixed[dialect.name] = plan
        return plan

    def _build(
        self,
        compiled: Any,
        dialect: Dialect,
        params: dict[str, Any],
        expanding: tuple[tuple[str, int], ...],
    ) -> _Plan | None:
        if compiled._bind_processors:
            return None
        names = [column.keyname for column in compiled._result_columns]
        if not names or not all(
            isinstance(n, str) and n.isidentifier() and not n.startswith("_") for n in names
        ):
            return None
        dummy = dict(params)
        for name, size in expanding:
            dummy[name] = [None] * size
        state = compiled.construct_expanded_state(dummy)
        user = set(params) | {f"{name}_{i}" for name, size in expanding for i in range(1, size + 1)}
        base = {k: v for k, v in state.parameters.items() if k not in user}
        positional = bool(dialect.positional)
        order = tuple(state.positiontup) if positional else tuple(state.parameters)
        # A name twice (``design_id`` of the run and of its design) is renamed ``_<index>``:
        # such a column is read by position, as SQLAlchemy refuses the ambiguous name.
        fields = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        row = type("Row", (fields,), {"__slots__": (), "_mapping": property(fields._asdict)})
        types = tuple(column.type for column in compiled._result_columns)
        return _Plan(state.statement, order, positional, base, expanding, row, types)

    def run(self, connection: Connection | Any, params: dict[str, Any]) -> ReadResult:
        """The rows of this statement with ``params`` on ``connection`` (in its transaction):
        a ``Connection``, or anything with what this uses of one (``dialect``, ``connection``,
        ``dispatch``, ``invalidate``, ``execute``: a read session's DB-API connection)."""
        dialect = connection.dialect
        plan = self._plan(dialect, params)
        if plan is None:
            return connection.execute(self.statement, params)
        fairy = connection.connection
        cursor = fairy.cursor()
        parameters = plan.parameters(params)
        listeners = connection.dispatch.before_cursor_execute
        if listeners:
            listeners(connection, cursor, plan.sql, parameters, None, False)
        try:
            cursor.execute(plan.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            cursor.close()
            if dialect.is_disconnect(error, fairy.dbapi_connection, cursor):
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                plan.sql,
                parameters,
                error,
                dialect.loaded_dbapi.Error,
                dialect=dialect,
            ) from error
        processors = plan.processors
        if processors is None:
            processors = plan.processors = plan.result_processors(dialect, cursor.description)
        return _Rows(cursor, plan, processors)
