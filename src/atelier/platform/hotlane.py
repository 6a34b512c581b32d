"""The hot lane: a hot route's GET request answered without the app's eleven ASGI layers.

Every request passes through the app's middleware stack: Starlette's ``ServerErrorMiddleware``,
FastAPI's exception telemetry and body limit, ``UnhandledErrors`` (request id, unexpected
errors), ``WebCompression``, ``HttpMetrics``, ``BodySizeLimit``, ``JsonBodyCheck``,
Starlette's ``ExceptionMiddleware`` (the app's exception handlers), FastAPI's
``AsyncExitStackMiddleware`` and the router. Each layer is a coroutine call and most wrap
``send`` in a closure of their own: on the design read (three primary-key statements) the
layers cost ~40 µs of a 160 µs request, as much as the SQL.

For a GET request without a body that a hot route answers (``RouteIndex.match_hot``), the
layers that do something are three, and :class:`HotLane` does what they do in one frame:

* ``UnhandledErrors``: the request id (``request.state.request_id``, the ``X-Request-ID``
  response header) and the one 500 for an exception no handler took
  (``middleware.answer_unhandled``, the same code);
* ``HttpMetrics``: requests in progress, the count and duration by route and status
  (``HttpMetrics.observe``, the same instance);
* ``ExceptionMiddleware``: the app's exception handlers (Starlette's own
  ``wrap_app_handling_exceptions`` with the middleware's handler tables).

The others do nothing for such a request: there is no body to limit or decode, the JSON API is
not compressed (``WebCompression`` covers pages and static files only, and says so with
``passive_for``: a hot route on a page path means no lane), FastAPI's exception telemetry
acts only on requests its route handler traced (a hot route has none), no file is opened on
the exit stack, and ``ServerErrorMiddleware`` only sees what
``UnhandledErrors`` lets through (nothing but ``BaseException``, which propagates from the lane
too). The lane is built only over a stack of exactly these layers (:func:`hot_lane`): a
middleware it does not know (a test's, a new one) means no lane, never a skipped layer.
``tests/platform/test_hotlane.py`` answers the same requests through the lane and through the
stack (success, 401, 403, 404, 422, an unexpected error) and compares status, headers, body,
metrics and logs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette._exception_handler import _lookup_exception_handler, wrap_app_handling_exceptions
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atelier.platform.metrics import HTTP_STATS, HttpMetrics
from atelier.platform.middleware import (
    BodySizeLimit,
    JsonBodyCheck,
    UnhandledErrors,
    answer_unhandled,
    request_id_of,
    tag_request_id,
)
from atelier.platform.routing import HOT_CHECKED, RouteIndex

log = logging.getLogger(__name__)

_HANDLERS = "starlette.exception_handlers"
# Layers that do nothing for a GET request without a body answered by a JSON hot route (see the
# module doc), by class name where the class is private to FastAPI.
_PASSIVE = {
    "ExceptionTelemetryMiddleware",
    "AppBodyLimitMiddleware",
    "AsyncExitStackMiddleware",
}
# A middleware of the app's own that does nothing for some paths says so with this method
# (``passive_for(path) -> bool``; ``WebCompression``: any path but pages and static files).
PASSIVE_FOR = "passive_for"


def _without_body(scope: Scope) -> bool:
    """No ``Content-Length`` above zero and no ``Transfer-Encoding``: nothing to read."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.strip() not in (b"0", b""):
                return False
        elif name == b"transfer-encoding":
            return False
    return True


class _Reraise:
    """An ASGI app that raises the exception a hot route raised, so Starlette's exception
    wrapper handles it as if it came from inside ``ExceptionMiddleware``."""

    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise self.exc


class HotLane:
    """The app's outermost ASGI callable: hot GETs through the lane, the rest to ``stack``."""

    def __init__(
        self,
        stack: ASGIApp,
        index: RouteIndex,
        metrics: HttpMetrics,
        exceptions: ExceptionMiddleware,
    ) -> None:
        self.stack = stack
        self.index = index
        self.metrics = metrics
        self.handlers = (exceptions._exception_handlers, exceptions._status_handlers)
        # Off: every request through the stack (tests compare both ways).
        self.enabled = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not self.enabled
            or not _without_body(scope)
        ):
            await self.stack(scope, receive, send)
            return
        route = self.index.match_hot(scope)
        if route is None:
            scope[HOT_CHECKED] = True  # the router's index need not match it again
            await self.stack(scope, receive, send)
            return
        await self.answer(route, scope, receive, send)

    async def answer(self, route: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """``route``'s answer with what the three acting layers do (see the module doc)."""
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = False

        async def lane_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                tag_request_id(message, request_id)
            await send(message)

        begun = time.perf_counter()
        HTTP_STATS.started()
        try:
            try:
                await route(scope, receive, lane_send)
            except Exception as exc:
                await self._handle(scope, receive, lane_send, exc, started=started)
        except Exception as exc:
            await answer_unhandled(scope, receive, lane_send, exc, request_id, started=started)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - begun)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception, *, started: bool
    ) -> None:
        """``ExceptionMiddleware``'s handling of ``exc``: the app's handler answers it, or it
        is raised on (no handler; or half a response out: then a handled exception becomes
        Starlette's RuntimeError)."""
        if started:
            exception_handlers, status_handlers = self.handlers
            handler = (
                status_handlers.get(exc.status_code) if isinstance(exc, HTTPException) else None
            )
            if handler is None and _lookup_exception_handler(exception_handlers, exc) is None:
                raise exc
            raise RuntimeError("Caught handled exception, but response already started.") from exc
        scope[_HANDLERS] = self.handlers
        handled = wrap_app_handling_exceptions(_Reraise(exc), Request(scope, receive, send))
        await handled(scope, receive, send)


def _layers(stack: Any, index: RouteIndex) -> list[Any]:
    """The middleware of ``stack`` from the outermost in, down to the router whose routing
    ``index`` does (not included)."""
    found = []
    layer = stack
    while layer is not None and getattr(layer, "middleware_stack", None) is not index:
        found.append(layer)
        layer = getattr(layer, "app", None)
    return found


def hot_lane(stack: ASGIApp, index: RouteIndex | None) -> HotLane | None:
    """The lane over ``stack`` (the app's built middleware stack, whose router's middleware is
    ``index``), or ``None`` when the stack holds a layer the lane does not model."""
    if index is None or not index.hot_routes:
        return None
    found_index: RouteIndex = index
    paths = [entry.route.path for entry in index.hot_routes]
    metrics: HttpMetrics | None = None
    exceptions: ExceptionMiddleware | None = None
    known = (ServerErrorMiddleware, UnhandledErrors, BodySizeLimit, JsonBodyCheck)
    for layer in _layers(stack, index):
        if isinstance(layer, HttpMetrics):
            metrics = layer
        elif isinstance(layer, ExceptionMiddleware):
            exceptions = layer
        elif isinstance(layer, known) or type(layer).__name__ in _PASSIVE:
            continue
        elif callable(getattr(layer, PASSIVE_FOR, None)):
            busy = [path for path in paths if not layer.passive_for(path)]
            if busy:
                log.info("hot lane not installed: %s acts on %s", type(layer).__name__, busy)
                return None
        else:
            log.info("hot lane not installed: %s in the middleware stack", type(layer).__name__)
            return None
    if metrics is None or exceptions is None:
        return None
    return HotLane(stack, found_index, metrics, exceptions)
