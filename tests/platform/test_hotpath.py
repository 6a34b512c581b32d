"""Hot routes (``platform.hotpath``) answer exactly as FastAPI does: same status, body and
content type for every caller and every bad input, the same route precedence, the same session
handling; and every route marked hot compiled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.platform import hotpath
from atelier.platform.deps import require_admin
from atelier.platform.hotpath import HotRoute, NotCompiled, compile_hot, hot
from atelier.platform.routing import RouteIndex
from tests.conftest import assert_problem, bearer
from tests.production.read_support import Split, as_partner

HOT = {
    "/admin/designs/{design_id}",
    "/admin/production-runs",
    "/admin/production-runs/{run_id}",
    "/partners/production-runs",
    "/partners/production-runs/{run_id}",
}


def _index(app: FastAPI) -> RouteIndex:
    index = app.state.route_index
    assert isinstance(index, RouteIndex)
    return index


def record_paths(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[str]:
    """Patch the ASGI-like method ``owner.name`` to record the path of every scope it gets."""
    seen: list[str] = []
    original = getattr(owner, name)

    async def spy(self: Any, *args: Any) -> None:
        scope = next(arg for arg in args if isinstance(arg, dict))
        seen.append(scope["path"])
        await original(self, *args)

    monkeypatch.setattr(owner, name, spy)
    return seen


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the hot path answered."""
    return record_paths(monkeypatch, HotRoute, "__call__")


def test_every_route_marked_hot_compiled(app: FastAPI) -> None:
    marked = set()
    for route in app.routes:
        for leaf in getattr(getattr(route, "original_router", None), "routes", [route]):
            if hotpath.is_hot(leaf):
                marked.add(leaf.path)
    compiled = {entry.route.path for entry in _index(app).hot_routes}
    assert marked == HOT
    assert compiled == marked


def _both(app: FastAPI, client: TestClient, url: str) -> tuple[Any, Any]:
    index = _index(app)
    index.hot_enabled = True
    try:
        fast = client.get(url)
        index.hot_enabled = False
        slow = client.get(url)
    finally:
        index.hot_enabled = True
    return fast, slow


def _same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.headers.get("content-type") == slow.headers.get("content-type")
    if fast.headers.get("content-type", "").endswith("json"):
        one, two = fast.json(), slow.json()
        if isinstance(one, dict) and "instance" in one:  # problem+json names the request
            one.pop("request_id", None), two.pop("request_id", None)
        assert one == two
    else:
        assert fast.content == slow.content


def _urls(split: Split) -> list[str]:
    long_id = "r" * 65
    return [
        f"/admin/designs/{split.design['id']}",
        "/admin/designs/des_missing",
        f"/admin/designs/{long_id}",
        "/admin/designs/a%00b",
        "/admin/production-runs",
        "/admin/production-runs?status=in_progress,sent_to_partner&limit=2&offset=1",
        f"/admin/production-runs?partner_id={split.cutter.id}&include_children=true",
        f"/admin/production-runs?parent_run_id={split.parent['id']}",
        "/admin/production-runs?q=run&sort=created_at",
        "/admin/production-runs?status=bogus",
        "/admin/production-runs?sort=nope",
        "/admin/production-runs?limit=0&offset=-1",
        "/admin/production-runs?include_children=maybe",
        "/admin/production-runs?q=" + "x" * 201,
        f"/admin/production-runs/{split.first}",
        f"/admin/production-runs/{split.parent['id']}",
        "/admin/production-runs/run_missing",
        f"/admin/production-runs/{long_id}",
        "/admin/production-runs/export.csv",
        "/admin/production-runs/export.csv?status=in_progress",
        "/partners/production-runs",
        "/partners/production-runs?status=in_progress&limit=1",
        "/partners/production-runs?status=bogus",
        "/partners/production-runs?limit=501",
        "/partners/production-runs?role=" + "r" * 65,
        f"/partners/production-runs/{split.first}",
        f"/partners/production-runs/{split.second}",
        f"/partners/production-runs/{split.parent['id']}",
        "/partners/production-runs/run_missing",
        f"/partners/production-runs/{long_id}",
    ]


