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

**Hot routes.** A GET endpoint marked ``@hot`` (``platform.hotpath``) is answered by its
compiled :class:`~atelier.platform.hotpath.HotRoute` straight from the index, without FastAPI's
request handling, when its path matches and no route declared before it could match the same
request (each such route's full-path regex is tried first: ``/admin/production-runs/export.csv``
stays the export, not a run id). Anything else, and every request of an app with
``dependency_overrides``, goes through the router as above.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.convertors import StringConvertor
from starlette.routing import BaseRoute, Host, Mount, compile_path
from starlette.types import Receive, Scope, Send

from atelier.platform.hotpath import HotRoute, NotCompiled, is_hot

log = logging.getLogger(__name__)

# Set in a request's scope by whoever matched it against the hot routes and found none.
HOT_CHECKED = "atelier.hot_checked"

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


def _compatible(a: Key, b: Key) -> bool:
    """Two keys some path could have both: one is a prefix of the other."""
    return _is_prefix(a, b) or _is_prefix(b, a)


# A route of the flattened app: its full path (``None``: it could match any path, or the
# index cannot tell), the route, and whether an ``include_router`` on the way added
# dependencies (a hot route there would skip them).
_Leaf = tuple[str | None, BaseRoute, bool]


def leaves(routes: Iterable[BaseRoute], prefix: str = "", extra: bool = False) -> Iterator[_Leaf]:
    """The routes under ``routes`` in the order the router tries them, included routers opened
    (their prefixes joined to the paths)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if isinstance(original, APIRouter):
            context = getattr(route, "include_context", None)
            included = getattr(context, "prefix", "")
            if not isinstance(included, str):
                yield None, route, True
                continue
            more = bool(getattr(context, "dependencies", None))
            yield from leaves(original.routes, prefix + included, extra or more)
            continue
        path = getattr(route, "path", None)
        if isinstance(route, Mount | Host) or not isinstance(path, str) or not path:
            yield None, route, extra
            continue
        yield prefix + path, route, extra


@dataclass(frozen=True, slots=True)
class _HotEntry:
    key: Key
    regex: re.Pattern[str]
    convertors: dict[str, Any]
    route: APIRoute
    app: HotRoute
    # Full-path regexes of the routes declared before it that could take a GET of its paths.
    before: tuple[re.Pattern[str], ...]
    # Every path parameter is a plain string (Starlette's ``str`` convertor returns it as is).
    strings: bool = False


def _hot_entries(routes: Sequence[BaseRoute]) -> list[_HotEntry]:
    found = list(leaves(routes))
    entries: list[_HotEntry] = []
    for position, (path, route, extra) in enumerate(found):
        if not is_hot(route):
            continue
        assert isinstance(route, APIRoute)
        try:
            if path is None or extra:
                raise NotCompiled("included with dependencies or under an unknown prefix")
            key = path_key(path)
            before: list[re.Pattern[str]] = []
            for earlier_path, earlier, _ in found[:position]:
                if earlier_path is None:
                    raise NotCompiled(f"{earlier!r} before it could match any path")
                methods = getattr(earlier, "methods", None)
                if methods is not None and "GET" not in methods:
                    continue  # at most a partial match, which a full one beats
                if _compatible(path_key(earlier_path), key):
                    before.append(compile_path(earlier_path)[0])
            regex, _, convertors = compile_path(path)
            strings = all(isinstance(c, StringConvertor) for c in convertors.values())
            entries.append(
                _HotEntry(key, regex, convertors, route, HotRoute(route), tuple(before), strings)
            )
        except NotCompiled as exc:
            log.warning("hot route %s left to FastAPI: %s", route.path, exc)
    return entries


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
        self.hot_routes = _hot_entries(router.routes)
        self._hot: dict[Key, tuple[_HotEntry, ...]] = {}
        # Off: every request through the router (tests compare both ways).
        self.hot_enabled = True

    def _hot_for(self, segments: Key) -> tuple[_HotEntry, ...]:
        found = self._hot.get(segments)
        if found is None:
            found = tuple(e for e in self.hot_routes if _is_prefix(e.key, segments))
            self._hot[segments] = found
        return found

    def match_hot(self, scope: Scope, segments: Key | None = None) -> HotRoute | None:
        """The hot route that answers this GET request, with the request's path parameters,
        endpoint and route put in ``scope`` as the router puts them; ``None`` when the router
        has to answer (no hot route matches, a route declared earlier could, the app has
        ``dependency_overrides``, hot routes are off)."""
        if not self.hot_enabled or scope["method"] != "GET":
            return None
        if len(self.router.routes) != self._count:  # a route added after start-up (tests)
            self._index()
        route_path = get_route_path(scope)
        entries = self._hot_for(self._segments(scope, route_path) if segments is None else segments)
        if not entries:
            return None
        for entry in entries:
            found = entry.regex.match(route_path)
            if found is None:
                continue
            if entry.before and any(earlier.match(route_path) for earlier in entry.before):
                return None
            if getattr(scope.get("app"), "dependency_overrides", None):
                return None
            params = dict(scope.get("path_params") or ())
            if entry.strings:
                params.update(found.groupdict())
            else:
                for name, value in found.groupdict().items():
                    params[name] = entry.convertors[name].convert(value)
            scope["path_params"] = params
            scope["endpoint"] = entry.route.endpoint
            scope["route"] = entry.route
            scope.setdefault("router", self.router)
            return entry.app
        return None

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

    def _segments(self, scope: Scope, route_path: str | None = None) -> Key:
        path = get_route_path(scope) if route_path is None else route_path
        parts = path.split("/")[1 : _DEPTH + 1]
        known = self._known
        return tuple(part if part in known[i] else "\x00" for i, part in enumerate(parts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router.app(scope, receive, send)
            return
        if len(self.router.routes) != self._count:  # a route added after start-up (tests)
            self._index()
        segments = self._segments(scope)
        # The hot lane (``platform.hotlane``) asked already and was told no: same answer here.
        hot = None if scope.get(HOT_CHECKED) else self.match_hot(scope, segments)
        if hot is not None:
            await hot(scope, receive, send)
            return
        bucket = self._bucket(segments)
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
