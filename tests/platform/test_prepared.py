"""Prepared reads (``platform.prepared``) give what SQLAlchemy gives for the same statement:
the same rows and values (timestamps, JSON, decimals), through the same listeners and errors;
and every prepared statement of the app runs on the cursor, not through the fallback."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import (
    String,
    TypeDecorator,
    column,
    event,
    exc,
    literal_column,
    select,
    table,
    type_coerce,
)
from sqlalchemy.orm import Session

from atelier.catalog import repository as catalog_repository
from atelier.platform.db import Database, JSONType, UTCDateTime
from atelier.platform.prepared import Prepared
from atelier.production import repository as production_repository
from atelier.production import repository_reads
from atelier.production.repository import RunFilters
from atelier.tasks import repository as tasks_repository
from tests.production.read_support import Split


def _cases(split: Split) -> list[tuple[str, Prepared, dict[str, Any]]]:
    """Every prepared statement of the app with parameters that find rows in the split."""
    run_ids = [split.first, split.other_first, split.second, split.parent["id"]]
    cases: list[tuple[str, Prepared, dict[str, Any]]] = [
        ("design", catalog_repository._DESIGN_ROW, {"design_id": split.design["id"]}),
        ("linked partners", catalog_repository._LINKED_PARTNERS, {"design_id": split.design["id"]}),
        ("bom", catalog_repository._BOM_LINES, {"design_id": split.design["id"]}),
        ("tasks", tasks_repository._RUN_TASKS, {"run_id": split.first}),
        ("comments", tasks_repository._RUN_COMMENTS, {"run_id": split.first}),
        ("policy", production_repository._POLICY_DOCUMENT, {"key": "lifecycle"}),
        (
            "partner run",
            repository_reads._PARTNER_RUN,
            {"run_id": split.first, "partner_id": split.cutter.id},
        ),
        ("admin run", repository_reads._ADMIN_RUN, {"run_id": split.first}),
        (
            "family",
            repository_reads._FAMILY_OF_RUN,
            {"run_id": split.parent["id"], "parent_id": None},
        ),
        ("reminders", repository_reads._REMINDERS, {"run_id": split.first}),
    ]
    for size in (1, 2, 3, 5):
        cases.append(
            (f"progress of {size}", tasks_repository._PROGRESS, {"run_ids": run_ids[:size] * 2})
        )
        cases.append(
            (f"statuses of {size}", repository_reads._STATUSES, {"run_ids": run_ids[:size]})
        )
    for key, statement in repository_reads._RELATIVES.items():
        cases.append(
            (
                f"relatives {key}",
                statement,
                {"parent_id": split.parent["id"], "dependency_ids": [split.first, split.second]},
            )
        )
    for filters in [(), ("status",), ("status", "run_type", "role")]:
        count, page = repository_reads._partner_page(filters)
        params = {"partner_id": split.cutter.id, "status": "in_progress"}
        params |= {"run_type": "production", "role": "cutting"}
        params = {k: v for k, v in params.items() if k == "partner_id" or k in filters}
        cases.append((f"partner count {filters}", count, params))
        cases.append((f"partner page {filters}", page, {**params, "limit": 10, "offset": 0}))
    admin_lists = [
        RunFilters(),
        RunFilters(statuses=("in_progress", "sent_to_partner", "approved"), include_children=True),
        RunFilters(partner_id=split.cutter.id, include_children=True, sort="quantity"),
        RunFilters(parent_run_id=split.parent["id"], descending=False),
        RunFilters(design_id=split.design["id"], run_type="production", sort="updated_at"),
    ]
    for filters in admin_lists:
        page, count = production_repository._general_statements(
            production_repository._shape(filters)
        )
        params = {
            name: getattr(filters, name)
            for name in production_repository._VALUE_FILTERS
            if getattr(filters, name)
        }
        if filters.statuses:
            params["statuses"] = list(filters.statuses)
        cases.append((f"admin list count {filters}", count, params))
        cases.append((f"admin list page {filters}", page, {**params, "limit": 50, "offset": 0}))
    return cases


def test_prepared_rows_equal_sqlalchemy_rows(session: Session, split: Split) -> None:
    found_rows = 0
    for name, prepared, params in _cases(split):
        connection = session.connection()
        assert prepared._plan(connection.dialect, params) is not None, f"{name} fell back"
        fast = prepared.run(connection, params).all()
        slow = connection.execute(prepared.statement, params).all()
        assert [tuple(row) for row in fast] == [tuple(row) for row in slow], name
        for one, two in zip(fast, slow, strict=True):
            for key in two._fields:
                if list(two._fields).count(key) == 1:
                    assert getattr(one, key) == getattr(two, key), (name, key)
                    assert one._mapping[key] == two._mapping[key], (name, key)
        found_rows += len(fast)
    assert found_rows > 40  # the split has runs, tasks, subtasks, comments, BOM lines, partners


def test_first_scalar_and_missing_rows(session: Session, split: Split) -> None:
    connection = session.connection()
    design = catalog_repository._DESIGN_ROW
    row = design.run(connection, {"design_id": split.design["id"]}).first()
    assert row is not None and row.id == split.design["id"]
    assert design.run(connection, {"design_id": "des_missing"}).first() is None
    count, _ = repository_reads._partner_page(())
    assert count.run(connection, {"partner_id": split.cutter.id}).scalar() == 1
    assert count.run(connection, {"partner_id": "partner_missing"}).scalar() == 0


def test_an_empty_in_list_goes_through_sqlalchemy(session: Session) -> None:
    connection = session.connection()
    statuses = repository_reads._STATUSES
    assert statuses._plan(connection.dialect, {"run_ids": []}) is None
    assert statuses.run(connection, {"run_ids": []}).all() == []


def test_listeners_see_the_statement_and_its_parameters(
    db: Database, session: Session, split: Split
) -> None:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        catalog_repository._DESIGN_ROW.run(
            session.connection(), {"design_id": split.design["id"]}
        ).all()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    [(statement, parameters)] = seen
    assert statement.lstrip().upper().startswith("SELECT")
    values = parameters.values() if isinstance(parameters, dict) else parameters
    assert split.design["id"] in values


def test_driver_errors_are_sqlalchemy_errors(db: Database) -> None:
    broken = Prepared(select(column("x")).select_from(table("no_such_table")))
    session = db.new_session()
    try:
        with pytest.raises(exc.DBAPIError) as raised:
            broken.run(session.connection(), {}).all()
        assert isinstance(raised.value, exc.OperationalError | exc.ProgrammingError)
    finally:
        session.rollback()
        session.close()
    # The pool's connection is still good for the next read.
    with db.session(write=False) as again:
        assert again.connection().exec_driver_sql("SELECT 1").scalar() == 1


class _NullToText(TypeDecorator[str]):
    """A type whose result processor turns NULL into a value."""

    impl = String()
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str:
        return "none" if value is None else f"<{value}>"


def test_processors_that_do_not_keep_null_still_see_it(session: Session) -> None:
    """NULL skips only the processors that turn it into NULL; a number in a JSON column (what
    SQLite's own processor keeps) and NULL JSON come back as SQLAlchemy gives them."""
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    document = "'[1, {\"a\": null}]'" + ("" if sqlite else "::jsonb")
    statement = select(
        type_coerce(literal_column("NULL"), _NullToText()).label("empty"),
        type_coerce(literal_column("'x'"), _NullToText()).label("text"),
        type_coerce(literal_column("NULL"), JSONType).label("no_json"),
        type_coerce(literal_column(document), JSONType).label("json"),
        type_coerce(literal_column("NULL"), UTCDateTime()).label("no_time"),
    )
    if sqlite:
        statement = statement.add_columns(
            type_coerce(literal_column("5"), JSONType).label("number")
        )
    prepared = Prepared(statement)
    assert prepared._plan(connection.dialect, {}) is not None
    fast = prepared.run(connection, {}).all()
    slow = connection.execute(statement).all()
    assert [tuple(row) for row in fast] == [tuple(row) for row in slow]
    assert fast[0][:5] == ("none", "<x>", None, [1, {"a": None}], None)
