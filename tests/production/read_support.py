"""Shared by the read-path tests: a statement recorder and a rich split run built through the
API (tasks with subtasks and comments, a completed task, a BOM, linked partners)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from atelier.platform.db import Database
from tests.factories import catalog, inventory, runs
from tests.factories.catalog import PartnerHandle
from tests.production.lifecycle_helpers import post_ok, template


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


def statement_shapes(seen: list[str]) -> list[str]:
    """Each statement as its verb and table (``SELECT orders``, ``INSERT run_events``;
    savepoints as the verb alone). Transaction control is left out: SQLite's
    ``BEGIN IMMEDIATE`` goes through the cursor, PostgreSQL's does not."""
    shapes = []
    for statement in seen:
        words = statement.replace("(", " ").split()
        upper = [word.upper() for word in words]
        verb = upper[0]
        if verb in {"BEGIN", "COMMIT", "ROLLBACK"}:
            continue
        after = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}
        if verb not in after:
            shapes.append(verb)
            continue
        shapes.append(f"{verb} {words[upper.index(after[verb]) + 1]}")
    return shapes


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
