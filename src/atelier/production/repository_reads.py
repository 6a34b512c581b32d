"""SQL of the hot run reads (the partner run detail and list, the admin run detail): Core
``select()``s of exactly the columns the responses show, a fixed number of statements per
request; the statements are built once, at import.

Rows come back as plain tuples; ``RUN_SHAPE.of(row)`` makes the ``ProductionRunRead`` dict.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Row, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from atelier.catalog.models import Design
from atelier.partners.models import Partner
from atelier.platform.prepared import Prepared, ReadRow
from atelier.platform.rows import RowShape, read_rows
from atelier.production.lifecycle_schemas import DesignView, RelatedRun
from atelier.production.models import ProductionRun, RunReminder
from atelier.production.schemas import ProductionRunRead, RunReminderRead, RunSummary

RUN_SHAPE = RowShape.of_schema(ProductionRunRead, ProductionRun)
DESIGN_SHAPE = RowShape.of_schema(DesignView, Design, prefix="design_")
# A relative (parent, sibling, dependency): what ``RelatedRun`` shows, plus its parent.
RELATIVE_SHAPE = RowShape.of_schema(RelatedRun, ProductionRun)


_PARTNER_RUN = Prepared(
    select(*RUN_SHAPE.columns, *DESIGN_SHAPE.columns)
    .join(Design, Design.id == ProductionRun.design_id)
    .where(
        ProductionRun.id == bindparam("run_id"),
        ProductionRun.partner_id == bindparam("partner_id"),
    )
)


def partner_run_row(session: Session, run_id: str, partner_id: str) -> ReadRow | None:
    """The partner's run (``RUN_SHAPE``) followed by its design (``DESIGN_SHAPE``); ``None``
    when the run is unknown or not the partner's."""
    return read_rows(session, _PARTNER_RUN, run_id=run_id, partner_id=partner_id).first()


