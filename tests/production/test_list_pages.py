"""The two lists' pages, as rebuilt for issue 14, answer what the statements before them did.

The admin list without ``q`` runs two prebuilt statements (``repository._general_page``): its
JSON is byte for byte what SQLAlchemy's execution of the same filters gave, for every filter and
sort, and a request sends exactly the page and the count. The partner list's page cuts its
(id, created_at) on the covering index before reading the runs: the same rows, in the same
order, as the plain join, for every filter and page.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session

from atelier.catalog.models import Design
from atelier.platform.db import Database
from atelier.production import repository, views
from atelier.production import repository_reads as reads
from atelier.production import repository_search as search
from atelier.production.models import ProductionRun
from atelier.production.repository import RunFilters
from tests.factories import catalog, orders
from tests.factories.runs import create_run
from tests.production.lifecycle_helpers import post_ok
from tests.production.read_support import Split, rich_split, statement_shapes, statements


@pytest.fixture
def split(admin: TestClient, client: TestClient, app: FastAPI) -> Split:
    """The rich split (accepted child, dispatch fields, templates) and runs with metadata, a
    cost estimate, a hold, a cancellation and an order beside it."""
    split = rich_split(admin, client, app)
    other = catalog.create_design(admin, name="Linen Wrap")
    product = catalog.create_product(admin)
    order = orders.create_order(admin, items=[{"product_id": product["id"], "quantity": 1}])
    costed = create_run(
        admin,
        design_id=other["id"],
        partner_id=split.cutter.id,
        quantity=7,
        run_type="sample",
        metadata={"source": "test", "tags": ["a", "b"]},
        order_id=order["id"],
    )
    post_ok(admin, f"/admin/production-runs/{costed['id']}", {"partner_cost_estimate": "12.50"})
    held = create_run(admin, design_id=other["id"], quantity=3)
    post_ok(admin, f"/admin/production-runs/{held['id']}/hold", {"reason": "fabric"})
    cancelled = create_run(admin, design_id=split.design["id"], partner_id=split.tailor.id)
    post_ok(admin, f"/admin/production-runs/{cancelled['id']}/cancel", {"reason": "duplicate"})
    return split


def _through_sqlalchemy(
    session: Session, filters: RunFilters, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The list as it was built before: the statement made per request and executed by
    SQLAlchemy, rows from ``.mappings()``, then the count."""
    conditions = repository._conditions(session, filters)
    stmt = search.joined(select(*search.LIST_COLUMNS).select_from(ProductionRun))
    stmt = repository._ordered(stmt.where(*conditions), filters).limit(limit).offset(offset)
    count = select(func.count()).select_from(ProductionRun).where(*conditions)
    rows = [dict(row) for row in session.execute(stmt).mappings()]
    return rows, int(session.scalar(count) or 0)


def _filters(split: Split, session: Session) -> list[RunFilters]:
    design_id = split.design["id"]
    order_id = session.scalar(select(ProductionRun.order_id).where(ProductionRun.order_id != ""))
    some = ("approved", "sent_to_partner", "in_progress")
    out = [
        RunFilters(),
        RunFilters(statuses=some, partner_id=split.cutter.id),
        RunFilters(statuses=("in_progress",), include_children=True),
        RunFilters(statuses=("cancelled", "pending_review", "approved", "in_progress", "held")),
        RunFilters(partner_id=split.cutter.id, include_children=True, sort="quantity"),
        RunFilters(partner_id=split.tailor.id, descending=False),
        RunFilters(design_id=design_id, include_children=True, sort="updated_at"),
        RunFilters(design_id=design_id, sort="status", descending=False),
        RunFilters(order_id=order_id),
        RunFilters(run_type="sample", sort="quantity", descending=False),
        RunFilters(run_type="production", include_children=True, sort="status"),
        RunFilters(parent_run_id=split.parent["id"], statuses=some),
        RunFilters(parent_run_id=split.parent["id"], sort="created_at", descending=False),
        RunFilters(partner_id="partner_missing"),
    ]
    assert order_id is not None
    return out


