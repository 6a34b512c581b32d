"""The web foundation: cookie session, CSRF, error pages, static files, escaping."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.platform.clock import FrozenClock
from atelier.platform.settings import Settings
from atelier.web.shared.session import safe_next
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer
from tests.factories import catalog
from tests.web.support import (
    client_with_cookie,
    csrf_of,
    post_form,
    web_client,
    web_cookie,
)


def _cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


class TestSession:
    def test_anonymous_page_redirects_to_sign_in_with_next(self, client: TestClient) -> None:
        response = web_client(client.app).get("/app?x=1")  # type: ignore[arg-type]
        assert response.status_code == 303
        assert response.headers["location"] == "/app/sign-in?next=%2Fapp%3Fx%3D1"

    def test_htmx_request_gets_hx_redirect(self, client: TestClient) -> None:
        response = web_client(client.app).get("/app", headers={"HX-Request": "true"})  # type: ignore[arg-type]
        assert response.status_code == 204
        assert response.headers["hx-redirect"].startswith("/app/sign-in?next=")

    def test_sign_in_sets_a_strict_cookie_and_returns_to_next(
        self, app: FastAPI, client: TestClient
    ) -> None:
        browser = web_client(app)
        token = csrf_of(browser.get("/app/sign-in?next=/app%3Fstatus%3Ddraft").text)
        response = browser.post(
            "/app/sign-in",
            data={
                "email": ADMIN_EMAIL.upper(),
                "password": ADMIN_PASSWORD,
                "next": "/app?status=draft",
                "csrf_token": token,
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/app?status=draft"
        cookies = response.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("atelier_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Secure" not in session
        assert browser.get("/app").status_code == 200

    def test_secure_cookies_in_production(
        self, app: FastAPI, client: TestClient, settings: Settings
    ) -> None:
        app.state.settings = settings.model_copy(update={"env": "production"})
        browser = web_client(app)
        form = browser.get("/app/sign-in")
        assert "Secure" in form.headers["set-cookie"]
        response = browser.post(
            "/app/sign-in",
            data={
                "email": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
            # TestClient keeps Secure cookies for https only; hand the CSRF cookie over.
            headers={"cookie": f"atelier_csrf={_cookie_value(form.headers['set-cookie'])}"},
        )
        assert response.status_code == 303
        for cookie in response.headers.get_list("set-cookie"):
            assert "Secure" in cookie, cookie

    def test_wrong_password_is_refused_with_the_email_kept_and_escaped(
        self, app: FastAPI, client: TestClient
    ) -> None:
        browser = web_client(app)
        email = '"><script>alert(1)</script>@x.test'
        response = post_form(
            browser,
            "/app/sign-in",
            {"email": email, "password": "nope"},
            page="/app/sign-in",
        )
        assert response.status_code == 401
        assert "email or password is incorrect" in response.text
        assert "<script>alert(1)</script>" not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
        assert "atelier_session" not in response.headers.get("set-cookie", "")

    def test_a_partner_cannot_sign_in_here(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        browser = web_client(client.app)  # type: ignore[arg-type]
        response = post_form(
            browser,
            "/app/sign-in",
            {"email": partner.email, "password": partner.password},
            page="/app/sign-in",
        )
        assert response.status_code == 401
        assert browser.get("/app").status_code == 303

    def test_a_partner_session_gets_a_403_page(
        self, admin: TestClient, client: TestClient, settings: Settings
    ) -> None:
        partner = catalog.create_partner(admin, client)
        token = web_cookie(settings, subject=partner.user_id, role="partner", partner_id=partner.id)
        response = client_with_cookie(client.app, token).get("/app")  # type: ignore[arg-type]
        assert response.status_code == 403
        assert "for the brand&#39;s admins" in response.text
        assert response.headers["content-type"].startswith("text/html")

    def test_an_api_token_in_the_cookie_is_not_a_session(
        self, client: TestClient, admin_token: str
    ) -> None:
        browser = client_with_cookie(client.app, admin_token)  # type: ignore[arg-type]
        assert browser.get("/app").status_code == 303

    def test_the_session_cookie_does_not_open_the_json_api(self, web_admin: TestClient) -> None:
        browser = web_admin
        response = browser.get("/admin/production-runs")
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_an_expired_session_signs_in_again(
        self, web_admin: TestClient, clock: FrozenClock
    ) -> None:
        browser = web_admin
        clock.advance(timedelta(hours=13))
        response = browser.get("/app")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/app/sign-in")

    def test_sign_out_deletes_the_cookie(self, web_admin: TestClient) -> None:
        browser = web_admin
        response = post_form(browser, "/app/sign-out", {}, page="/app")
        assert response.status_code == 303
        assert response.headers["location"] == "/app/sign-in"
        assert browser.get("/app").status_code == 303

    def test_already_signed_in_skips_the_form(self, web_admin: TestClient) -> None:
        browser = web_admin
        response = browser.get("/app/sign-in?next=/app%3Fa%3D1")
        assert response.status_code == 303
        assert response.headers["location"] == "/app?a=1"

    def test_next_stays_on_this_site_and_in_its_area(self) -> None:
        assert safe_next("//evil.example/app", "admin") == "/app"
        assert safe_next("https://evil.example/app", "admin") == "/app"
        assert safe_next("/\\evil.example", "admin") == "/app"
        assert safe_next("/portal/runs", "admin") == "/app"
        assert safe_next("/application", "admin") == "/app"
        assert safe_next("/app/sign-out", "admin") == "/app"
        assert safe_next("/app/runs?status=draft", "admin") == "/app/runs?status=draft"
        assert safe_next("/portal/runs/x", "portal") == "/portal/runs/x"
        assert safe_next(None, "portal") == "/portal"


class TestCsrf:
    def test_post_without_token_is_refused(self, web_admin: TestClient) -> None:
        browser = web_admin
        response = browser.post("/app/sign-out", data={})
        assert response.status_code == 403
        assert "expired or came from another site" in response.text
        assert browser.get("/app").status_code == 200  # still signed in

    def test_token_of_another_browser_is_refused(self, app: FastAPI, web_admin: TestClient) -> None:
        mine = web_admin
        other = web_client(app)
        foreign = csrf_of(other.get("/app/sign-in").text)
        response = mine.post("/app/sign-out", data={"csrf_token": foreign})
        assert response.status_code == 403

    def test_header_token_is_accepted_for_htmx(self, web_admin: TestClient) -> None:
        browser = web_admin
        token = csrf_of(browser.get("/app").text)
        response = browser.post(
            "/app/sign-out", headers={"X-CSRF-Token": token, "HX-Request": "true"}
        )
        assert response.status_code == 204
        assert response.headers["hx-redirect"] == "/app/sign-in"

    def test_sign_in_form_needs_its_token(self, client: TestClient) -> None:
        browser = web_client(client.app)  # type: ignore[arg-type]
        browser.get("/app/sign-in")
        response = browser.post(
            "/app/sign-in", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 403
        assert "atelier_session" not in response.headers.get("set-cookie", "")

    def test_sign_in_rotates_the_token(self, app: FastAPI, client: TestClient) -> None:
        browser = web_client(app)
        before = csrf_of(browser.get("/app/sign-in").text)
        browser.post(
            "/app/sign-in",
            data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": before},
        )
        after = csrf_of(browser.get("/app").text)
        assert after != before
        assert browser.post("/app/sign-out", data={"csrf_token": before}).status_code == 403


class TestPagesAndStatic:
    def test_pages_carry_security_headers_and_are_not_cached(self, web_admin: TestClient) -> None:
        response = web_admin.get("/app")
        assert response.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<title>Overview · Atelier</title>" in response.text

    def test_static_files_are_cacheable_and_versioned(self, web_admin: TestClient) -> None:
        browser = web_admin
        html = browser.get("/app").text
        assert "/static/htmx.min.js?v=" in html and "/static/atelier.css?v=" in html
        response = browser.get("/static/htmx.min.js")
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]
        assert browser.get("/static/../app.py").status_code == 404

    def test_unknown_page_is_an_html_404(self, client: TestClient) -> None:
        response = client.get("/app/no-such-page")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "This page does not exist." in response.text

    def test_api_errors_stay_problem_json(self, client: TestClient, admin_token: str) -> None:
        response = client.get("/admin/production-runs/prod_run_nope", headers=bearer(admin_token))
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        response = client.get("/admin/no-such-route")
        assert response.headers["content-type"].startswith("application/problem+json")