def compare_every_answer(
    app: FastAPI,
    admin: TestClient,
    split: Split,
    both: Callable[[TestClient, str], tuple[Any, Any]],
    same: Callable[[Any, Any], None],
) -> int:
    """``same(*both(client, url))`` for every caller and every hot URL; the number compared."""
    compared = 0
    callers = _callers(app, admin, split)
    for caller, client in callers.items():
        for url in _urls(split):
            fast, slow = both(client, url)
            try:
                same(fast, slow)
            except AssertionError as exc:
                raise AssertionError(f"{caller} GET {url}: {exc}") from exc
            compared += 1
    assert compared == len(callers) * len(_urls(split))
    return compared


def _callers(app: FastAPI, admin: TestClient, split: Split) -> dict[str, TestClient]:
    anonymous = TestClient(app, raise_server_exceptions=False)
    forged = TestClient(app, headers=bearer("not.a.token"), raise_server_exceptions=False)
    basic = TestClient(app, headers={"Authorization": "Basic eDp5"}, raise_server_exceptions=False)
    return {
        "admin": admin,
        "owner": as_partner(app, split.cutter),
        "other partner": as_partner(app, split.tailor),
        "anonymous": anonymous,
        "forged token": forged,
        "basic auth": basic,
    }


def test_hot_answers_equal_fastapi_answers(
    app: FastAPI, admin: TestClient, split: Split, calls: list[str]
) -> None:
    """Every caller × every URL: status, content type and body as FastAPI gives them."""
    compare_every_answer(app, admin, split, partial(_both, app), _same)
    assert calls, "the hot path answered nothing"
    # The export is declared before the run detail: the index leaves it to FastAPI.
    assert not any(path.endswith("export.csv") for path in calls)


def test_precedence_export_csv_is_not_a_run_id(
    admin: TestClient, split: Split, calls: list[str]
) -> None:
    response = admin.get("/admin/production-runs/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert calls == []


def test_hot_path_is_taken_for_each_hot_route(
    admin: TestClient, app: FastAPI, split: Split, calls: list[str]
) -> None:
    partner = as_partner(app, split.cutter)
    admin.get(f"/admin/designs/{split.design['id']}").raise_for_status()
    admin.get("/admin/production-runs").raise_for_status()
    admin.get(f"/admin/production-runs/{split.first}").raise_for_status()
    partner.get("/partners/production-runs").raise_for_status()
    partner.get(f"/partners/production-runs/{split.first}").raise_for_status()
    assert len(calls) == 5


def test_dependency_overrides_go_through_fastapi(
    admin: TestClient, app: FastAPI, split: Split, calls: list[str]
) -> None:
    async def deny() -> None:
        from atelier.platform.errors import Forbidden, PlatformCode

        raise Forbidden("overridden", code=PlatformCode.ADMIN_ONLY)

    app.dependency_overrides[require_admin] = deny
    try:
        response = admin.get(f"/admin/designs/{split.design['id']}")
    finally:
        app.dependency_overrides.clear()
    assert_problem(response, 403, "admin_only")
    assert calls == []


def test_deactivated_partner_is_refused_at_once_on_the_hot_path(
    admin: TestClient, app: FastAPI, split: Split
) -> None:
    partner = as_partner(app, split.cutter)
    url = f"/partners/production-runs/{split.first}"
    assert partner.get(url).status_code == 200
    response = admin.post(f"/admin/partners/{split.cutter.id}", json={"status": "inactive"})
    assert response.status_code == 200, response.text
    assert_problem(partner.get(url), 403, "partner_inactive")
    assert_problem(partner.get("/partners/production-runs"), 403, "partner_inactive")


def test_errors_release_the_session_and_admission(
    admin: TestClient, app: FastAPI, split: Split
) -> None:
    """Many failing hot requests in a row (404, 422) leave no transaction or admission behind:
    a write and a read still go through."""
    for _ in range(30):
        assert admin.get("/admin/production-runs/run_missing").status_code == 404
        assert admin.get("/admin/production-runs?status=bogus").status_code == 422
    db = app.state.db
    assert db.admission.sessions.in_use == 0 and db.admission.writers.in_use == 0
    response = admin.post(f"/admin/designs/{split.design['id']}", json={"name": "Renamed"})
    assert response.status_code == 200, response.text
    body = admin.get(f"/admin/designs/{split.design['id']}").json()
    assert body["design"]["name"] == "Renamed"


def test_concurrent_hot_reads(app: FastAPI, admin_token: str, split: Split) -> None:
    """100 concurrent hot reads through the real ASGI app: every one answers 200."""
    urls = [
        f"/admin/designs/{split.design['id']}",
        f"/admin/production-runs/{split.first}",
        "/admin/production-runs?limit=5",
    ]

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=bearer(admin_token)
        ) as http:
            answers = await asyncio.gather(*(http.get(urls[i % 3]) for i in range(100)))
        return [answer.status_code for answer in answers]

    with TestClient(app):  # the lifespan: the worker-thread pool size, as served
        statuses = asyncio.run(burst())
    assert statuses == [200] * 100


