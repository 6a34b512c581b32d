"""``/docs`` works offline: Swagger UI's assets are served by the service (issue 8, defect 8)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_problem

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _referenced_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'""", html)


def _urls(html: str) -> list[str]:
    return [a or b for a, b in _referenced_urls(html)]


class TestDocsPage:
    def test_references_only_local_urls(self, client: TestClient) -> None:
        response = client.get("/docs")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        urls = _urls(html)
        assert len(urls) >= 4, urls  # stylesheet, favicon, script, spec
        for url in urls:
            parsed = urlparse(url)
            assert not parsed.scheme and not parsed.netloc and url.startswith("/"), url
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        assert "/openapi.json" in urls

    def test_every_referenced_asset_is_served(self, client: TestClient) -> None:
        urls = [u for u in _urls(client.get("/docs").text) if u.startswith("/docs/assets/")]
        assert {u.rsplit("/", 1)[1] for u in urls} == {
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "favicon-32x32.png",
        }
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert len(response.content) > 100, url
            assert "max-age" in response.headers["cache-control"]
        script = client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "SwaggerUIBundle" in script.text
        css = client.get("/docs/assets/swagger-ui.css")
        assert css.headers["content-type"].startswith("text/css")

    @pytest.mark.parametrize(
        "name", ["index.html", "..%2F__init__.py", "swagger-initializer.js", "nope.js"]
    )
    def test_other_files_are_404(self, client: TestClient, name: str) -> None:
        assert_problem(client.get(f"/docs/assets/{name}"), 404)

    def test_oauth2_redirect_and_no_redoc(self, client: TestClient) -> None:
        assert client.get("/docs/oauth2-redirect").status_code == 200
        assert_problem(client.get("/redoc"), 404)

    def test_docs_routes_are_not_in_the_schema(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if p.startswith("/docs")]


@pytest.mark.browser
def test_swagger_ui_renders_with_no_network(uvicorn_url: str) -> None:
    """Chromium, with every request off 127.0.0.1 refused, renders the operations."""
    from playwright.sync_api import Route, sync_playwright

    outside: list[str] = []

    def only_local(route: Route) -> None:
        host = urlparse(route.request.url).hostname
        if host == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_local)
            page.goto(f"{uvicorn_url}/docs")
            page.wait_for_selector(".opblock", timeout=60_000)
            operations = page.locator(".opblock").count()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()
    assert outside == []
    assert operations >= 50
    assert title.startswith("Atelier")
