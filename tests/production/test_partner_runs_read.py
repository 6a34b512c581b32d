"""Partner read API: the caller's runs list and the run detail view."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from atelier.platform.db import Database
from tests.conftest import assert_problem
from tests.factories import catalog, runs
from tests.factories.catalog import PartnerHandle
from tests.production.lifecycle_helpers import dispatched, post_ok


def as_partner(app: FastAPI, partner: PartnerHandle) -> TestClient:
    return TestClient(app, headers=partner.headers, raise_server_exceptions=False)


@contextmanager
def count_queries(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def _record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)


class TestList:
    def test_only_the_callers_runs(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        mine = catalog.create_partner(admin, client)
        theirs = catalog.create_partner(admin, client)
        a = dispatched(admin, client, partner=mine, tasks=2)
        b = dispatched(admin, client, partner=mine, run_type="sample", quantity=1, role="cutting")
        dispatched(admin, client, partner=theirs)
        runs.create_run(admin, design_id=a.design["id"])  # no partner at all
        body = as_partner(app, mine).get("/partners/production-runs").json()
        assert body["count"] == 2
        assert {r["id"] for r in body["production_runs"]} == {a.id, b.id}
        assert (body["limit"], body["offset"]) == (50, 0)
        row = next(r for r in body["production_runs"] if r["id"] == a.id)
        assert row["design"]["name"] == a.design["name"]
        assert "thumbnail_url" in row["design"]
        assert row["progress"] == {"completed": 0, "total": 2, "percent": 0}

    def test_filters(self, app: FastAPI, admin: TestClient, client: TestClient) -> None:
        me = catalog.create_partner(admin, client)
        prod = dispatched(admin, client, partner=me)
        sample = dispatched(
            admin, client, partner=me, run_type="sample", quantity=1, role="cutting"
        )
        partner = as_partner(app, me)
        post_ok(partner, prod.url("/accept"))

        def ids(query: str) -> set[str]:
            response = partner.get(f"/partners/production-runs?{query}")
            assert response.status_code == 200, response.text
            return {r["id"] for r in response.json()["production_runs"]}

        assert ids("run_type=sample") == {sample.id}
        assert ids("run_type=production") == {prod.id}
        assert ids("status=in_progress") == {prod.id}
        assert ids("status=sent_to_partner") == {sample.id}
        assert ids("role=cutting") == {sample.id}
        assert ids("status=completed") == set()

    def test_pagination(self, app: FastAPI, admin: TestClient, client: TestClient) -> None:
        me = catalog.create_partner(admin, client)
        for _ in range(3):
            dispatched(admin, client, partner=me)
        body = as_partner(app, me).get("/partners/production-runs?limit=2&offset=1").json()
        assert body["count"] == 3 and len(body["production_runs"]) == 2
        assert (body["limit"], body["offset"]) == (2, 1)

    @pytest.mark.parametrize(
        "query", ["limit=0", "limit=501", "offset=-1", "status=nope", "run_type=bulk"]
    )
    def test_bad_query_is_422(
        self, app: FastAPI, admin: TestClient, client: TestClient, query: str
    ) -> None:
        me = catalog.create_partner(admin, client)
        assert_problem(as_partner(app, me).get(f"/partners/production-runs?{query}"), 422)

    def test_progress_counts_completed_tasks(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client, tasks=4)
        partner = as_partner(app, run.partner)
        post_ok(partner, run.url("/accept"))
        detail = partner.get(run.url()).json()["production_run"]
        post_ok(partner, f"/partners/assigned-tasks/{detail['tasks'][0]['id']}/finish")
        row = partner.get("/partners/production-runs").json()["production_runs"][0]
        assert row["progress"] == {"completed": 1, "total": 4, "percent": 25}
        assert partner.get(run.url()).json()["production_run"]["progress"]["percent"] == 25

    def test_auth(self, client: TestClient, admin: TestClient) -> None:
        assert_problem(client.get("/partners/production-runs"), 401)
        assert_problem(admin.get("/partners/production-runs"), 403)


class TestDetail:
    def test_everything_a_partner_needs(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        design = catalog.create_design(
            admin,
            thumbnail_url="https://cdn.test/t.png",
            specifications={"fabric": "linen"},
            colors=["indigo"],
            sizes=["S", "M"],
            media_files=[{"url": "https://cdn.test/a.png"}],
        )
        run = dispatched(admin, client, design=design, tasks=2, subtasks=2)
        partner = as_partner(app, run.partner)
        first = partner.get(run.url()).json()["production_run"]["tasks"][0]
        comment = partner.post(
            f"/partners/assigned-tasks/{first['id']}/comments", json={"comment": "on it"}
        )
        assert comment.status_code == 201, comment.text
        body = partner.get(run.url()).json()["production_run"]
        assert body["id"] == run.id and body["status"] == "sent_to_partner"
        d = body["design"]
        assert d["name"] == design["name"] and d["description"] == design["description"]
        assert d["thumbnail_url"] == "https://cdn.test/t.png"
        assert d["specifications"] == {"fabric": "linen"}
        assert (d["colors"], d["sizes"]) == (["indigo"], ["S", "M"])
        assert d["media_files"][0]["url"] == "https://cdn.test/a.png"
        assert body["snapshot"]["name"] == design["name"]
        assert len(body["tasks"]) == 2
        assert all(len(t["subtasks"]) == 2 for t in body["tasks"])
        assert [c["body"] for c in body["tasks"][0]["comments"]] == ["on it"]
        assert body["progress"] == {"completed": 0, "total": 2, "percent": 0}
        assert body["related"] == {
            "parent": None,
            "siblings": [],
            "dependents": [],
            "waiting_on": [],
        }
        # The buttons the portal may show: what the lifecycle allows the partner now.
        assert body["allowed_actions"] == ["accept", "decline", "attach_media"]

    def test_allowed_actions_follow_the_milestones(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client)
        partner = as_partner(app, run.partner)
        post_ok(partner, run.url("/accept"))
        body = partner.get(run.url()).json()["production_run"]
        assert body["allowed_actions"] == [
            "decline",
            "start",
            "progress",
            "log_consumption",
            "attach_media",
        ]
        post_ok(partner, run.url("/start"))
        body = partner.get(run.url()).json()["production_run"]
        assert body["allowed_actions"] == [
            "progress",
            "finish",
            "log_consumption",
            "attach_media",
        ]

    def test_related_runs_of_a_split(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        cutter = catalog.create_partner(admin, client)
        tailor = catalog.create_partner(admin, client)
        design = catalog.create_design(admin)
        result = runs.split_run(
            admin,
            design_id=design["id"],
            quantity=10,
            assignments=[
                {"partner_id": cutter.id, "role": "cutting", "quantity": 5, "order": 0},
                {"partner_id": tailor.id, "role": "stitching", "quantity": 5, "order": 1},
            ],
        )
        parent = result["production_run"]
        by_partner = {c["partner_id"]: c for c in result["children"]}
        first, second = by_partner[cutter.id], by_partner[tailor.id]
        mine = as_partner(app, cutter).get(f"/partners/production-runs/{first['id']}")
        related = mine.json()["production_run"]["related"]
        assert related["parent"] == {"id": parent["id"], "status": parent["status"]}
        assert [s["id"] for s in related["siblings"]] == [second["id"]]
        assert [s["id"] for s in related["dependents"]] == [second["id"]]
        assert related["waiting_on"] == []
        theirs = as_partner(app, tailor).get(f"/partners/production-runs/{second['id']}")
        related = theirs.json()["production_run"]["related"]
        assert related["waiting_on"] == [{"id": first["id"], "status": first["status"]}]
        assert related["dependents"] == []

    def test_other_partner_gets_404(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client)
        other = catalog.create_partner(admin, client)
        assert_problem(as_partner(app, other).get(run.url()), 404, "production_run_not_found")

    def test_unknown_run_is_404(self, app: FastAPI, admin: TestClient, client: TestClient) -> None:
        me = catalog.create_partner(admin, client)
        assert_problem(as_partner(app, me).get("/partners/production-runs/prod_run_x"), 404)

    def test_declined_run_is_no_longer_visible(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client)
        partner = as_partner(app, run.partner)
        body = post_ok(partner, run.url("/decline"), {"reason": "capacity", "notes": "full"})
        assert body["production_run"]["status"] == "awaiting_reassignment"
        assert body["production_run"]["partner_id"] is None
        assert_problem(partner.get(run.url()), 404)
        again = post_ok(partner, run.url("/decline"), {"reason": "capacity"})
        assert "already queued" in again["message"].lower()

    def test_query_count_does_not_grow_with_tasks(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        small = dispatched(admin, client, tasks=1, subtasks=1)
        big = dispatched(admin, client, partner=small.partner, tasks=12, subtasks=3)
        partner = as_partner(app, small.partner)
        for run in (small, big):
            tasks = partner.get(run.url()).json()["production_run"]["tasks"]
            for task in tasks:
                partner.post(
                    f"/partners/assigned-tasks/{task['id']}/comments", json={"comment": "x"}
                )
        with count_queries(db) as few:
            assert partner.get(small.url()).status_code == 200
        with count_queries(db) as many:
            assert partner.get(big.url()).status_code == 200
        assert len(many) == len(few), (few, many)
        with count_queries(db) as listing:
            assert partner.get("/partners/production-runs").status_code == 200
        assert len(listing) <= len(few) + 2