def _app_with(*endpoints: Any) -> Iterator[str]:
    for endpoint in endpoints:
        try:
            yield str(compile_hot(endpoint))
        except NotCompiled as exc:
            yield f"not compiled: {exc}"


def test_routes_the_hot_path_does_not_model_are_left_to_fastapi() -> None:
    from fastapi import APIRouter, Body, Header
    from fastapi.routing import APIRoute
    from starlette.responses import Response

    router = APIRouter()

    @router.get("/h")
    @hot
    def with_header(x: str = Header()) -> Response:
        return Response()

    @router.get("/p")
    @hot
    def returns_model() -> dict[str, str]:
        return {}

    @router.get("/a")
    @hot
    async def is_async() -> Response:
        return Response()

    def sync_dependency() -> int:
        return 1

    from fastapi import Depends

    @router.get("/d")
    @hot
    def with_sync_dependency(value: int = Depends(sync_dependency)) -> Response:
        return Response()

    @router.post("/b")
    @hot
    def with_body(body: dict[str, Any] = Body()) -> Response:
        return Response()

    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    reasons = list(_app_with(*routes))
    assert all(reason.startswith("not compiled: ") for reason in reasons), reasons


_QUERIES = [
    "",
    "limit=5&offset=10",
    "limit=abc",
    "limit=0",
    "limit=100000",
    "offset=-1",
    "limit=5&limit=7",
    "status=in_progress",
    "status=bogus",
    "status=in_progress&status=approved",
    "status=",
    "status=in_progress,approved",
    "status=" + "&status=".join(["approved"] * 25),
    "q=",
    "q=kurta",
    "q=" + "x" * 300,
    "q=%00",
    "partner_id=partner_x&design_id=design_y&order_id=order_z",
    "partner_id=" + "p" * 300,
    "parent_run_id=&include_children=true",
    "include_children=maybe",
    "sort=created_at",
    "sort=-quantity",
    "sort=nope",
    "role=" + "r" * 100,
    "role=cutting",
    "run_type=sample",
    "run_type=nope",
]
_PATHS = [
    {"design_id": "design_01", "run_id": "prod_run_01"},
    {"design_id": "", "run_id": ""},
    {"design_id": "d" * 500, "run_id": "r" * 500},
    {"design_id": "bad id!", "run_id": "bad/id"},
    {},
]


def _comparable(errors: list[Any]) -> list[Any]:
    """Errors with their ``ctx`` exceptions as text (two equal ``ValueError``s are not ``==``)."""
    found = []
    for error in errors:
        ctx = error.get("ctx")
        if ctx:
            error = {**error, "ctx": {key: repr(value) for key, value in ctx.items()}}
        found.append(error)
    return found


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    for sub in node.subs:
        yield from _nodes(sub)


