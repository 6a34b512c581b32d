"""The hot lane (``platform.hotlane``) answers a hot GET as the middleware stack does: the same
status, headers and body for every caller and every bad input, the same request id, metrics
and error logging; and it is built only over a stack it models."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from atelier.app import create_app
from atelier.catalog import service as catalog_service
from atelier.platform import hotlane
from atelier.platform.hotlane import HotLane
from atelier.platform.settings import Settings
from tests.conftest import assert_problem
from tests.platform.test_hotpath import compare_every_answer, record_paths
from tests.production.read_support import Split

# Headers that differ between two answers whatever the path (the server's clock, a fresh id).
_VARYING = {"date", "x-request-id"}


def _lane(app: FastAPI, client: TestClient) -> HotLane:
    client.get("/health")  # the stack (and the lane) are built at the first request
    lane = app.state.hot_lane
    assert isinstance(lane, HotLane)
    return lane


@pytest.fixture
def lane_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the lane answered itself (not handed to the stack)."""
    return record_paths(monkeypatch, HotLane, "answer")


def _both(lane: HotLane, client: TestClient, url: str, **kwargs: Any) -> tuple[Any, Any]:
    lane.enabled = True
    try:
        fast = client.get(url, **kwargs)
        lane.enabled = False
        slow = client.get(url, **kwargs)
    finally:
        lane.enabled = True
    return fast, slow


def _same(fast: Any, slow: Any) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    one = {k: v for k, v in fast.headers.items() if k not in _VARYING}
    two = {k: v for k, v in slow.headers.items() if k not in _VARYING}
    assert one == two
    assert fast.headers["x-request-id"] and slow.headers["x-request-id"]
    if fast.headers.get("content-type", "").startswith("application/problem+json"):
        first, second = fast.json(), slow.json()
        assert first.pop("request_id", None) in (None, fast.headers["x-request-id"])
        assert second.pop("request_id", None) in (None, slow.headers["x-request-id"])
        assert first == second
    else:
        assert fast.content == slow.content


def test_the_lane_is_built_over_the_app_stack(app: FastAPI, client: TestClient) -> None:
    lane = _lane(app, client)
    assert lane.index is app.state.route_index
    assert lane.enabled


def test_lane_answers_equal_stack_answers(
    app: FastAPI, admin: TestClient, client: TestClient, split: Split, lane_calls: list[str]
) -> None:
    """Every caller × every hot URL (and its bad inputs): status, headers and body as the
    whole middleware stack gives them."""
    lane = _lane(app, client)
    compared = compare_every_answer(app, admin, split, partial(_both, lane), _same)
    assert len(lane_calls) > compared / 3, "the lane answered too little"
    assert not any(path.endswith("export.csv") for path in lane_calls)


def test_client_request_id_is_echoed_both_ways(
    app: FastAPI, admin: TestClient, client: TestClient, split: Split, lane_calls: list[str]
) -> None:
    lane = _lane(app, client)
    url = f"/admin/designs/{split.design['id']}"
    for headers in ({"X-Request-ID": "client-id-42"}, {"X-Request-ID": "bad id with spaces"}):
        fast, slow = _both(lane, admin, url, headers=headers)
        _same(fast, slow)
        if headers["X-Request-ID"] == "client-id-42":
            assert fast.headers["x-request-id"] == slow.headers["x-request-id"] == "client-id-42"
        else:
            assert fast.headers["x-request-id"].startswith("req_")
    missing = admin.get("/admin/designs/des_missing", headers={"X-Request-ID": "abc-1"})
    assert_problem(missing, 404)
    assert missing.headers["x-request-id"] == "abc-1"
    assert url in lane_calls


def _count(route: str, status: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(
        "atelier_http_requests_total", {"method": "GET", "route": route, "status": status}
    )
    return value or 0.0


def test_metrics_count_lane_requests_like_the_stack(
    app: FastAPI, admin: TestClient, client: TestClient, split: Split
) -> None:
    lane = _lane(app, client)
    template = "/admin/designs/{design_id}"
    for status, url in (
        ("200", f"/admin/designs/{split.design['id']}"),
        ("404", "/admin/designs/x"),
    ):
        before = _count(template, status)
        _both(lane, admin, url)
        assert _count(template, status) - before == 2


def test_an_unexpected_error_is_one_logged_500_both_ways(
    app: FastAPI,
    admin: TestClient,
    client: TestClient,
    split: Split,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lane = _lane(app, client)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the design read broke")

    monkeypatch.setattr(catalog_service, "design_read", broken)
    url = f"/admin/designs/{split.design['id']}"
    template = "/admin/designs/{design_id}"
    before = _count(template, "500")
    with caplog.at_level(logging.ERROR, logger="atelier.errors"):
        fast, slow = _both(lane, admin, url)
    _same(fast, slow)
    body = assert_problem(fast, 500, "internal_error")
    assert body["request_id"] == fast.headers["x-request-id"]
    logged = [r for r in caplog.records if r.name == "atelier.errors"]
    assert len(logged) == 2, [r.getMessage() for r in logged]  # once per request
    for record in logged:
        assert record.exc_info is not None and "the design read broke" in str(record.exc_info[1])
        assert getattr(record, "route", None) == template
    assert _count(template, "500") - before == 2


def test_a_get_with_a_body_goes_through_the_stack(
    app: FastAPI, admin: TestClient, client: TestClient, split: Split, lane_calls: list[str]
) -> None:
    _lane(app, client)
    url = f"/admin/designs/{split.design['id']}"
    response = admin.request(
        "GET", url, content=b'{"x": 1}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    chunked = admin.request("GET", url, content=iter([b"abc"]))
    assert chunked.status_code == 200
    assert lane_calls == []
    assert admin.get(url).status_code == 200
    assert lane_calls == [url]


def test_no_lane_over_a_middleware_it_does_not_model(settings: Settings, db: Any) -> None:
    class Stamp:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)

    application = create_app(settings, database=db, start_background=False)
    application.add_middleware(Stamp)
    with TestClient(application) as test_client:
        assert test_client.get("/health").status_code == 200
    assert application.state.hot_lane is None


def test_no_lane_when_a_path_aware_middleware_acts_on_a_hot_route(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atelier.web.shared.install import WebCompression

    monkeypatch.setattr(
        WebCompression, "passive_for", staticmethod(lambda path: "designs" not in path)
    )
    stack = app.build_middleware_stack()
    assert not isinstance(stack, HotLane)
    monkeypatch.undo()
    assert isinstance(app.build_middleware_stack(), HotLane)


def test_no_lane_without_hot_routes(app: FastAPI) -> None:
    assert hotlane.hot_lane(app.build_middleware_stack(), None) is None


def test_a_request_the_lane_hands_on_is_matched_against_hot_routes_once(
    app: FastAPI, admin: TestClient, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atelier.platform.routing import RouteIndex

    _lane(app, client)
    matched: list[str] = []
    original = RouteIndex.match_hot

    def counting(self: RouteIndex, scope: Scope, *args: Any) -> Any:
        matched.append(scope["path"])
        return original(self, scope, *args)

    monkeypatch.setattr(RouteIndex, "match_hot", counting)
    assert admin.get("/admin/designs").status_code == 200  # not a hot route
    assert matched == ["/admin/designs"]
