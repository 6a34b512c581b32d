"""The admin list's search index (FTS5 trigram on SQLite, pg_trgm on PostgreSQL), its upkeep
in the writer's transaction, the list's fixed statement count and its pre-serialised JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from atelier.catalog.models import Design
from atelier.partners.models import Partner
from atelier.platform.db import Database
from atelier.production import repository, views
from atelier.production.models import ProductionRun, ProductionRunSearch
from atelier.production.schemas import ProductionRunList
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.factories.runs import approve, create_run
from tests.factories.tasks import dispatched_run
from tests.production.test_partner_runs_read import count_queries


def _ids(admin: TestClient, **params: Any) -> list[str]:
    response = admin.get("/admin/production-runs", params={"include_children": True, **params})
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["production_runs"]]


@pytest.fixture
def world(admin: TestClient, client: TestClient) -> dict[str, Any]:
    block = catalog.create_design(admin, name="Hand-Block Wrap Dress")
    ikat = catalog.create_design(admin, name="Ikat Stole")
    loom = catalog.create_partner(admin, client, name="Loom House", handle="loom-house")
    needle = catalog.create_partner(admin, client, name="Needle Works", handle="needle")
    return {
        "block": block,
        "ikat": ikat,
        "loom": loom,
        "needle": needle,
        "wrap_loom": create_run(admin, design_id=block["id"], partner_id=loom.id)["id"],
        "stole_needle": create_run(admin, design_id=ikat["id"], partner_id=needle.id)["id"],
        "stole_none": create_run(admin, design_id=ikat["id"])["id"],
    }


class TestSearch:
    def test_design_name_substring_any_case(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _ids(admin, q="block wr") == [world["wrap_loom"]]
        assert _ids(admin, q="WRAP") == [world["wrap_loom"]]
        assert set(_ids(admin, q="kat st")) == {world["stole_needle"], world["stole_none"]}

    def test_partner_name_and_handle(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _ids(admin, q="EDLE WOR") == [world["stole_needle"]]
        assert _ids(admin, q="loom-hou") == [world["wrap_loom"]]

    def test_id_fragment(self, admin: TestClient, world: dict[str, Any]) -> None:
        run_id = world["stole_none"]
        assert _ids(admin, q=run_id[-10:].upper()) == [run_id]
        assert _ids(admin, q=run_id[4:]) == [run_id]

    def test_count_of_a_page_past_the_end(self, admin: TestClient, world: dict[str, Any]) -> None:
        params = {"q": "ikat", "include_children": True}
        assert admin.get("/admin/production-runs", params=params).json()["count"] == 2
        body = admin.get("/admin/production-runs", params={**params, "offset": 5}).json()
        assert (body["count"], body["production_runs"]) == (2, [])
        body = admin.get("/admin/production-runs", params={"q": "nothing-like-it"}).json()
        assert (body["count"], body["production_runs"]) == (0, [])

    def test_a_word_does_not_scan_ids(self, admin: TestClient, world: dict[str, Any]) -> None:
        assert _ids(admin, q="zzzz") == []
        assert _ids(admin, q='"quoted"') == []

    def test_short_queries_fall_back_to_a_scan(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        assert set(_ids(admin, q="ik")) == {world["stole_needle"], world["stole_none"]}
        assert _ids(admin, q="N")  # "n" is in several names
        assert _ids(admin, q="%") == []
        assert len(_ids(admin, q="_")) == 3  # a piece of the run id prefix

    def test_any_letter_in_any_case(self, admin: TestClient, client: TestClient) -> None:
        """Not only ASCII: SQLite folds with Python's lower(), PostgreSQL with ILIKE."""
        design = catalog.create_design(admin, name="ÑANDÚ Kurta")
        partner = catalog.create_partner(admin, client, name="Çatal Atölye", handle="catal")
        run = create_run(admin, design_id=design["id"], partner_id=partner.id)["id"]
        for q in ("ñandú", "Ñandú k", "ñ", "ú", "ATÖLYE", "çat", "Ç"):
            assert _ids(admin, q=q) == [run], q
            assert _ids(admin, q=q, run_type="production") == [run], q  # the general list

    def test_a_run_matching_twice_is_listed_once(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        # "o": in both designs' and both partners' names; "wrap_loom" matches by design and
        # by partner, and still counts once.
        for q in ("o", "O", "oo", "loo"):
            for params in ({}, {"run_type": "production"}, {"sort": "created_at"}):
                body = admin.get("/admin/production-runs", params={"q": q, **params}).json()
                ids = [r["id"] for r in body["production_runs"]]
                assert len(ids) == len(set(ids)) == body["count"], (q, params)
        assert len(_ids(admin, q="o")) == 3
        assert _ids(admin, q="loo") == [world["wrap_loom"]]

    def test_pages_of_a_word_cover_its_runs_once(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        for sort in ("-created_at", "created_at"):
            whole = _ids(admin, q="o", sort=sort)
            pages = [_ids(admin, q="o", sort=sort, limit=1, offset=i) for i in range(4)]
            assert [i for page in pages for i in page] == whole
            body = admin.get(
                "/admin/production-runs", params={"q": "o", "offset": 3, "sort": sort}
            ).json()
            assert (body["count"], body["production_runs"]) == (3, [])
        first = admin.get("/admin/production-runs", params={"q": "kat", "status": "pending_review"})
        assert {r["id"] for r in first.json()["production_runs"]} == {
            world["stole_needle"],
            world["stole_none"],
        }

    def test_design_rename_is_searchable_at_once(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        response = admin.post(f"/admin/designs/{world['ikat']['id']}", json={"name": "Shibori"})
        assert response.status_code == 200, response.text
        assert set(_ids(admin, q="shibori")) == {world["stole_needle"], world["stole_none"]}
        assert _ids(admin, q="ikat") == []

    def test_partner_rename_is_searchable_at_once(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        response = admin.post(f"/admin/partners/{world['needle'].id}", json={"name": "Thread Co"})
        assert response.status_code == 200, response.text
        assert _ids(admin, q="thread co") == [world["stole_needle"]]
        assert _ids(admin, q="needle wo") == []
        assert _ids(admin, q="needle") == [world["stole_needle"]]  # the handle stayed

    def test_reassigned_run_follows_its_partner(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        approve(admin, world["stole_none"])
        response = admin.post(
            f"/admin/production-runs/{world['stole_none']}/reassign",
            json={"partner_id": world["loom"].id},
        )
        assert response.status_code == 200, response.text
        assert set(_ids(admin, q="loom ho")) == {world["wrap_loom"], world["stole_none"]}

    def test_status_and_parent_follow_the_run(
        self, admin: TestClient, world: dict[str, Any]
    ) -> None:
        stole = world["stole_none"]
        assert _ids(admin, q="ikat", status="approved") == []
        split = approve(admin, stole, assignments=[{"partner_id": world["loom"].id, "quantity": 1}])
        child = split["children"][0]["id"]
        assert set(_ids(admin, q="ikat st", status="approved")) == {stole, child}
        top = admin.get("/admin/production-runs", params={"q": "ikat st", "status": "approved"})
        assert [r["id"] for r in top.json()["production_runs"]] == [stole]
        assert _ids(admin, q="ikat", status="pending_review") == [world["stole_needle"]]

    def test_fast_and_general_paths_agree(self, admin: TestClient, world: dict[str, Any]) -> None:
        for sort in ("created_at", "-created_at"):
            fast = _ids(admin, q="ikat", sort=sort)
            general = _ids(admin, q="ikat", sort=sort, run_type="production")
            assert fast == general and len(fast) == 2
        assert _ids(admin, q="ikat", sort="-created_at") == _ids(admin, q="ikat", limit=1) + _ids(
            admin, q="ikat", limit=1, offset=1
        )

    def test_index_is_current_inside_the_writing_transaction(
        self, db: Database, world: dict[str, Any]
    ) -> None:
        with db.session() as session:
            run = ProductionRun(design_id=world["block"]["id"], partner_id=world["needle"].id)
            session.add(run)
            session.execute(
                update(Design).where(Design.id == world["block"]["id"]).values(name="Kalamkari")
            )
            session.execute(
                update(Partner).where(Partner.id == world["needle"].id).values(handle="stitch")
            )
            session.flush()
            row = session.scalars(
                select(ProductionRunSearch).where(ProductionRunSearch.run_id == run.id)
            ).one()
            assert (row.design_name, row.partner_name, row.partner_handle) == (
                "Kalamkari",
                "Needle Works",
                "stitch",
            )
            filters = repository.RunFilters(q="kalamk", include_children=True)
            rows, count = repository.list_page(session, filters, limit=10, offset=0)
            assert count == 2 and run.id in {r["id"] for r in rows}
            session.rollback()
        with db.session() as session:
            assert session.get(ProductionRun, run.id) is None
            filters = repository.RunFilters(q="kalamk", include_children=True)
            assert repository.list_page(session, filters, limit=10, offset=0)[1] == 0

    def test_deleted_run_leaves_the_index(self, db: Database, world: dict[str, Any]) -> None:
        with db.session() as session:
            session.delete(session.get(ProductionRun, world["stole_none"]))
        with db.session() as session:
            found = session.scalars(
                select(ProductionRunSearch.run_id).where(
                    ProductionRunSearch.run_id == world["stole_none"]
                )
            ).all()
            assert found == []
            filters = repository.RunFilters(q="ikat", include_children=True)
            assert repository.list_page(session, filters, limit=10, offset=0)[1] == 1


class TestListStatements:
    def test_statement_count_does_not_grow_with_rows_or_tasks(
        self, db: Database, admin: TestClient, client: TestClient
    ) -> None:
        partner = catalog.create_partner(admin, client)
        design = catalog.create_design(admin, name="Counted")

        def statements(**params: Any) -> int:
            admin.get("/admin/production-runs", params=params)  # warm: the principal etc.
            with count_queries(db) as seen:
                response = admin.get("/admin/production-runs", params=params)
            assert response.status_code == 200, response.text
            return len(seen)

        dispatched_run(admin, client, partner=partner, design_id=design["id"])
        few = {
            "default": statements(),
            "filtered": statements(status="sent_to_partner", partner_id=partner.id),
            "search": statements(q="counted"),
        }
        for _ in range(6):
            dispatched_run(admin, client, partner=partner, design_id=design["id"])
            create_run(admin, design_id=design["id"], quantity=3)
        many = {
            "default": statements(),
            "filtered": statements(status="sent_to_partner", partner_id=partner.id),
            "search": statements(q="counted"),
        }
        assert few == many
        assert statements(limit=2) == statements(limit=200) == many["default"]
        # A word is one statement (the total beside the page), however short; the default
        # list is two (count, page).
        assert many["search"] == many["default"] - 1
        assert statements(q="co") == statements(q="co", status="sent_to_partner") == many["search"]


class TestListJson:
    def test_same_bytes_as_the_validated_model(
        self, db: Database, admin: TestClient, world: dict[str, Any]
    ) -> None:
        with db.session() as session:
            run = session.get(ProductionRun, world["wrap_loom"])
            assert run is not None
            run.partner_cost_estimate = Decimal("12.5")
            run.metadata_ = {"note": "ñandú — ✓", "ratio": 0.1, "big": 1e16, "n": [1, None]}
            run.snapshot = {"bom": [{"planned_quantity": 2.5}], "name": "Wrap"}
            run.depends_on_run_ids = [world["stole_none"]]
        response = admin.get("/admin/production-runs", params={"sort": "quantity"})
        assert response.headers["content-type"] == "application/json"
        with db.session() as session:
            filters = repository.RunFilters(sort="quantity", descending=False)
            rows, count = repository.list_runs(session, filters, limit=50, offset=0)
            expected = ProductionRunList.of(
                [views.row_read(row) for row in rows], count, limit=50, offset=0
            ).model_dump_json(by_alias=True)
        assert response.content == expected.encode()
        assert ProductionRunList.model_validate_json(response.content).count == 3


def test_a_nul_in_the_search_is_refused_as_elsewhere(admin: TestClient) -> None:
    for path in ("/admin/production-runs", "/admin/production-runs/export.csv"):
        body = assert_problem(admin.get(path, params={"q": "a\x00"}), 422, "validation_error")
        assert "NUL" in str(body)