def test_parameters_are_read_as_fastapi_reads_them(app: FastAPI) -> None:
    """``read_params`` (the per-field analysis done at start) gives what FastAPI's
    ``request_params_to_args`` gives, values and errors, for every parameter of every hot
    route, on valid, invalid, missing, repeated and empty values."""
    from fastapi.dependencies.utils import request_params_to_args
    from starlette.datastructures import QueryParams

    compared = 0
    for entry in _index(app).hot_routes:
        for node in _nodes(entry.app.root):
            for fields, params, inputs in (
                (node.path_fields, node.path_params, _PATHS),
                (node.query_fields, node.query_params, [QueryParams(q) for q in _QUERIES]),
            ):
                if not fields:
                    continue
                assert params is not None, f"{entry.route.path}: a parameter left to FastAPI"
                for received in inputs:
                    values: dict[str, Any] = {}
                    errors: list[Any] = []
                    hotpath.read_params(params, received, values, errors)
                    expected = request_params_to_args(fields, received)
                    assert (values, _comparable(errors)) == (
                        expected[0],
                        _comparable(expected[1]),
                    ), (entry.route.path, received)
                    compared += 1
    assert compared >= 3 * len(_QUERIES) + 3 * len(_PATHS)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hot endpoints sent to a worker thread."""
    seen: list[str] = []
    original = hotpath.run_in_threadpool

    async def spy(func: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(func.__name__ + " " + func.__module__.rsplit(".", 1)[-1])
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(hotpath, "run_in_threadpool", spy)
    return seen


def _hot_gets(app: FastAPI, admin: TestClient, split: Split) -> None:
    partner = as_partner(app, split.cutter)
    admin.get(f"/admin/designs/{split.design['id']}").raise_for_status()
    admin.get(f"/admin/production-runs/{split.first}").raise_for_status()
    admin.get("/admin/production-runs").raise_for_status()
    partner.get(f"/partners/production-runs/{split.first}").raise_for_status()
    partner.get("/partners/production-runs").raise_for_status()


def test_bounded_reads_skip_the_thread_hop_on_sqlite_only(
    app: FastAPI, admin: TestClient, split: Split, hops: list[str]
) -> None:
    """The detail reads (look-ups by key) run on the event loop on SQLite; the lists (which
    count and sort) always run in a worker thread, and everything does on PostgreSQL."""
    _hot_gets(app, admin, split)
    lists = ["list_runs endpoints_admin", "list_runs endpoints_partner"]
    if app.state.db.is_sqlite:
        assert hops == lists
    else:
        assert hops == [
            "get_design endpoints",
            "get_run endpoints_admin",
            *lists[:1],
            "get_run endpoints_partner",
            *lists[1:],
        ]


def test_bounded_reads_hop_when_the_loop_connection_is_held(
    app: FastAPI, admin: TestClient, split: Split, hops: list[str]
) -> None:
    """A bounded read whose loop connection another request holds (one that went to a worker
    thread) reads in a worker thread on a pooled connection: the event loop never waits."""
    db = app.state.db
    if db.loop_reads is None:
        pytest.skip("PostgreSQL: bounded reads always hop")
    assert db.loop_reads.acquire()
    try:
        _hot_gets(app, admin, split)
    finally:
        db.loop_reads.release(keep=True)
    assert len(hops) == 5
    hops.clear()
    _hot_gets(app, admin, split)
    assert len(hops) == 2  # the lists only, once it is free again


def test_bounded_reads_hop_when_no_loop_connection_can_be_opened_without_waiting(
    app: FastAPI, admin: TestClient, split: Split, hops: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop connection comes from the pool; with no pooled connection free (and none
    opened yet) the bounded reads hop instead of waiting on the event loop."""
    db = app.state.db
    if db.loop_reads is None:
        pytest.skip("PostgreSQL: bounded reads always hop")
    db.loop_reads.close()
    monkeypatch.setattr(db.loop_reads, "_connection_free", lambda: False)
    _hot_gets(app, admin, split)
    assert len(hops) == 5


def test_connection_free_counts_checked_out_connections(app: FastAPI) -> None:
    db = app.state.db
    assert db.connection_free()
    held = [db.engine.connect() for _ in range(db.pool_capacity)]
    try:
        assert not db.connection_free()
        held.pop().close()
        assert db.connection_free()
    finally:
        for connection in held:
            connection.close()


def test_hot_reads_end_their_session_without_a_thread_hop(
    app: FastAPI, admin: TestClient, split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read session that only read ends on the event loop: on SQLite its WAL read
    transaction ends without waiting, on PostgreSQL its autocommit reads left none to end."""
    import anyio.to_thread

    finished_in_threads: list[str] = []
    original = anyio.to_thread.run_sync

    async def spy(func: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(func, "__name__", "") == "finish":
            finished_in_threads.append(repr(func))
        return await original(func, *args, **kwargs)

    _hot_gets(app, admin, split)  # the principals are cached from here on
    monkeypatch.setattr(anyio.to_thread, "run_sync", spy)
    partner = as_partner(app, split.cutter)
    admin.get(f"/admin/designs/{split.design['id']}").raise_for_status()
    partner.get(f"/partners/production-runs/{split.first}").raise_for_status()
    assert finished_in_threads == []
    # A Core statement runs on a SQLAlchemy ``Connection`` (the admin run detail has one): a
    # real transaction on PostgreSQL, ended in a worker thread. The lists' are prepared.
    admin.get(f"/admin/production-runs/{split.first}").raise_for_status()
    admin.get("/admin/production-runs").raise_for_status()
    partner.get("/partners/production-runs").raise_for_status()
    assert len(finished_in_threads) == (0 if app.state.db.is_sqlite else 1)
