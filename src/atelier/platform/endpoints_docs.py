"""``GET /docs``: Swagger UI served from this process, so the docs work without internet.

FastAPI's default page loads Swagger UI's script and stylesheet from a public CDN (and ReDoc
likewise); here the assets come from the ``swagger-ui-bundle-v2`` package, served under
``/docs/assets/``. ReDoc is not offered.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from atelier.platform.errors import NotFound, PlatformCode
from atelier.platform.routers import APIRouter

router = APIRouter(include_in_schema=False)

ASSETS_PATH = "/docs/assets"
# The only files the page needs (no directory listing, no path from the client reaches the disk).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive API docs (Swagger UI) for ``/openapi.json``."""
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        # No "valid" badge: it would send the spec to an online validator.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(f"{ASSETS_PATH}/{{name}}", response_class=FileResponse)
def swagger_ui_asset(name: Annotated[str, Path(max_length=64)]) -> FileResponse:
    """One of Swagger UI's static files, from the installed package."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no docs asset {name!r}", code=PlatformCode.NOT_FOUND)
    return FileResponse(
        str(swagger_ui_path / name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
