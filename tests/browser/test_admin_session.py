"""Signing in and out of the admin app in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PHONE,
    LiveServer,
    no_horizontal_scroll,
    screenshot,
    sign_in,
)
from tests.conftest import ADMIN_EMAIL


class TestSignIn:
    def test_sign_in_returns_to_the_page_asked_for(
        self, page: Page, live_server: LiveServer
    ) -> None:
        page.goto("/app?from=bookmark")
        expect(page).to_have_url(f"{live_server.url}/app/sign-in?next=%2Fapp%3Ffrom%3Dbookmark")
        expect(page).to_have_title("Sign in · Atelier")
        screenshot(page, "admin-sign-in")
        sign_in(page)
        expect(page).to_have_url(f"{live_server.url}/app?from=bookmark")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        screenshot(page, "admin-overview")

    def test_wrong_password_keeps_the_email_and_says_why(self, page: Page) -> None:
        page.goto("/app/sign-in")
        sign_in(page, password="not the password")
        expect(page.get_by_role("alert")).to_have_text("email or password is incorrect")
        expect(page.get_by_label("Email")).to_have_value(ADMIN_EMAIL)
        expect(page.get_by_label("Password")).to_have_value("")

    def test_keyboard_only_sign_in(self, page: Page, live_server: LiveServer) -> None:
        page.goto("/app/sign-in")
        expect(page.get_by_label("Email")).to_be_focused()  # autofocus: no click needed
        page.keyboard.type(ADMIN_EMAIL)
        page.keyboard.press("Tab")
        page.keyboard.type("correct horse battery staple")
        page.keyboard.press("Enter")
        # Generous: the shared CI machine can be slow to answer the post under load.
        expect(page).to_have_url(f"{live_server.url}/app", timeout=30_000)

    def test_sign_out_ends_the_session(self, admin_page: Page, live_server: LiveServer) -> None:
        admin_page.get_by_role("button", name="Sign out").click()
        expect(admin_page.get_by_role("status")).to_have_text("You are signed out.")
        admin_page.goto("/app")
        expect(admin_page).to_have_url(f"{live_server.url}/app/sign-in?next=%2Fapp")

    def test_fits_a_phone(self, admin_page: Page) -> None:
        admin_page.set_viewport_size(PHONE)
        assert no_horizontal_scroll(admin_page)
        admin_page.goto("/app/sign-in")
        assert no_horizontal_scroll(admin_page)