def _relatives(*conditions: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    return (
        select(*RELATIVE_SHAPE.columns, ProductionRun.parent_run_id)
        .where(or_(*conditions))
        .order_by(ProductionRun.sequence, ProductionRun.created_at, ProductionRun.id)
    )


_FAMILY = (
    ProductionRun.id == bindparam("parent_id"),
    ProductionRun.parent_run_id == bindparam("parent_id"),
)
_DEPENDENCIES = ProductionRun.id.in_(bindparam("dependency_ids", expanding=True))
_RELATIVES = {
    (True, False): Prepared(_relatives(*_FAMILY)),
    (True, True): Prepared(_relatives(*_FAMILY, _DEPENDENCIES)),
    (False, True): Prepared(_relatives(_DEPENDENCIES)),
}


def relatives(
    session: Session, parent_id: str | None, dependency_ids: Sequence[str]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """In one statement: the parent and its children (when ``parent_id``) and the runs in
    ``dependency_ids``, in dispatch order (``RELATIVE_SHAPE`` columns, then parent_run_id)."""
    statement = _RELATIVES.get((parent_id is not None, bool(dependency_ids)))
    if statement is None:
        return []
    params = {"parent_id": parent_id, "dependency_ids": list(dependency_ids)}
    return read_rows(session, statement, **params).all()


_PARTNER_FILTERS = (
    ("status", ProductionRun.status),
    ("run_type", ProductionRun.run_type),
    ("role", ProductionRun.role),
)


@functools.cache
def _partner_page(filters: tuple[str, ...]) -> tuple[Prepared, Prepared]:
    """The (count, page) statements of a partner's runs for the filters given, built once."""
    conditions = [ProductionRun.partner_id == bindparam("partner_id")]
    conditions += [
        column == bindparam(name) for name, column in _PARTNER_FILTERS if name in filters
    ]
    count = select(func.count(ProductionRun.id)).where(*conditions)
    # The page's (id, created_at) first, sorted and cut on the covering partner index; then
    # only its runs are read whole (sorting the partner's every run with all its columns
    # cost ~1.4x as much on the 100k-run dataset).
    keys = (
        select(ProductionRun.id, ProductionRun.created_at)
        .where(*conditions)
        .order_by(ProductionRun.created_at.desc(), ProductionRun.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    page = (
        select(*RUN_SHAPE.columns, Design.name, Design.thumbnail_url)
        .select_from(keys)
        .join(ProductionRun, ProductionRun.id == keys.c.id)
        .join(Design, Design.id == ProductionRun.design_id)
        .order_by(keys.c.created_at.desc(), keys.c.id.desc())
    )
    return Prepared(count), Prepared(page)


def partner_runs_rows(
    session: Session,
    partner_id: str,
    *,
    status: str | None,
    run_type: str | None,
    role: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Row[*tuple[Any, ...]]], int]:
    """A partner's runs newest first (``RUN_SHAPE`` columns, then design name and thumbnail)
    and the total count for the filters."""
    given = {"status": status, "run_type": run_type, "role": role}
    params = {name: value for name, value in given.items() if value is not None}
    count, page = _partner_page(tuple(params))
    total = read_rows(session, count, partner_id=partner_id, **params).scalar()
    rows = read_rows(
        session, page, partner_id=partner_id, limit=limit, offset=offset, **params
    ).all()
    return rows, int(total or 0)


# --- the admin run detail ---------------------------------------------------------------------

SUMMARY_SHAPE = RowShape.of_schema(RunSummary, ProductionRun)
REMINDER_SHAPE = RowShape.of_schema(RunReminderRead, RunReminder)
_PARTNER = aliased(Partner)
_PREVIOUS = aliased(Partner)
# A run with its names: ``RUN_SHAPE``, then design name, partner name and handle, then the
# previous partner's name and handle.
_NAMED_RUN = (
    select(
        *RUN_SHAPE.columns,
        Design.name,
        _PARTNER.name,
        _PARTNER.handle,
        _PREVIOUS.name,
        _PREVIOUS.handle,
    )
    .outerjoin(Design, Design.id == ProductionRun.design_id)
    .outerjoin(_PARTNER, _PARTNER.id == ProductionRun.partner_id)
    .outerjoin(_PREVIOUS, _PREVIOUS.id == ProductionRun.previous_partner_id)
)
_ADMIN_RUN = Prepared(_NAMED_RUN.where(ProductionRun.id == bindparam("run_id")))
# The run's children and its parent, children by sequence (NULL first), oldest first.
_FAMILY_OF_RUN = Prepared(
    _NAMED_RUN.where(
        or_(
            ProductionRun.parent_run_id == bindparam("run_id"),
            ProductionRun.id == bindparam("parent_id"),
        )
    ).order_by(
        ProductionRun.sequence.asc().nulls_first(), ProductionRun.created_at, ProductionRun.id
    )
)
_STATUSES = Prepared(
    select(ProductionRun.id, ProductionRun.status).where(
        ProductionRun.id.in_(bindparam("run_ids", expanding=True))
    )
)
_REMINDERS = Prepared(
    select(*REMINDER_SHAPE.columns)
    .where(RunReminder.run_id == bindparam("run_id"))
    .order_by(RunReminder.bucket)
)


def named_run(session: Session, run_id: str) -> ReadRow | None:
    """The run (``RUN_SHAPE``), then design name, partner name and handle, previous partner
    name and handle; ``None`` when unknown."""
    return read_rows(session, _ADMIN_RUN, run_id=run_id).first()


def family_of_run(
    session: Session, run_id: str, parent_id: str | None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The run's children and its parent (``named_run`` columns) in one statement."""
    return read_rows(session, _FAMILY_OF_RUN, run_id=run_id, parent_id=parent_id).all()


def statuses_of(session: Session, run_ids: Sequence[str]) -> dict[str, str]:
    """``{id: status}`` of the known runs among ``run_ids``."""
    if not run_ids:
        return {}
    rows = read_rows(session, _STATUSES, run_ids=list(run_ids))
    return {rid: status for rid, status in rows}


def reminder_rows(session: Session, run_id: str) -> Sequence[Row[*tuple[Any, ...]]]:
    """The run's reminder states by bucket (``REMINDER_SHAPE`` columns)."""
    return read_rows(session, _REMINDERS, run_id=run_id).all()
