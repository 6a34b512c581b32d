"""The app's ``APIRouter``: its routes build FastAPI's request machinery when first used.

FastAPI (≥ 0.16x) includes a router by reference and serves its routes through *effective
contexts* that it builds, per included router, on the router's first request: each context
analyses the endpoint's signature and dependencies again and makes its own ``TypeAdapter``\\ s
for the parameters, the body and the response. The ``APIRoute`` that a decorator built at
import time did all of that work already, and an included route never uses it: requests and
OpenAPI both go through the contexts. For the app's ~210 routes that eager copy was ~20 % of
``atelier serve``'s start-up (callgrind instructions; see the README, Performance → Start-up).

:class:`LazyAPIRoute` keeps what including, matching and building a context read from a route
(path, methods, name, tags, dependencies, ``response_model``, …: the same values
``APIRoute`` computes, checked route by route in ``tests/platform/test_routers.py``) and
builds the rest — ``dependant``, the body and response fields, the ASGI ``app`` — only when
something reads it: a route served without an enclosing include, or code that inspects a
route. The build runs once, under a lock, so two threads reading at once get one build.

Every router of the app comes from here (``tests/platform/test_routers.py`` fails on a route
that is not a :class:`LazyAPIRoute`).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from enum import Enum, IntEnum
from typing import Any

import fastapi
from fastapi import params
from fastapi._compat import lenient_issubclass
from fastapi.datastructures import Default, DefaultPlaceholder
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path, get_name

# Read by FastAPI only once a request or the OpenAPI document needs the route's handler.
_BUILT_ON_USE = frozenset(
    {
        "dependant",
        "_embed_body_fields",
        "body_field",
        "response_field",
        "response_fields",
        "stream_item_field",
        "app",
    }
)
# Read when FastAPI builds an included route's context (the router's first request).
_RESPONSE_MODEL = frozenset({"response_model"})

# Options whose handling this class does not reproduce: a route given one is built at once.
_EAGER_OPTIONS = frozenset({"form_limits"})

_build_lock = threading.RLock()


class LazyAPIRoute(APIRoute):
    """An ``APIRoute`` that defers its dependant, fields and handler (see the module doc)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        if _EAGER_OPTIONS & options.keys() or not _is_plain_function(endpoint):
            super().__init__(path, endpoint, **options)
            return
        self._deferred: tuple[str, Callable[..., Any], dict[str, Any]] | None = (
            path,
            endpoint,
            options,
        )
        self.form_limits = {}
        # The attributes FastAPI sets from the options alone (fastapi.routing
        # _populate_api_route_state), in its order.
        self.path = path
        self.endpoint = endpoint
        self.stream_item_type = None
        self.summary = options.get("summary")
        self.response_description = options.get("response_description", "Successful Response")
        self.deprecated = options.get("deprecated")
        self.operation_id = options.get("operation_id")
        self.response_model_include = options.get("response_model_include")
        self.response_model_exclude = options.get("response_model_exclude")
        self.response_model_by_alias = options.get("response_model_by_alias", True)
        self.response_model_exclude_unset = options.get("response_model_exclude_unset", False)
        self.response_model_exclude_defaults = options.get("response_model_exclude_defaults", False)
        self.response_model_exclude_none = options.get("response_model_exclude_none", False)
        self.include_in_schema = options.get("include_in_schema", True)
        self.response_class = options.get("response_class", Default(JSONResponse))
        self.dependency_overrides_provider = options.get("dependency_overrides_provider")
        self.callbacks = options.get("callbacks")
        self.openapi_extra = options.get("openapi_extra")
        generate_id = options.get("generate_unique_id_function", Default(generate_unique_id))
        self.generate_unique_id_function = generate_id
        self.strict_content_type = options.get("strict_content_type", Default(True))
        max_body_size = options.get("max_body_size")
        if max_body_size is not None and (
            isinstance(max_body_size, bool)
            or not isinstance(max_body_size, int)
            or max_body_size < 0
        ):
            raise ValueError("max_body_size must be a non-negative integer or None")
        self.max_body_size = max_body_size
        self.tags: list[str | Enum] = options.get("tags") or []
        self.responses: dict[int | str, dict[str, Any]] = options.get("responses") or {}
        name = options.get("name")
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        methods = options.get("methods") or ["GET"]
        self.methods = {method.upper() for method in methods}
        if isinstance(generate_id, DefaultPlaceholder):
            generate_id = generate_id.value
        self.unique_id = self.operation_id or generate_id(self)
        status_code = options.get("status_code")
        self.status_code = int(status_code) if isinstance(status_code, IntEnum) else status_code
        dependencies: Sequence[params.Depends] = options.get("dependencies") or []
        self.dependencies = list(dependencies)
        self.description = options.get("description") or inspect.cleandoc(endpoint.__doc__ or "")
        self.description = self.description.split("\f")[0].strip()
        # Plain (not generator) endpoints: FastAPI streams only generators.
        self.is_sse_stream = False
        self.is_json_stream = False

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not (yet) set: the deferred ones, or a miss.
        if name in _RESPONSE_MODEL and self.__dict__.get("_deferred") is not None:
            with _build_lock:
                if name not in self.__dict__:
                    self.response_model = self._response_model()
                return self.__dict__[name]
        if name in _BUILT_ON_USE:
            self.build()
            if name in self.__dict__:
                return self.__dict__[name]
        raise AttributeError(name)

    @property
    def built(self) -> bool:
        """Whether FastAPI's full route state exists (built at once or on first use)."""
        return self.__dict__.get("_deferred") is None

    def build(self) -> None:
        """Build what ``APIRoute.__init__`` builds (once; a no-op when built)."""
        with _build_lock:
            deferred = self.__dict__.get("_deferred")
            if deferred is None:
                return
            path, endpoint, options = deferred
            super().__init__(path, endpoint, **options)
            self._deferred = None

    def _response_model(self) -> Any:
        """What FastAPI makes of the ``response_model`` option: the endpoint's return
        annotation when it was not given, ``None`` for an annotated ``Response``."""
        assert self._deferred is not None
        response_model = self._deferred[2].get("response_model", Default(None))
        if not isinstance(response_model, DefaultPlaceholder):
            return response_model
        return_annotation = get_typed_return_annotation(self.endpoint)
        if lenient_issubclass(return_annotation, Response):
            return None
        return return_annotation


def _is_plain_function(endpoint: Callable[..., Any]) -> bool:
    """A function or coroutine function that yields nothing (no streaming to reproduce)."""
    return (
        inspect.isfunction(endpoint)
        and not inspect.isgeneratorfunction(endpoint)
        and not inspect.isasyncgenfunction(endpoint)
    )


class APIRouter(fastapi.APIRouter):
    """``fastapi.APIRouter`` whose routes are :class:`LazyAPIRoute` unless told otherwise."""

    def __init__(self, *, route_class: type[APIRoute] = LazyAPIRoute, **options: Any) -> None:
        super().__init__(route_class=route_class, **options)
