"""Mount the web UI on the app: static files, HTML error pages for web paths, routers."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from atelier.platform.errors import DomainError
from atelier.platform.http import KIND_STATUS, TITLES
from atelier.web.shared.csrf import CsrfRejected
from atelier.web.shared.render import STATIC_PREFIX, is_htmx, render
from atelier.web.shared.session import SignInRequired, WrongArea

log = logging.getLogger(__name__)

WEB_PREFIXES = ("/app", "/portal")

# Web routers mounted by ``install_web``; each module exposes ``router``.
WEB_ROUTER_MODULES: list[str] = [
    "atelier.web.admin.endpoints_session",
    "atelier.web.admin.endpoints_runs",
    "atelier.web.admin.endpoints_run_detail",
    "atelier.web.admin.endpoints_designs",
    "atelier.web.admin.endpoints_partners",
    "atelier.web.admin.endpoints_templates",
    "atelier.web.admin.endpoints_messages",
    "atelier.web.admin.endpoints_feed",
    "atelier.web.admin.endpoints_flows",
    "atelier.web.portal.endpoints_session",
    "atelier.web.portal.endpoints_upload",
    "atelier.web.portal.endpoints_runs",
]

Handler = Callable[[Request, Exception], Awaitable[Response]]


class CachedStaticFiles(StaticFiles):
    """Static files with a long cache lifetime: URLs carry a content hash (``static_url``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


class WebCompression:
    """gzip for pages and static files only (phones on slow links); the JSON API is untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    @staticmethod
    def passive_for(path: str) -> bool:
        """Whether requests for ``path`` pass through untouched (``platform.hotlane``)."""
        return not (path.startswith(STATIC_PREFIX + "/") or is_web_path(path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not self.passive_for(path):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def is_web_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in WEB_PREFIXES)


def _area(request: Request) -> str:
    return "portal" if request.url.path.startswith("/portal") else "admin"


def error_page(request: Request, status_code: int, message: str) -> Response:
    """A plain HTML error page in the area's layout (never a traceback)."""
    return render(
        request,
        "shared/error.html",
        {
            "status_code": status_code,
            "title": TITLES.get(status_code, "Error"),
            "message": message,
            "area": _area(request),
        },
        status_code=status_code,
    )


def _redirect(request: Request, url: str) -> Response:
    if is_htmx(request):
        # htmx follows HX-Redirect with a full page load instead of swapping a login form in.
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _wrap(app: FastAPI, exc_class: type[Exception], web: Handler) -> None:
    """Answer ``exc_class`` with ``web`` on web paths and the API's handler elsewhere."""
    api = app.exception_handlers.get(exc_class)

    async def handler(request: Request, exc: Exception) -> Response:
        if is_web_path(request.url.path) or api is None:
            return await web(request, exc)
        response = api(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(exc_class, handler)


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return _redirect(request, exc.sign_in_url)


async def _wrong_area(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WrongArea)
    message = (
        "This area is for the brand's admins. Partner workshops use the portal."
        if exc.area == "admin"
        else "This area is for partner workshops."
    )
    return error_page(request, 403, message)


async def _csrf(request: Request, exc: Exception) -> Response:
    return error_page(
        request, 403, "The form had expired or came from another site. Reload the page and retry."
    )


async def _domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return error_page(request, KIND_STATUS[exc.kind], exc.detail)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path"))
    message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
    return error_page(request, 422, message)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = "This page does not exist." if exc.status_code == 404 else str(exc.detail)
    return error_page(request, exc.status_code, message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Logged once, with its traceback and request id, by platform.middleware.UnhandledErrors.
    return error_page(request, 500, "Something went wrong on our side. Try again in a moment.")


def install_web(app: FastAPI) -> None:
    """Static files under ``/static``, the web routers, and HTML error pages for them."""
    app.add_middleware(WebCompression)
    static = CachedStaticFiles(packages=[("atelier.web", "static")])
    app.mount(STATIC_PREFIX, static, name="static")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(WrongArea, _wrong_area)
    app.add_exception_handler(CsrfRejected, _csrf)
    _wrap(app, DomainError, _domain)
    _wrap(app, RequestValidationError, _validation)
    _wrap(app, StarletteHTTPException, _http)
    _wrap(app, Exception, _unexpected)
    for name in WEB_ROUTER_MODULES:
        app.include_router(importlib.import_module(name).router)