def test_pages_equal_the_sqlalchemy_pages(split: Split, session: Session) -> None:
    found = 0
    for filters in _filters(split, session):
        for limit, offset in ((50, 0), (2, 1), (1, 0), (5, 500)):
            fast = repository.list_page(session, filters, limit=limit, offset=offset)
            slow = _through_sqlalchemy(session, filters, limit=limit, offset=offset)
            assert fast == slow, filters
            body = views.list_json(*fast, limit=limit, offset=offset)
            assert body == views.list_json(*slow, limit=limit, offset=offset), filters
            found += len(fast[0])
    assert found > 40


def test_each_shape_is_built_once(split: Split) -> None:
    one = RunFilters(statuses=("approved",), partner_id=split.cutter.id)
    two = RunFilters(statuses=("in_progress", "completed"), partner_id=split.tailor.id)
    shape = repository._shape(one)
    assert shape == repository._shape(two)
    assert repository._general_statements(shape) is repository._general_statements(
        repository._shape(two)
    )
    assert repository._shape(RunFilters(partner_id="x")) != shape


def test_a_request_sends_the_page_and_the_count(
    split: Split, admin: TestClient, db: Database
) -> None:
    url = (
        "/admin/production-runs?status=approved,in_progress"
        f"&partner_id={split.cutter.id}&include_children=true"
    )
    admin.get(url)  # warm: the statement is built on the first request
    with statements(db) as seen:
        response = admin.get(url)
    assert response.status_code == 200, response.text
    # PostgreSQL also reads the principals' epoch (platform.principals), not the list's own.
    shapes = statement_shapes(seen)
    assert [shape for shape in shapes if "epoch" not in shape] == [
        "SELECT production_runs",
        "SELECT production_runs",
    ]
    runs = [s for s in seen if statement_shapes([s]) == ["SELECT production_runs"]]
    page, count = runs
    assert "JOIN designs" in page and "LIMIT" in page
    assert "count(*)" in count.lower() and "JOIN" not in count
    assert response.json()["count"] == 1


def test_a_search_keeps_its_own_statements(split: Split, admin: TestClient) -> None:
    body = admin.get("/admin/production-runs", params={"q": "linen", "partner_id": split.cutter.id})
    assert body.status_code == 200, body.text
    assert body.json()["count"] == 1


def _partner_page_joined(filters: tuple[str, ...]) -> Any:
    """The partner page as it was: the plain join, sorted and cut over the runs' rows."""
    conditions = [ProductionRun.partner_id == bindparam("partner_id")]
    conditions += [
        column == bindparam(name) for name, column in reads._PARTNER_FILTERS if name in filters
    ]
    return (
        select(*reads.RUN_SHAPE.columns, Design.name, Design.thumbnail_url)
        .join(Design, Design.id == ProductionRun.design_id)
        .where(*conditions)
        .order_by(ProductionRun.created_at.desc(), ProductionRun.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )


def test_partner_pages_equal_the_plain_join(split: Split, session: Session) -> None:
    found = 0
    cases: list[dict[str, Any]] = [
        {},
        {"status": "in_progress"},
        {"status": "pending_review"},
        {"run_type": "sample"},
        {"status": "sent_to_partner", "role": "cutting"},
        {"run_type": "production", "role": "stitching"},
    ]
    for partner in (split.cutter, split.tailor):
        for given in cases:
            for limit, offset in ((50, 0), (1, 0), (1, 1), (2, 1), (10, 50)):
                filters = {"status": None, "run_type": None, "role": None, **given}
                rows, _ = reads.partner_runs_rows(
                    session, partner.id, limit=limit, offset=offset, **filters
                )
                plain = session.connection().execute(
                    _partner_page_joined(tuple(given)),
                    {"partner_id": partner.id, "limit": limit, "offset": offset, **given},
                )
                assert [tuple(row) for row in rows] == [tuple(row) for row in plain], given
                found += len(rows)
    assert found > 6
