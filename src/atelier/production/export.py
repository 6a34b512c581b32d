"""CSV export of the filtered admin run list, streamed in batches from its own session."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from atelier.platform.db import Database
from atelier.production import repository

COLUMNS = (
    "id",
    "status",
    "run_type",
    "quantity",
    "design_id",
    "design_name",
    "partner_id",
    "partner_name",
    "partner_handle",
    "role",
    "parent_run_id",
    "order_id",
    "order_line_item_id",
    "produced_quantity",
    "rejected_quantity",
    "partner_cost_estimate",
    "cost_type",
    "created_at",
    "updated_at",
    "accepted_at",
    "completed_at",
    "cancelled_at",
)
BATCH = 1000
# Spreadsheet apps execute cells starting with these; prefix them so a name stays text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def row_values(row: repository.RunRow) -> list[str]:
    extra = {
        "design_name": row.design_name,
        "partner_name": row.partner_name,
        "partner_handle": row.partner_handle,
    }
    return [_cell(extra[c] if c in extra else getattr(row.run, c)) for c in COLUMNS]


def csv_stream(database: Database, filters: repository.RunFilters) -> Iterator[str]:
    """Header row, then every matching run; the request's session is closed by now, so the
    stream reads through its own short read-only session."""
    yield _line(list(COLUMNS))
    session = database.new_session()
    try:
        offset = 0
        while True:
            rows = repository.page_rows(session, filters, limit=BATCH, offset=offset)
            if not rows:
                break
            yield "".join(_line(row_values(row)) for row in rows)
            offset += len(rows)
            session.expunge_all()
    finally:
        session.close()


CONSUMPTION_COLUMNS = (
    "id",
    "production_run_id",
    "design_id",
    "inventory_item_id",
    "quantity",
    "quantity_basis",
    "unit_of_measure",
    "unit_cost",
    "consumption_type",
    "consumed_by",
    "consumed_by_id",
    "consumed_at",
    "location_id",
    "is_committed",
    "committed_at",
    "notes",
)


def consumption_csv_stream(
    database: Database, *, run_id: str | None = None, design_id: str | None = None
) -> Iterator[str]:
    """Header row, then every consumption log of the run (or design), oldest first, in batches
    through its own read-only session (like the runs export)."""
    from atelier.inventory.consumption import list_consumption

    yield _line(list(CONSUMPTION_COLUMNS))
    session = database.new_session()
    try:
        offset = 0
        while True:
            logs, _ = list_consumption(
                session, run_id=run_id, design_id=design_id, limit=BATCH, offset=offset
            )
            if not logs:
                break
            yield "".join(
                _line([_cell(getattr(log, column)) for column in CONSUMPTION_COLUMNS])
                for log in logs
            )
            offset += len(logs)
            session.expunge_all()
    finally:
        session.close()
