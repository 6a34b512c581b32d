"""SQL of the hot run reads (the partner run detail and list): Core ``select()``s
of exactly the columns the responses show, a fixed number of statements per request.

Rows come back as plain tuples; ``RUN_SHAPE.of(row)`` makes the ``ProductionRunRead`` dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, select
from sqlalchemy.orm import Session

from atelier.catalog.models import Design
from atelier.platform.rows import RowShape
from atelier.production.lifecycle_schemas import DesignView, RelatedRun
from atelier.production.models import ProductionRun
from atelier.production.schemas import ProductionRunRead

RUN_SHAPE = RowShape.of_schema(ProductionRunRead, ProductionRun)
DESIGN_SHAPE = RowShape.of_schema(DesignView, Design, prefix="design_")
# A relative (parent, sibling, dependency): what ``RelatedRun`` shows, plus its parent.
RELATIVE_SHAPE = RowShape.of_schema(RelatedRun, ProductionRun)
_RELATIVE_COLUMNS = (*RELATIVE_SHAPE.columns, ProductionRun.parent_run_id)


def partner_run_row(session: Session, run_id: str, partner_id: str) -> Row[*tuple[Any, ...]] | None:
    """The partner's run (``RUN_SHAPE``) followed by its design (``DESIGN_SHAPE``); ``None``
    when the run is unknown or not the partner's."""
    return session.execute(
        select(*RUN_SHAPE.columns, *DESIGN_SHAPE.columns)
        .join(Design, Design.id == ProductionRun.design_id)
        .where(ProductionRun.id == run_id, ProductionRun.partner_id == partner_id)
    ).one_or_none()


def relatives(
    session: Session, parent_id: str | None, dependency_ids: Sequence[str]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """In one statement: the parent and its children (when ``parent_id``) and the runs in
    ``dependency_ids``, in dispatch order (``RELATIVE_SHAPE`` columns, then parent_run_id)."""
    conditions: list[ColumnElement[bool]] = []
    if parent_id is not None:
        conditions += [ProductionRun.id == parent_id, ProductionRun.parent_run_id == parent_id]
    if dependency_ids:
        conditions.append(ProductionRun.id.in_(list(dependency_ids)))
    if not conditions:
        return []
    return session.execute(
        select(*_RELATIVE_COLUMNS)
        .where(or_(*conditions))
        .order_by(ProductionRun.sequence, ProductionRun.created_at, ProductionRun.id)
    ).all()


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
    conditions: list[ColumnElement[bool]] = [ProductionRun.partner_id == partner_id]
    if status is not None:
        conditions.append(ProductionRun.status == status)
    if run_type is not None:
        conditions.append(ProductionRun.run_type == run_type)
    if role is not None:
        conditions.append(ProductionRun.role == role)
    count = session.scalar(select(func.count(ProductionRun.id)).where(*conditions)) or 0
    rows = session.execute(
        select(*RUN_SHAPE.columns, Design.name, Design.thumbnail_url)
        .join(Design, Design.id == ProductionRun.design_id)
        .where(*conditions)
        .order_by(ProductionRun.created_at.desc(), ProductionRun.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(count)
