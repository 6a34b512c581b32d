"""The route index (``platform.routing``) picks the route the whole router would have picked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match, Mount

from atelier.platform.routing import RouteIndex, install_route_index, leaves, path_key
from tests.conftest import assert_problem

_PARAM = re.compile(r"{([^}:]+)(:[^}]+)?}")


def _scope(path: str, method: str = "GET", root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "headers": [],
        "query_string": b"",
    }


def _first(routes: list[BaseRoute], scope: dict[str, Any]) -> tuple[str, BaseRoute | None]:
    """What the router's loop decides: the first full match, else the first partial one."""
    partial: BaseRoute | None = None
    for route in routes:
        match, _ = route.matches(dict(scope))
        if match is Match.FULL:
            return "full", route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return ("partial", partial) if partial is not None else ("none", None)


def _index(app: FastAPI) -> RouteIndex:
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex), "the app serves through the route index"
    return index


def _decide(index: RouteIndex, scope: dict[str, Any]) -> tuple[str, BaseRoute | None]:
    bucket = index._bucket(index._segments(scope))
    routes = index.router.routes if bucket is None else bucket.routes
    decided = _first(routes, scope)
    # Nothing matched in the bucket: the whole router answers, as without the index.
    return _first(index.router.routes, scope) if decided[0] == "none" else decided


def _concrete_paths(app: FastAPI) -> Iterator[tuple[str, str]]:
    for _, route, _ in leaves(app.router.routes):
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        if isinstance(route, Mount):
            path += "/file.css"
        concrete = _PARAM.sub(lambda m: "a/b" if m.group(2) == ":path" else "x1", path)
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            yield method, concrete


def test_every_route_of_the_app_is_found_as_the_whole_router_finds_it(app: FastAPI) -> None:
    index = _index(app)
    paths = list(_concrete_paths(app))
    assert len(paths) > 150
    extra = ["/", "//", "/admin", "/admin/", "/nope", "/admin/nope/x", "/partners/x1", "/x1/x1"]
    for method, path in paths + [(m, p) for p in extra for m in ("GET", "POST")]:
        for variant in (path, path + "/", path.rstrip("/") or "/"):
            for verb in (method, "DELETE", "PATCH"):
                scope = _scope(variant, verb)
                expected = _first(app.router.routes, scope)
                assert _decide(index, scope) == expected, (verb, variant)
    # Behind a proxy prefix the index keys on the path under root_path, as the router does.
    scope = _scope("/partners/production-runs/x1", root_path="/atelier")
    assert _decide(index, scope) == _first(app.router.routes, scope)
    assert _decide(index, scope)[0] == "full"


def test_the_cache_of_buckets_stays_bounded(app: FastAPI) -> None:
    index = _index(app)
    for n in range(500):
        index._bucket(index._segments(_scope(f"/admin/unknown-{n}/x")))
        index._bucket(index._segments(_scope(f"/unknown-{n}")))
    assert len(index._buckets) < 50


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/health", ("health",)),
        ("/admin/designs/{design_id}", ("admin", "designs")),
        ("/admin/{x}/y", ("admin",)),
        ("/{x}", ()),
        ("/", ("",)),
        ("/media/files/{key:path}", ("media", "files")),
    ],
)
def test_path_key(path: str, key: tuple[str, ...]) -> None:
    assert path_key(path) == key


class TestThroughTheApp:
    def test_unknown_paths_wrong_methods_and_slashes_answer_as_before(
        self, admin: TestClient
    ) -> None:
        assert_problem(admin.get("/admin/no-such-thing"), 404)
        assert_problem(admin.get("/nothing-here"), 404)
        assert admin.delete("/admin/designs").status_code == 405
        assert admin.get("/admin/designs").status_code == 200
        redirected = admin.get("/admin/designs/", follow_redirects=False)
        assert redirected.status_code == 307
        assert redirected.headers["location"].endswith("/admin/designs")
        assert admin.get("/health").status_code == 200
        assert admin.get("/static/does-not-exist.css").status_code == 404

    def test_a_route_added_later_is_served(self, app: FastAPI, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/late-route"), 404)

        @app.get("/admin/late-route")
        def late() -> dict[str, str]:
            return {"late": "yes"}

        assert admin.get("/admin/late-route").json() == {"late": "yes"}


def test_routers_included_with_a_prefix_are_keyed_by_their_full_path() -> None:
    inner = APIRouter()

    @inner.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        return {"inner": item_id}

    middle = APIRouter(prefix="/shop")
    middle.include_router(inner, prefix="/v1")
    other = APIRouter()

    @other.get("/shop/{anything:path}")
    def fallback(anything: str) -> dict[str, str]:
        return {"fallback": anything}

    app = FastAPI()
    app.include_router(middle, prefix="/api")
    app.include_router(other)

    @app.get("/api/shop/v1/items/{item_id}", name="shadowed")
    def shadowed(item_id: str) -> dict[str, str]:
        return {"shadowed": item_id}

    install_route_index(app.router)
    index = _index(app)
    for path in ("/api/shop/v1/items/7", "/shop/a/b", "/api/nope", "/api/shop/v1/items"):
        for verb in ("GET", "POST"):
            scope = _scope(path, verb)
            assert _decide(index, scope) == _first(app.router.routes, scope), (verb, path)
    client = TestClient(app)
    assert client.get("/api/shop/v1/items/7").json() == {"inner": "7"}
    assert client.get("/shop/a/b").json() == {"fallback": "a/b"}
    assert client.get("/api/nope").status_code == 404
