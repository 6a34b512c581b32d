"""SQL of the admin list's ``q`` search and of its searched pages.

What ``q`` matches: the run id (when ``q`` looks like a piece of one), the design name, the
partner name and the partner handle, as a case-insensitive substring. How:

- A **word** (``run_id_match(q) == "none"``, any length) is looked up in the small tables
  first: the designs whose name, and the partners whose name or handle, contain it (a few
  hundred rows, read whole). The runs are then found through the design and partner indexes,
  so a common word costs the runs it matches read from an index, not a trigram posting list
  per run plus a row per match. Sorted by creation, the whole page is cut from the covering
  indexes ``ix_production_runs_design_list`` and ``ix_production_runs_partner_list``
  (:func:`named_page`).
- A **piece of a run id** of three characters or more goes through the trigram index over
  ``production_run_search`` (see ``search_index``), which also matches names
  (:func:`search_page`); a shorter one scans the ids.

SQLite folds case with the app's ``atelier_fold`` function (Python's ``str.lower``; SQLite's
own ``lower()`` folds ASCII only), PostgreSQL with ``ILIKE``.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from atelier.catalog.models import Design
from atelier.partners.models import Partner
from atelier.platform.db import SQLITE_FOLD
from atelier.production import search_index
from atelier.production.models import ProductionRun, ProductionRunSearch
from atelier.production.schemas import ProductionRunRow

_Stmt = TypeVar("_Stmt", bound=Select[*tuple[Any, ...]])

TOTAL = "_total_count"


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


_RUN_ID_PREFIX = "prod_run_"
# ULID body characters (Crockford base32: no i, l, o, u), lower-cased.
_ULID_CHARS = frozenset("0123456789abcdefghjkmnpqrstvwxyz")


def run_id_match(q: str) -> str:
    """How ``q`` can match run ids: ``"all"`` (it is part of the common prefix), ``"scan"``
    (it looks like a piece of an id: only id characters, and a digit, an underscore or at
    least 8 characters), or ``"none"`` (a word such as "silk" or "saree": no substring scan
    over the ids is paid for)."""
    text = q.lower()
    if not text:
        return "none"
    if text in _RUN_ID_PREFIX:
        return "all"
    possible = all(c in _ULID_CHARS for c in text) or any(
        text.startswith(_RUN_ID_PREFIX[start:])
        and all(c in _ULID_CHARS for c in text[len(_RUN_ID_PREFIX) - start :])
        for start in range(len(_RUN_ID_PREFIX))
    )
    id_like = any(c.isdigit() or c == "_" for c in text) or len(text) >= 8
    return "scan" if possible and id_like else "none"


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def search_term(postgres: bool, q: str) -> str:
    """The value of the ``q`` parameter of :func:`named_ids`: a LIKE pattern on PostgreSQL,
    the folded text on SQLite."""
    return like_pattern(q) if postgres else q.lower()


def named_ids(postgres: bool) -> tuple[Select[Any], Select[Any]]:
    """The ids of the designs whose name, and of the partners whose name or handle, contain
    the ``q`` parameter (see :func:`search_term`) in any case."""
    designs = Design.__table__.alias("named_designs")
    partners = Partner.__table__.alias("named_partners")
    term: BindParameter[str] = bindparam("q")
    if postgres:

        def contains(text: ColumnElement[Any]) -> ColumnElement[bool]:
            return text.ilike(term, escape="\\")

    else:
        fold = getattr(func, SQLITE_FOLD)

        def contains(text: ColumnElement[Any]) -> ColumnElement[bool]:
            return func.instr(fold(text), term) > 0

    design_ids = select(designs.c.id).where(contains(designs.c.name)).correlate(None)
    partner_ids = (
        select(partners.c.id)
        .where(or_(contains(partners.c.name), contains(partners.c.handle)))
        .correlate(None)
    )
    return design_ids, partner_ids


def index_match(session: Session, q: str) -> ColumnElement[bool]:
    """The search rows matching ``q`` (at least three characters), through the trigram index."""
    columns = ["design_name", "partner_name", "partner_handle"]
    if run_id_match(q) == "scan":
        columns.insert(0, "run_id")
    index = ProductionRunSearch
    if _postgres(session):
        pattern = like_pattern(q)
        return or_(*(getattr(index, c).ilike(pattern, escape="\\") for c in columns))
    phrase = '"' + q.replace('"', '""') + '"'
    fts = table(search_index.FTS_TABLE, column("rowid"))
    match = literal_column(search_index.FTS_TABLE).op("MATCH")(
        literal("{" + " ".join(columns) + "}: " + phrase)
    )
    return index.id.in_(select(fts.c.rowid).where(match))


def search_condition(session: Session, q: str) -> ColumnElement[bool]:
    """The runs ``q`` matches, as a condition on ``production_runs`` (the general list)."""
    id_match = run_id_match(q)
    if id_match == "all":
        # A piece of the "prod_run_" prefix is in every run id.
        return true()
    if id_match == "scan" and len(q) >= search_index.MIN_LENGTH:
        matches = select(ProductionRunSearch.run_id).where(index_match(session, q))
        return ProductionRun.id.in_(matches)
    postgres = _postgres(session)
    designs, partners = named_ids(postgres)
    term = search_term(postgres, q)
    terms = [
        ProductionRun.design_id.in_(designs.params(q=term)),
        ProductionRun.partner_id.in_(partners.params(q=term)),
    ]
    if id_match == "scan":
        # Fewer than three characters: no trigram to look up, the ids are scanned.
        terms.append(func.lower(ProductionRun.id).like(like_pattern(q), escape="\\"))
    return or_(*terms)


# --- searched pages ----------------------------------------------------------------------------


def _list_columns() -> list[ColumnElement[Any]]:
    """The run's columns under the API row's field names, in its order, then the names."""
    runs = ProductionRun.__table__
    attribute_column = {a.key: a.columns[0].name for a in ProductionRun.__mapper__.column_attrs}
    names = {
        "design_name": Design.name,
        "partner_name": Partner.name,
        "partner_handle": Partner.handle,
    }
    out: list[ColumnElement[Any]] = []
    for name in ProductionRunRow.model_fields:
        if name in names:
            out.append(names[name].label(name))
        else:
            key = "metadata_" if name == "metadata" else name
            out.append(runs.c[attribute_column[key]].label(name))
    return out


LIST_COLUMNS = _list_columns()


def joined(stmt: _Stmt) -> _Stmt:
    return stmt.join(Design, Design.id == ProductionRun.design_id).outerjoin(
        Partner, Partner.id == ProductionRun.partner_id
    )


def with_total(
    session: Session,
    stmt: Select[Any],
    count: Select[Any],
    offset: int,
    params: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The page's rows (each carrying the total in ``TOTAL``) and the total; an empty page
    past the end is counted by ``count``."""
    rows = [dict(row) for row in session.execute(stmt, params).mappings()]
    if rows:
        total = int(rows[0][TOTAL])
        for row in rows:
            del row[TOTAL]
        return rows, total
    return rows, 0 if offset == 0 else int(session.scalar(count, params) or 0)


