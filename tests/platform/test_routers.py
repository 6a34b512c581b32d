"""The app's routes build FastAPI's request machinery on first use (``platform/routers.py``).

What a :class:`LazyAPIRoute` sets at once must be what ``APIRoute`` computes from the same
options, route by route; what it defers must appear, built once, when something reads it; and
neither serving nor the OpenAPI document may need the deferred copy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from atelier.app import create_app
from atelier.platform.db import Database
from atelier.platform.routers import _BUILT_ON_USE, _RESPONSE_MODEL, LazyAPIRoute
from atelier.platform.routing import leaves
from atelier.platform.settings import Settings


def app_routes(app: FastAPI) -> Iterator[BaseRoute]:
    """Every route of the app's routers (FastAPI includes routers by reference)."""
    for _, route, _ in leaves(app.router.routes):
        yield route


def _api_routes(app: FastAPI) -> list[APIRoute]:
    return [route for route in app_routes(app) if isinstance(route, APIRoute)]


def _eager_twin(route: LazyAPIRoute) -> APIRoute:
    assert route._deferred is not None
    path, endpoint, options = route._deferred
    return APIRoute(path, endpoint, **options)


class TestEveryRouteIsLazy:
    def test_the_app_has_no_eager_api_route(self, app: FastAPI) -> None:
        routes = _api_routes(app)
        assert len(routes) > 150
        eager = [f"{r.path} {sorted(r.methods)}" for r in routes if type(r) is not LazyAPIRoute]
        assert eager == [], "build routers with atelier.platform.routers.APIRouter"


class TestSameStateAsFastAPI:
    def test_every_route_sets_what_apiroute_computes(self, app: FastAPI) -> None:
        for route in _api_routes(app):
            if route.built:
                continue
            twin = _eager_twin(route)
            eager = vars(twin)
            lazy = {k: v for k, v in vars(route).items() if k != "_deferred"}
            where = f"{sorted(route.methods)} {route.path}"
            # Nothing APIRoute sets is forgotten: set here, or built when first read.
            assert set(eager) == set(lazy) | _BUILT_ON_USE | _RESPONSE_MODEL, where
            for name, value in lazy.items():
                assert value == eager[name], (where, name)
            assert route.response_model == twin.response_model, where
            assert not route.built, where  # the response model alone builds nothing

    def test_reading_a_deferred_attribute_builds_the_route_once(self, app: FastAPI) -> None:
        route = next(r for r in _api_routes(app) if isinstance(r, LazyAPIRoute) and not r.built)
        twin = _eager_twin(route)
        fresh = LazyAPIRoute(*route._deferred[:2], **route._deferred[2])  # type: ignore[index]
        seen: list[Any] = []
        start = threading.Barrier(4)

        def read() -> None:
            start.wait()
            seen.append((fresh.dependant, fresh.app, fresh.response_field))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert fresh.built
        assert len({tuple(map(id, values)) for values in seen}) == 1  # one build, shared
        assert fresh.dependant.call is twin.dependant.call
        assert [p.name for p in fresh.dependant.query_params] == [
            p.name for p in twin.dependant.query_params
        ]
        assert (fresh.body_field is None) == (twin.body_field is None)
        assert (fresh.response_field is None) == (twin.response_field is None)

    def test_a_miss_is_still_an_attribute_error(self, app: FastAPI) -> None:
        route = next(r for r in _api_routes(app) if isinstance(r, LazyAPIRoute) and not r.built)
        assert getattr(route, "original_router", None) is None
        assert not route.built


class TestServingNeedsNoEagerCopy:
    def test_requests_and_openapi_leave_every_route_deferred(
        self, settings: Settings, db: Database
    ) -> None:
        application = create_app(settings, database=db, start_background=False)
        # Routers are module globals: other tests may have built some routes already.
        deferred = [r for r in _api_routes(application) if not r.built]
        assert deferred
        with TestClient(application) as client:
            assert client.get("/health").status_code == 200
            assert client.post("/auth/admin/token", json={}).status_code == 422
            assert client.get("/openapi.json").status_code == 200
        assert [f"{r.path} {sorted(r.methods)}" for r in deferred if r.built] == []

    def test_openapi_is_the_same_when_every_route_is_built(
        self, settings: Settings, db: Database
    ) -> None:
        lazy_app = create_app(settings, database=db, start_background=False)
        lazy = json.dumps(lazy_app.openapi(), sort_keys=True)
        routes = [r for r in _api_routes(lazy_app) if isinstance(r, LazyAPIRoute)]
        saved = [dict(vars(route)) for route in routes]
        try:
            for route in routes:
                route.build()
            built_app = create_app(settings, database=db, start_background=False)
            assert json.dumps(built_app.openapi(), sort_keys=True) == lazy
        finally:  # the routers are module globals: leave them as other tests found them
            for route, state in zip(routes, saved, strict=True):
                vars(route).clear()
                vars(route).update(state)
