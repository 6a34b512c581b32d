"""A route index in front of the app's router: a request is matched only against the routes
that could match its first two path segments.

The app mounts ~45 routers (one per endpoint module, plus the web pages) and ~200 routes.
FastAPI's router tries them in order, each included router scanning its own routes, so a
request for a route late in the order (``/partners/production-runs/{id}``) pays for matching
every ``/admin/…`` route first: 17 included routers and 76 route matches per request,
0.1–0.3 ms of pure Python on the hottest reads.

:class:`RouteIndex` keys every top-level route by the literal segments its path starts with
(``/admin/designs/{design_id}`` → ``("admin", "designs")``; an included router by the keys
of all its routes) and, per request, hands the request to a router holding only the routes
whose key is a prefix of the request's path, **in their original order**. A route whose key
is not a prefix cannot match, so the first full match (and the first partial one, which
becomes a 405) is the one the whole router would have found. When nothing in the bucket
matches, the request goes to the whole router, so 404s, trailing-slash redirects and
anything the index does not know behave exactly as before. ``tests/platform/test_routing.py``
resolves every route of the app both ways and compares.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Host, Mount
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)

# Segments of a path that key its bucket.
_DEPTH = 2
Key = tuple[str, ...]


def path_key(path: str) -> Key:
    """The literal segments ``path`` starts with, up to two (none after a parameter)."""
    key: list[str] = []
    for segment in path.split("/")[1 : _DEPTH + 1]:
        if "{" in segment:
            break
        key.append(segment)
    return tuple(key)


def _route_keys(route: BaseRoute, prefix: str = "") -> list[Key] | None:
    """The keys ``route`` can match under (its path after ``prefix``, the prefixes it was
    included with), or ``None`` when it could match any path."""
    if isinstance(route, Host):
        return None
    if isinstance(route, Mount):
        # A mount at the root could take any path.
        return [path_key(prefix + route.path)] if prefix + route.path else None
    original = getattr(route, "original_router", None)  # FastAPI's included router
    if isinstance(original, APIRouter):
        context = getattr(route, "include_context", None)
        included = getattr(context, "prefix", "")
        if not isinstance(included, str):
            return None
        return _keys_of(original.routes, prefix + included)
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return [path_key(prefix + path)]


def _keys_of(routes: Iterable[BaseRoute], prefix: str = "") -> list[Key] | None:
    keys: list[Key] = []
    for route in routes:
        found = _route_keys(route, prefix)
        if found is None:
            return None
        keys.extend(found)
    return keys


def _is_prefix(key: Key, segments: Key) -> bool:
    return segments[: len(key)] == key


class RouteIndex:
    """The ASGI callable that routes a request through its bucket (see the module doc)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._index()

    def _index(self) -> None:
        router = self.router
        self._count = len(router.routes)
        self._keys: list[tuple[BaseRoute, list[Key] | None]] = [
            (route, _route_keys(route)) for route in router.routes
        ]
        # Literal segments that appear in some key, by depth: a request segment outside them
        # becomes NUL (matches no literal), which keeps the bucket cache bounded.
        self._known: list[set[str]] = [set() for _ in range(_DEPTH)]
        for _, keys in self._keys:
            for key in keys or ():
                for depth, segment in enumerate(key):
                    self._known[depth].add(segment)
        self._buckets: dict[Key, APIRouter | None] = {}

    def _bucket(self, segments: Key) -> APIRouter | None:
        bucket = self._buckets.get(segments)
        if bucket is None and segments not in self._buckets:
            routes = [
                route
                for route, keys in self._keys
                if keys is None or any(_is_prefix(key, segments) for key in keys)
            ]
            bucket = self._sub_router(routes) if len(routes) < len(self._keys) else None
            self._buckets[segments] = bucket
        return bucket

    def _sub_router(self, routes: Sequence[BaseRoute]) -> APIRouter:
        # Same routes, same order; no redirect of its own and, when nothing matches, the whole
        # router answers (redirects, low-priority routes, 404).
        sub = APIRouter(redirect_slashes=False)
        sub.routes = list(routes)
        sub.default = self.router.app
        if hasattr(self.router, "form_limits"):
            sub.form_limits = self.router.form_limits
        return sub

    def _segments(self, scope: Scope) -> Key:
        parts = get_route_path(scope).split("/")[1 : _DEPTH + 1]
        known = self._known
        return tuple(part if part in known[i] else "\x00" for i, part in enumerate(parts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router.app(scope, receive, send)
            return
        if len(self.router.routes) != self._count:  # a route added after start-up (tests)
            self._index()
        bucket = self._bucket(self._segments(scope))
        if bucket is None:
            await self.router.app(scope, receive, send)
            return
        scope.setdefault("router", self.router)
        await bucket.app(scope, receive, send)


def install_route_index(router: APIRouter) -> RouteIndex | None:
    """Put a :class:`RouteIndex` in front of ``router`` once every route is added.

    Not installed (the router stays as it is) when the router has FastAPI low-priority
    (frontend) routes, whose precedence the index does not model, or middleware of its own.
    """
    low_priority = getattr(router, "_low_priority_routes", None)
    if low_priority or getattr(router, "_frontend_routes", None) is not None:
        log.info("route index not installed: the router has low-priority routes")
        return None
    if router.middleware_stack != router.app:
        log.info("route index not installed: the router has middleware of its own")
        return None
    index = RouteIndex(router)
    router.middleware_stack = index
    return index