@functools.cache
def _named_statements(
    postgres: bool, statuses: bool, children: bool, descending: bool
) -> tuple[Select[Any], Select[Any]]:
    """The (page, count) statements of :func:`named_page` for one shape, built once."""
    designs, partners = named_ids(postgres)
    if not postgres:
        # Each is read four times (two counts, two page arms): as CTEs SQLite materialises
        # them once and calls atelier_fold ~600 times instead of ~1,600 (12% fewer
        # instructions for the statement over 100k runs). PostgreSQL keeps the subqueries,
        # which its planner sees into (a CTE read more than once is a fence to it).
        designs = select(designs.cte("named_design_ids").c.id)
        partners = select(partners.cte("named_partner_ids").c.id)
    runs = ProductionRun
    shared: list[ColumnElement[bool]] = []
    if statuses:
        shared.append(runs.status.in_(bindparam("statuses", expanding=True)))
    if not children:
        shared.append(func.coalesce(runs.parent_run_id, "") == "")
    arms = (
        [runs.design_id.in_(designs), *shared],
        # The partner's runs whose design did not match: no run is counted twice.
        [runs.partner_id.in_(partners), runs.design_id.not_in(designs), *shared],
    )
    counts = [
        select(func.count()).select_from(runs).where(*arm).correlate(None).scalar_subquery()
        for arm in arms
    ]
    total = (counts[0] + counts[1]).label(TOTAL)
    matches = union_all(
        *(select(runs.id, runs.created_at).where(*arm).correlate(None) for arm in arms)
    ).subquery("matches")
    key = (matches.c.created_at, matches.c.id)
    page = (
        select(matches)
        .order_by(*(c.desc() if descending else c.asc() for c in key))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    stmt = joined(
        select(*LIST_COLUMNS, total)
        .select_from(page)
        .join(ProductionRun, ProductionRun.id == page.c.id)
    )
    page_key = (page.c.created_at, page.c.id)
    stmt = stmt.order_by(*(c.desc() if descending else c.asc() for c in page_key))
    return stmt, select(total)


def named_page(
    session: Session,
    q: str,
    statuses: tuple[str, ...],
    *,
    include_children: bool,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A word, newest or oldest first, maybe by status: the runs of the matching designs and
    those of the matching partners whose design did not match, each read from one covering
    index as (id, created_at) only, counted, sorted and cut there; only the page's runs are
    read. One statement (the total is a scalar subquery beside the page)."""
    postgres = _postgres(session)
    stmt, count = _named_statements(postgres, bool(statuses), include_children, descending)
    params: dict[str, Any] = {"q": search_term(postgres, q), "limit": limit, "offset": offset}
    if statuses:
        params["statuses"] = list(statuses)
    return with_total(session, stmt, count, offset, params)


def search_page(
    session: Session,
    q: str,
    statuses: tuple[str, ...],
    *,
    include_children: bool,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A piece of a run id: counted, sorted and cut on the narrow search table through its
    trigram index; only the page's runs are read."""
    index = ProductionRunSearch
    conditions = [index_match(session, q)]
    if statuses:
        conditions.append(index.status.in_(statuses))
    if not include_children:
        conditions.append(index.top_level.is_(True))
    if descending:
        order = (index.created_at.desc(), index.run_id.desc())
    else:
        order = (index.created_at.asc(), index.run_id.asc())
    page = (
        select(index.run_id, index.created_at, func.count().over().label(TOTAL))
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    stmt = joined(
        select(*LIST_COLUMNS, page.c[TOTAL])
        .select_from(page)
        .join(ProductionRun, ProductionRun.id == page.c.run_id)
    )
    if descending:
        stmt = stmt.order_by(page.c.created_at.desc(), page.c.run_id.desc())
    else:
        stmt = stmt.order_by(page.c.created_at.asc(), page.c.run_id.asc())
    count = select(func.count()).select_from(index).where(*conditions)
    return with_total(session, stmt, count, offset)
