"""The hot reads (issue 14) answer the same JSON as the ORM paths they replaced, from a number of
statements that does not grow with tasks, subtasks, comments, runs or related runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from atelier.platform.db import Database
from tests.factories import catalog, inventory, runs
from tests.factories.catalog import PartnerHandle
from tests.production import orm_reference
from tests.production.lifecycle_helpers import dispatched, post_ok, template


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block."""
    seen: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)


def as_partner(app: FastAPI, partner: PartnerHandle) -> TestClient:
    return TestClient(app, headers=partner.headers, raise_server_exceptions=False)


def get_ok(client: TestClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Split:
    """A split run: two first-group children (the cutters') and a tailor's child after them."""

    parent: dict[str, Any]
    design: dict[str, Any]
    cutter: PartnerHandle
    tailor: PartnerHandle
    first: str
    other_first: str
    second: str


def rich_split(admin: TestClient, client: TestClient, app: FastAPI) -> Split:
    """Tasks with subtasks and comments, one task completed, a BOM, linked partners."""
    cutter = catalog.create_partner(admin, client)
    other = catalog.create_partner(admin, client)
    tailor = catalog.create_partner(admin, client)
    item = inventory.create_item(admin)
    design = catalog.create_design(
        admin,
        thumbnail_url="https://cdn.test/t.png",
        specifications={"fabric": "linen", "gsm": 140},
        colors=["indigo", "rust"],
        sizes=["S", "M"],
        media_files=[{"url": "https://cdn.test/a.png"}],
    )
    catalog.set_bom(admin, design["id"], {item["id"]: 2.5})
    names = [template(admin, subtasks=2) for _ in range(3)]
    result = runs.split_run(
        admin,
        design_id=design["id"],
        quantity=24,
        assignments=[
            {"partner_id": cutter.id, "role": "cutting", "quantity": 6, "order": 0,
             "template_names": names},
            {"partner_id": other.id, "role": "cutting", "quantity": 6, "order": 0,
             "template_names": names[:1]},
            {"partner_id": tailor.id, "role": "stitching", "quantity": 12, "order": 1,
             "template_names": names[1:]},
        ],
    )  # fmt: skip
    children = {c["partner_id"]: c["id"] for c in result["children"]}
    split = Split(
        result["production_run"],
        design,
        cutter,
        tailor,
        children[cutter.id],
        children[other.id],
        children[tailor.id],
    )
    partner = as_partner(app, cutter)
    url = f"/partners/production-runs/{split.first}"
    post_ok(partner, url + "/accept")
    tasks = get_ok(partner, url)["production_run"]["tasks"]
    for index, task in enumerate(tasks):
        for text in ("on it", f"note {index}")[: index + 1]:
            response = partner.post(
                f"/partners/assigned-tasks/{task['id']}/comments", json={"comment": text}
            )
            assert response.status_code == 201, response.text
    done = tasks[0]
    post_ok(partner, f"/partners/assigned-tasks/{done['id']}/accept")
    for subtask in done["subtasks"][:1]:
        post_ok(partner, f"/partners/assigned-tasks/{done['id']}/subtasks/{subtask['id']}/complete")
    post_ok(partner, f"/partners/assigned-tasks/{tasks[1]['id']}/finish")
    return split


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


def test_partner_detail_statements_do_not_grow(
    app: FastAPI, admin: TestClient, client: TestClient, db: Database
) -> None:
    small = dispatched(admin, client, tasks=2)
    big = dispatched(admin, client, partner=small.partner, tasks=20, subtasks=3)
    partner = as_partner(app, small.partner)
    _comment_on_every_task(partner, small.url(), 1)
    _comment_on_every_task(partner, big.url(), 3)
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
