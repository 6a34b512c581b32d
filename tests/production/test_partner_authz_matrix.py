"""Authorization matrix: every ``/partners/*`` route as owner, other partner, admin, anonymous.

The routes are enumerated from the app itself, so a route somebody adds later is covered too:
``test_every_partner_route_is_in_the_matrix`` fails loudly until the matrix knows how to call it.
``/partners/wa-auth`` is anonymous by design (the deep-link login) and is tested with deep links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import catalog, inventory, runs
from tests.factories.catalog import PartnerHandle
from tests.production.lifecycle_helpers import Dispatched, dispatched, post_ok

ANONYMOUS_BY_DESIGN = {("GET", "/partners/wa-auth")}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route the app serves, through included routers too."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if callable(contexts):
                walk(contexts())
                continue
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if path and methods:
                found.update((m, path) for m in methods if m not in ("HEAD", "OPTIONS"))

    walk(app.router.routes)
    return found


def partner_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(m, p) for m, p in app_routes(app) if p.startswith("/partners")} - ANONYMOUS_BY_DESIGN


@dataclass
class World:
    admin: TestClient
    owner: TestClient
    other: TestClient
    anonymous: TestClient
    run: Dispatched
    partner: PartnerHandle
    fabric: dict[str, Any]
    task_id: str
    subtask_id: str

    def step(self, *steps: str) -> None:
        """Move the run on through the admin on-behalf routes."""
        for step in steps:
            post_ok(self.admin, self.run.admin_url(f"/{step}"))


@dataclass(frozen=True)
class Call:
    """How to call a route as its owner, and what the owner gets."""

    url: Callable[[World], str]
    owner_status: int = 200
    prepare: Callable[[World], None] = lambda w: None
    json: Callable[[World], Any] | None = None
    files: bool = False
    listing: bool = False  # no id in the path: a stranger gets its own (empty) list, not 404


def _run(suffix: str = "") -> Callable[[World], str]:
    return lambda w: w.run.url(suffix)


def _task(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/partners/assigned-tasks/{w.task_id}{suffix}"


def _accept_task(w: World) -> None:
    post_ok(w.owner, f"/partners/assigned-tasks/{w.task_id}/accept")


MATRIX: dict[tuple[str, str], Call] = {
    ("GET", "/partners/production-runs"): Call(lambda w: "/partners/production-runs", listing=True),
    ("GET", "/partners/production-runs/{run_id}"): Call(_run()),
    ("POST", "/partners/production-runs/{run_id}/accept"): Call(_run("/accept")),
    ("POST", "/partners/production-runs/{run_id}/decline"): Call(
        _run("/decline"), json=lambda w: {"reason": "capacity", "notes": "full this week"}
    ),
    ("POST", "/partners/production-runs/{run_id}/start"): Call(
        _run("/start"), prepare=lambda w: w.step("accept")
    ),
    ("POST", "/partners/production-runs/{run_id}/finish"): Call(
        _run("/finish"), prepare=lambda w: w.step("accept", "start"), json=lambda w: {"notes": "ok"}
    ),
    ("POST", "/partners/production-runs/{run_id}/progress"): Call(
        _run("/progress"),
        prepare=lambda w: w.step("accept"),
        json=lambda w: {"produced_quantity": 3},
    ),
    ("POST", "/partners/production-runs/{run_id}/complete"): Call(
        _run("/complete"),
        prepare=lambda w: w.step("accept", "start", "finish"),
        json=lambda w: {"produced_quantity": 10},
    ),
    ("GET", "/partners/production-runs/{run_id}/consumption-logs"): Call(_run("/consumption-logs")),
    ("POST", "/partners/production-runs/{run_id}/consumption-logs"): Call(
        _run("/consumption-logs"),
        owner_status=201,
        prepare=lambda w: w.step("accept"),
        json=lambda w: {"inventory_item_id": w.fabric["id"], "quantity": 1.5},
    ),
    ("GET", "/partners/production-runs/{run_id}/media"): Call(_run("/media")),
    ("POST", "/partners/production-runs/{run_id}/media"): Call(
        _run("/media"), owner_status=201, files=True
    ),
    ("POST", "/partners/production-runs/{run_id}/media/attach"): Call(
        _run("/media/attach"),
        json=lambda w: {"media_files": [{"url": "https://cdn.test/proof.png"}]},
    ),
    ("GET", "/partners/designs"): Call(lambda w: "/partners/designs", listing=True),
    ("GET", "/partners/designs/{design_id}"): Call(
        lambda w: f"/partners/designs/{w.run.design['id']}"
    ),
    ("GET", "/partners/assigned-tasks"): Call(lambda w: "/partners/assigned-tasks", listing=True),
    ("GET", "/partners/assigned-tasks/{task_id}"): Call(_task()),
    ("POST", "/partners/assigned-tasks/{task_id}/accept"): Call(_task("/accept")),
    ("POST", "/partners/assigned-tasks/{task_id}/finish"): Call(_task("/finish")),
    ("POST", "/partners/assigned-tasks/{task_id}/subtasks/{subtask_id}/complete"): Call(
        lambda w: f"/partners/assigned-tasks/{w.task_id}/subtasks/{w.subtask_id}/complete",
        prepare=_accept_task,
    ),
    ("GET", "/partners/assigned-tasks/{task_id}/comments"): Call(_task("/comments")),
    ("POST", "/partners/assigned-tasks/{task_id}/comments"): Call(
        _task("/comments"), owner_status=201, json=lambda w: {"comment": "fabric arrived"}
    ),
}


@pytest.fixture
def world(app: FastAPI, admin: TestClient, client: TestClient) -> Iterator[World]:
    fabric = inventory.create_item(admin)
    design = catalog.create_design(admin)
    catalog.set_bom(admin, design["id"], {fabric["id"]: 1.0})
    owner = catalog.create_partner(admin, client)
    other = catalog.create_partner(admin, client)
    dispatched(admin, client, partner=other)  # the stranger has work of its own
    run = dispatched(admin, client, partner=owner, design=design, tasks=1, subtasks=2)
    # A split assignment links the design to the partner (what GET /partners/designs shows).
    runs.split_run(
        admin,
        design_id=design["id"],
        quantity=1,
        assignments=[{"partner_id": owner.id, "quantity": 1}],
    )
    owner_client = TestClient(app, headers=owner.headers, raise_server_exceptions=False)
    detail = owner_client.get(run.url()).json()["production_run"]
    task = detail["tasks"][0]
    yield World(
        admin=admin,
        owner=owner_client,
        other=TestClient(app, headers=other.headers, raise_server_exceptions=False),
        anonymous=TestClient(app, raise_server_exceptions=False),
        run=run,
        partner=owner,
        fabric=fabric,
        task_id=task["id"],
        subtask_id=task["subtasks"][0]["id"],
    )


def _send(client: TestClient, method: str, call: Call, w: World) -> Any:
    kwargs: dict[str, Any] = {}
    if call.json is not None:
        kwargs["json"] = call.json(w)
    if call.files:
        kwargs["files"] = [("files", ("proof.png", PNG, "image/png"))]
    return client.request(method, call.url(w), **kwargs)


def test_every_partner_route_is_in_the_matrix(app: FastAPI) -> None:
    unknown = sorted(partner_routes(app) - MATRIX.keys())
    assert not unknown, (
        f"the authorization matrix does not know how to call {unknown}; add them to MATRIX"
    )


def test_the_matrix_has_no_stale_entries(app: FastAPI) -> None:
    stale = sorted(MATRIX.keys() - partner_routes(app))
    assert not stale, f"MATRIX lists routes the app no longer serves: {stale}"


@pytest.mark.parametrize(
    ("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)]
)
def test_route_authorization(world: World, app: FastAPI, method: str, path: str) -> None:
    if (method, path) not in partner_routes(app):
        pytest.fail(f"{method} {path} is in MATRIX but the app does not serve it")
    call = MATRIX[(method, path)]
    call.prepare(world)

    anonymous = _send(world.anonymous, method, call, world)
    assert anonymous.status_code == 401, f"anonymous {method} {path}: {anonymous.text}"
    assert anonymous.headers["content-type"].startswith("application/problem+json")

    as_admin = _send(world.admin, method, call, world)
    assert as_admin.status_code == 403, f"admin token {method} {path}: {as_admin.text}"

    stranger = _send(world.other, method, call, world)
    if call.listing:
        assert stranger.status_code == 200, f"other partner {method} {path}: {stranger.text}"
        leaked = {world.run.id, world.task_id, world.run.design["id"]}
        assert not any(x in stranger.text for x in leaked), (method, path, stranger.text)
    else:
        assert stranger.status_code == 404, f"other partner {method} {path}: {stranger.text}"

    owner = _send(world.owner, method, call, world)
    assert owner.status_code == call.owner_status, f"owner {method} {path}: {owner.text}"


def _set_status(w: World, status: str) -> None:
    response = w.admin.post(f"/admin/partners/{w.partner.id}", json={"status": status})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)]
)
def test_pending_partner_reads_but_does_not_act(world: World, method: str, path: str) -> None:
    """A ``pending`` partner signs in and reads; every action is 403 until it is activated."""
    call = MATRIX[(method, path)]
    call.prepare(world)
    _set_status(world, "pending")
    pending = _send(world.owner, method, call, world)
    if method == "GET":
        assert pending.status_code == call.owner_status, f"pending {method} {path}: {pending.text}"
    else:
        assert pending.status_code == 403, f"pending {method} {path}: {pending.text}"
        assert pending.json()["code"] == "partner_pending"
    _set_status(world, "active")
    # The refused call changed nothing: the same call now succeeds as it would have.
    active = _send(world.owner, method, call, world)
    assert active.status_code == call.owner_status, f"active {method} {path}: {active.text}"


@pytest.mark.parametrize(
    ("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)]
)
def test_token_from_before_a_password_change_is_refused(
    world: World, app: FastAPI, client: TestClient, method: str, path: str
) -> None:
    call = MATRIX[(method, path)]
    call.prepare(world)
    url = f"/admin/partners/{world.partner.id}/users/{world.partner.user_id}"
    assert world.admin.post(url, json={"password": "a brand new secret"}).status_code == 200
    stale = _send(world.owner, method, call, world)
    assert stale.status_code == 401, f"stale token {method} {path}: {stale.text}"
    assert stale.json()["code"] == "token_revoked"
    login = {"email": world.partner.email, "password": "a brand new secret"}
    token = client.post("/auth/partner/token", json=login).json()["token"]
    fresh = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    answer = _send(fresh, method, call, world)
    assert answer.status_code == call.owner_status, f"new token {method} {path}: {answer.text}"
