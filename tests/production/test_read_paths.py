"""The hot reads (issue 14) answer the same JSON as the ORM paths they replaced, from a number of
statements that does not grow with tasks, subtasks, comments, runs or related runs."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.platform.db import Database
from tests.factories import catalog, inventory, runs
from tests.production import orm_reference
from tests.production.lifecycle_helpers import Dispatched, dispatched, template
from tests.production.read_support import as_partner, get_ok, rich_split, statements


def test_partner_reads_match_the_orm_paths(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    split = rich_split(admin, client, app)
    for partner, run_id in ((split.cutter, split.first), (split.tailor, split.second)):
        body = get_ok(as_partner(app, partner), f"/partners/production-runs/{run_id}")
        with db.session(write=False) as session:
            assert body == orm_reference.partner_run(session, run_id)
        listing = get_ok(as_partner(app, partner), "/partners/production-runs")
        with db.session(write=False) as session:
            assert listing == orm_reference.partner_runs(session, partner.id)
    cutter_view = get_ok(as_partner(app, split.cutter), f"/partners/production-runs/{split.first}")
    run = cutter_view["production_run"]
    assert len(run["tasks"]) == 3 and all(len(t["subtasks"]) == 2 for t in run["tasks"])
    assert [len(t["comments"]) for t in run["tasks"]] == [1, 2, 2]
    assert run["progress"]["completed"] == 1
    assert run["related"]["parent"]["id"] == split.parent["id"]
    assert {s["id"] for s in run["related"]["siblings"]} == {split.other_first, split.second}
    tailor_view = get_ok(as_partner(app, split.tailor), f"/partners/production-runs/{split.second}")
    waiting = {ref["id"] for ref in tailor_view["production_run"]["related"]["waiting_on"]}
    assert waiting == {split.first, split.other_first}


def test_admin_run_detail_matches_the_orm_path(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    split = rich_split(admin, client, app)
    for run_id in (split.parent["id"], split.first, split.second):
        body = get_ok(admin, f"/admin/production-runs/{run_id}")
        with db.session(write=False) as session:
            assert body == orm_reference.admin_run(session, run_id)
    parent = get_ok(admin, f"/admin/production-runs/{split.parent['id']}")["production_run"]
    assert {c["id"] for c in parent["children"]} == {split.first, split.other_first, split.second}
    second = get_ok(admin, f"/admin/production-runs/{split.second}")["production_run"]
    assert second["parent"]["id"] == split.parent["id"]
    assert set(second["waiting_on"]) == {split.first, split.other_first}
    assert second["partner"]["id"] == split.tailor.id


def test_design_read_matches_the_orm_path(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    split = rich_split(admin, client, app)
    body = get_ok(admin, f"/admin/designs/{split.design['id']}")
    assert len(body["design"]["bom"]) == 1 and len(body["design"]["partners"]) == 3
    with db.session(write=False) as session:
        assert body == orm_reference.design(session, split.design["id"])


# --- statement counts ---------------------------------------------------------------------------


def _comment_on_every_task(partner: TestClient, run_url: str, per_task: int) -> None:
    for task in get_ok(partner, run_url)["production_run"]["tasks"]:
        for n in range(per_task):
            partner.post(f"/partners/assigned-tasks/{task['id']}/comments", json={"comment": n})


def _count(db: Database, client: TestClient, url: str) -> int:
    get_ok(client, url)  # warm: the first request may load settings, policies, statement caches
    with statements(db) as seen:
        get_ok(client, url)
    return len(seen)


def small_and_big(
    app: FastAPI, admin: TestClient, client: TestClient
) -> tuple[Dispatched, Dispatched, TestClient]:
    """A run of 2 tasks (a comment each) and one of 20 tasks with 3 subtasks and 3 comments
    each, for one partner; and that partner's client."""
    small = dispatched(admin, client, tasks=2)
    big = dispatched(admin, client, partner=small.partner, tasks=20, subtasks=3)
    partner = as_partner(app, small.partner)
    _comment_on_every_task(partner, small.url(), 1)
    _comment_on_every_task(partner, big.url(), 3)
    return small, big, partner


def test_partner_detail_statements_do_not_grow(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    small, big, partner = small_and_big(app, admin, client)
    few = _count(db, partner, small.url())
    assert _count(db, partner, big.url()) == few
    assert few <= 8, few


def test_partner_detail_statements_do_not_grow_with_related_runs(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    counts = []
    for extra in (1, 6):
        cutter = catalog.create_partner(admin, client)
        design = catalog.create_design(admin)
        name = template(admin, subtasks=1)
        assignments = [
            {"partner_id": cutter.id, "quantity": 1, "order": 0, "template_names": [name]}
        ]
        for _ in range(extra):
            other = catalog.create_partner(admin, client)
            assignments.append({"partner_id": other.id, "quantity": 1, "order": 1})
        result = runs.split_run(
            admin, design_id=design["id"], assignments=assignments, quantity=1 + extra
        )
        mine = next(c for c in result["children"] if c["partner_id"] == cutter.id)
        counts.append(
            _count(db, as_partner(app, cutter), f"/partners/production-runs/{mine['id']}")
        )
    assert counts[0] == counts[1], counts


def test_admin_run_detail_statements_do_not_grow(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    small, big, _ = small_and_big(app, admin, client)
    few = _count(db, admin, small.admin_url())
    assert _count(db, admin, big.admin_url()) == few
    split = rich_split(admin, client, app)
    assert _count(db, admin, f"/admin/production-runs/{split.second}") <= few + 2
    assert _count(db, admin, f"/admin/production-runs/{split.parent['id']}") <= few + 2


@pytest.mark.parametrize("many", [3, 12])
def test_partner_list_statements_do_not_grow(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database, many: int
) -> None:
    me = catalog.create_partner(admin, client)
    one = dispatched(admin, client, partner=me, tasks=1)
    partner = as_partner(app, me)
    few = _count(db, partner, "/partners/production-runs")
    for _ in range(many):
        dispatched(admin, client, partner=me, tasks=3, subtasks=2)
    assert _count(db, partner, "/partners/production-runs") == few
    assert _count(db, partner, one.url()) >= 1


def test_design_read_statements_do_not_grow(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    design = catalog.create_design(admin)
    catalog.set_bom(admin, design["id"], {inventory.create_item(admin)["id"]: 1})
    dispatched(admin, client, design=design)
    few = _count(db, admin, f"/admin/designs/{design['id']}")
    catalog.set_bom(admin, design["id"], {inventory.create_item(admin)["id"]: 1 for _ in range(5)})
    for _ in range(4):
        dispatched(admin, client, design=design)
    assert _count(db, admin, f"/admin/designs/{design['id']}") == few
