"""Hot routes: the hottest GET endpoints answered without FastAPI's per-request machinery.

A FastAPI request goes through ``request_response`` (a ``Request``, two exit stacks, its own
exception wrapper), the route handler (telemetry, endpoint context, body handling) and
``solve_dependencies`` (a recursive walk of the dependency tree with cache keys, an empty
``Response`` for headers, four ``request_params_to_args`` calls) before the endpoint runs. For a
read that costs a few SQLite statements, that is a large share of the request.

An endpoint marked :func:`hot` keeps its FastAPI declaration (the OpenAPI contract, and the
path every request takes when the hot path does not apply), and the route index
(``platform.routing``) answers its GET requests through a :class:`HotRoute` compiled from the
same ``Dependant`` when the app starts:

* the dependency tree is solved in FastAPI's order (sub-dependencies first, each once per
  request), its query and path parameters validated as FastAPI's ``request_params_to_args``
  validates them (same values, same 422 errors, collected as FastAPI collects them): with its
  own helpers, but with what it works out from each field's annotation on every request
  (aliases, list or not, parameter model or not) worked out once, at start
  (:func:`read_params`; ``tests/platform/test_hotpath.py`` compares the two);
* the request's database session is the session dependency's own context manager
  (``deps.request_session``: admission, commit or roll back, close), exited when the endpoint
  has returned and before the response is sent, as a ``scope="function"`` dependency is;
* the endpoint runs in the worker-thread pool, as FastAPI runs a sync endpoint (on SQLite a
  :func:`bounded_read` runs on the event loop), and returns a ``Response``, which is sent as
  it is (FastAPI does the same with a returned ``Response``).

Only what that covers compiles: parameters from the path and the query, ``Request``, the
session dependencies and ``async def`` dependencies made of those; an endpoint that is a sync
function annotated to return a ``Response``. Anything else (a header, a cookie, a body, a sync
dependency, a generator other than the session, dependencies given to ``include_router``,
security scopes, FastAPI dependency concurrency) leaves the route to FastAPI, and
``tests/platform/test_hotpath.py`` fails if a route marked hot did not compile. When the app has
``dependency_overrides`` (tests), every request goes through FastAPI.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import params
from fastapi._compat import Undefined, field_annotation_is_sequence
from fastapi.dependencies import utils as fastapi_utils
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from atelier.platform import deps

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])
_HOT = "__atelier_hot__"

# Dependant attributes a hot route may not use (FastAPI fills them for special parameters).
_UNSUPPORTED_PARAMS = (
    "header_params",
    "cookie_params",
    "body_params",
)
_UNSUPPORTED_NAMES = (
    "websocket_param_name",
    "http_connection_param_name",
    "response_param_name",
    "background_tasks_param_name",
    "security_scopes_param_name",
)

_SESSION = 1
_WRITE_SESSION = 2
_ASYNC = 3


_BOUNDED = "__atelier_hot_bounded__"


def hot(endpoint: _Endpoint) -> _Endpoint:
    """Mark a GET endpoint for the hot path (put it under the ``@router.get`` decorator)."""
    setattr(endpoint, _HOT, True)
    return endpoint


def bounded_read(endpoint: _Endpoint) -> _Endpoint:
    """Mark a hot endpoint (under :func:`hot`) as a bounded read: a fixed number of look-ups by
    key, whatever the data grows to. On SQLite it then runs on the event loop instead of a
    worker thread, on the database's loop connection (``read_session.LoopConnection``: no pool
    checkout): a WAL read waits for no writer, and such a read (0.1–0.5 ms) costs less than
    the hop to a thread and back. When another request holds the loop connection it reads in
    a worker thread on a pooled one. On PostgreSQL (network round trips) it always hops.
    Never for a read that scans or counts (a list): that would stall every other request."""
    setattr(endpoint, _BOUNDED, True)
    return endpoint


def is_hot(route: object) -> bool:
    return isinstance(route, APIRoute) and getattr(route.endpoint, _HOT, False) is True


class NotCompiled(Exception):
    """The route uses something the hot path does not model (the message says what)."""


@dataclass(frozen=True, slots=True)
class _Param:
    """One path or query parameter, analysed once (what ``request_params_to_args`` works out
    from the field's annotation on every request): the request keys to try, whether values
    are read as a list, its ``loc`` in errors."""

    field: Any
    name: str
    keys: tuple[str, ...]  # request keys in preference order (the first is the default)
    in_: str
    as_list: bool  # read with ``getlist`` (a sequence annotation, not Json)
    sequence: bool  # an empty list counts as missing


def _params(fields: Sequence[Any]) -> tuple[_Param, ...] | None:
    """The fields as :class:`_Param`, or ``None`` when one needs what only FastAPI's generic
    reader models (a parameter model, a non-``Param`` field): the node then uses it."""
    found = []
    for field in fields:
        info = field.field_info
        if not isinstance(info, params.Param) or fastapi_utils._get_param_model(field) is not None:
            return None
        sequence = bool(field_annotation_is_sequence(info.annotation))
        found.append(
            _Param(
                field=field,
                name=field.name,
                keys=tuple(key for _, key in fastapi_utils._get_param_aliases(field)),
                in_=info.in_.value,
                as_list=sequence and not fastapi_utils._is_json_field(field),
                sequence=sequence,
            )
        )
    return tuple(found)


def read_params(
    fields: tuple[_Param, ...], received: Any, values: dict[str, Any], errors: list[Any]
) -> None:
    """``request_params_to_args(fields, received)`` into ``values`` and ``errors``, with the
    per-field analysis done at start-up (the same values, the same errors)."""
    multi = isinstance(received, (ImmutableMultiDict, Headers))
    for param in fields:
        key = param.keys[0]
        if len(param.keys) > 1:
            key = next((k for k in param.keys if k in received), key)
        value = received.getlist(key) if param.as_list and multi else received.get(key, None)
        if value is None or (param.sequence and len(value) == 0):
            value = Undefined
        value, field_errors = fastapi_utils._validate_value_with_model_field(
            field=param.field, value=value, values=values, loc=(param.in_, key)
        )
        if field_errors:
            errors.extend(field_errors)
        else:
            values[param.name] = value


def _read(
    fields: Sequence[Any],
    analysed: tuple[_Param, ...] | None,
    received: Any,
    values: dict[str, Any],
    errors: list[Any],
) -> None:
    """One node's path or query parameters into ``values`` and ``errors``: analysed ones with
    :func:`read_params`, the others with FastAPI's own reader."""
    if analysed is not None:
        read_params(analysed, received, values, errors)
        return
    found, found_errors = request_params_to_args(fields, received)
    values.update(found)
    errors.extend(found_errors)


@dataclass(frozen=True, slots=True)
class _Node:
    """One dependency (or the endpoint itself, as the root) of a hot route."""

    call: Callable[..., Any]
    name: str | None
    kind: int
    subs: tuple[_Node, ...]
    request_name: str | None
    path_fields: Sequence[Any]
    query_fields: Sequence[Any]
    use_cache: bool
    path_params: tuple[_Param, ...] | None  # None: read with ``request_params_to_args``
    query_params: tuple[_Param, ...] | None
    leaf: bool  # no sub-dependencies and no parameters


def _compile_node(dependant: Any, *, root: bool) -> _Node:
    call = dependant.call
    if call is None:
        raise NotCompiled("a dependency without a callable")
    for attribute in _UNSUPPORTED_PARAMS:
        if getattr(dependant, attribute, None):
            raise NotCompiled(f"{getattr(call, '__name__', call)} uses {attribute}")
    for attribute in _UNSUPPORTED_NAMES:
        if getattr(dependant, attribute, None):
            raise NotCompiled(f"{getattr(call, '__name__', call)} uses {attribute}")
    if getattr(dependant, "concurrency", None) is not None:
        raise NotCompiled(f"{call.__name__} has a dependency concurrency limit")
    if getattr(dependant, "own_oauth_scopes", None):
        raise NotCompiled(f"{call.__name__} uses security scopes")
    if call is deps.get_session:
        kind = _SESSION
    elif call is deps.get_write_session:
        kind = _WRITE_SESSION
    elif root:
        kind = 0
    elif _is_async_function(call):
        kind = _ASYNC
    else:
        raise NotCompiled(f"dependency {getattr(call, '__name__', call)} is not an async function")
    if kind in (_SESSION, _WRITE_SESSION) and getattr(dependant, "scope", None) != "function":
        raise NotCompiled("the session dependency is not function-scoped")
    subs = tuple(_compile_node(sub, root=False) for sub in dependant.dependencies)
    return _Node(
        call=call,
        name=dependant.name,
        kind=kind,
        subs=subs,
        request_name=dependant.request_param_name,
        path_fields=tuple(dependant.path_params),
        query_fields=tuple(dependant.query_params),
        use_cache=bool(getattr(dependant, "use_cache", True)),
        path_params=_params(dependant.path_params),
        query_params=_params(dependant.query_params),
        leaf=not (subs or dependant.path_params or dependant.query_params),
    )


def _is_async_function(call: Any) -> bool:
    return inspect.iscoroutinefunction(call)


def _returns_response(endpoint: Callable[..., Any]) -> bool:
    try:
        hints = typing.get_type_hints(endpoint)
    except Exception:  # an annotation that does not resolve: leave the route to FastAPI
        return False
    returned = hints.get("return")
    return isinstance(returned, type) and issubclass(returned, Response)


class _Solved:
    """One request's dependency values, errors and open session (the FastAPI cache)."""

    __slots__ = ("cache", "errors", "on_loop", "request", "session_cm")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.cache: dict[Callable[..., Any], Any] = {}
        self.errors: list[Any] = []
        self.session_cm: AbstractAsyncContextManager[Session] | None = None
        self.on_loop = False  # the session reads on the loop connection: run the endpoint here


class HotRoute:
    """A compiled hot GET route (see the module doc)."""

    __slots__ = ("bounded", "root", "route")

    def __init__(self, route: APIRoute) -> None:
        if set(route.methods or ()) != {"GET"}:
            raise NotCompiled(f"{route.path} is not a GET-only route")
        if not _returns_response(route.endpoint):
            raise NotCompiled(f"{route.endpoint.__name__} is not annotated to return a Response")
        if _is_async_function(route.endpoint):
            raise NotCompiled(f"{route.endpoint.__name__} is async (the hot path runs sync ones)")
        self.route = route
        self.root = _compile_node(route.dependant, root=True)
        self.bounded = getattr(route.endpoint, _BOUNDED, False) is True

    async def _solve(self, node: _Node, solved: _Solved) -> tuple[dict[str, Any], bool]:
        """``node``'s arguments (its sub-dependencies solved first, in order); ``False`` when an
        error was collected in its subtree (then it is not called, as in FastAPI)."""
        values: dict[str, Any] = {}
        ok = True
        request = solved.request
        for sub in node.subs:
            if sub.use_cache and sub.call in solved.cache:
                value = solved.cache[sub.call]
            else:
                if sub.leaf:  # nothing to solve or read: its arguments are at most the request
                    sub_values = {} if sub.request_name is None else {sub.request_name: request}
                else:
                    sub_values, sub_ok = await self._solve(sub, solved)
                    if not sub_ok:
                        ok = False
                        continue
                if sub.kind == _SESSION or sub.kind == _WRITE_SESSION:
                    # A hot route is GET-only: ``get_session`` admits it as a reader, here
                    # with a read session (no ORM unit of work unless the endpoint uses it).
                    write = sub.kind == _WRITE_SESSION
                    cm = deps.request_session(
                        request, write=write, hot_read=not write, on_loop=self.bounded
                    )
                    value = await cm.__aenter__()
                    solved.session_cm = cm
                    solved.on_loop = getattr(value, "on_loop", False)
                else:
                    value = await sub.call(**sub_values)
                solved.cache.setdefault(sub.call, value)
            if sub.name is not None:
                values[sub.name] = value
        if node.request_name is not None:
            values[node.request_name] = request
        errors = solved.errors
        before = len(errors)
        if node.path_fields:
            _read(node.path_fields, node.path_params, request.path_params, values, errors)
        if node.query_fields:
            _read(node.query_fields, node.query_params, request.query_params, values, errors)
        return values, ok and len(errors) == before

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        solved = _Solved(request)
        try:
            values, _ = await self._solve(self.root, solved)
            if solved.errors:
                raise RequestValidationError(solved.errors)
            if solved.on_loop:
                response = self.root.call(**values)  # see bounded_read: no thread hop
            else:
                response = await run_in_threadpool(self.root.call, **values)
        except BaseException as exc:
            cm = solved.session_cm
            if cm is not None:  # rolls back and closes (it never swallows the error)
                await cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        cm = solved.session_cm
        if cm is not None:
            await cm.__aexit__(None, None, None)
        if not isinstance(response, Response):  # the annotation lied: fail loudly
            raise TypeError(f"{self.root.call.__name__} returned {type(response).__name__}")
        await response(scope, receive, send)


def compile_hot(route: APIRoute) -> HotRoute:
    """The hot path of ``route`` (marked with :func:`hot`); :class:`NotCompiled` says why not."""
    return HotRoute(route)
