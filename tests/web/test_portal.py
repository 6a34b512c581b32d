"""Partner portal pages through the real app: sign-in, runs list, run page, every action,
ownership, refusals shown inline, languages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.auth.deeplinks import build_wa_token
from atelier.platform.settings import Settings
from tests.factories import catalog, inventory
from tests.production.lifecycle_helpers import Dispatched, dispatched
from tests.web.portal_support import portal_client, portal_post
from tests.web.support import csrf_of, web_client


@pytest.fixture
def run(admin: TestClient, client: TestClient) -> Dispatched:
    return dispatched(admin, client, quantity=10, tasks=1, subtasks=2)


@pytest.fixture
def browser(app: FastAPI, run: Dispatched) -> TestClient:
    return portal_client(app, run.partner)


def events(admin: TestClient, run_id: str) -> list[dict[str, Any]]:
    response = admin.get(f"/admin/production-runs/{run_id}/events")
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["events"]
    return found


class TestSignIn:
    def test_anonymous_is_sent_to_sign_in_and_back(self, app: FastAPI, run: Dispatched) -> None:
        browser = web_client(app)
        response = browser.get(f"/portal/runs/{run.id}")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/portal/sign-in?next=")

    def test_wrong_password_shows_the_form_again(self, app: FastAPI, run: Dispatched) -> None:
        browser = web_client(app)
        form = browser.get("/portal/sign-in")
        response = browser.post(
            "/portal/sign-in",
            data={"email": run.partner.email, "password": "nope", "csrf_token": csrf_of(form.text)},
        )
        assert response.status_code == 401
        assert "incorrect" in response.text
        assert run.partner.email in response.text

    def test_admin_cannot_use_the_portal_form(self, app: FastAPI, client: TestClient) -> None:
        from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

        browser = web_client(app)
        form = browser.get("/portal/sign-in")
        response = browser.post(
            "/portal/sign-in",
            data={
                "email": ADMIN_EMAIL,
                "password": ADMIN_PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
        )
        assert response.status_code == 401

    def test_form_without_csrf_is_refused(self, app: FastAPI, run: Dispatched) -> None:
        browser = web_client(app)
        response = browser.post(
            "/portal/sign-in", data={"email": run.partner.email, "password": run.partner.password}
        )
        assert response.status_code == 403

    def test_the_cookie_does_not_open_the_json_api(
        self, browser: TestClient, run: Dispatched
    ) -> None:
        assert browser.get(f"/partners/production-runs/{run.id}").status_code == 401

    def test_sign_out(self, browser: TestClient) -> None:
        page = browser.get("/portal")
        response = browser.post("/portal/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
        assert browser.get("/portal").status_code == 303


class TestDeepLink:
    def test_link_lands_on_the_run_signed_in(
        self, app: FastAPI, settings: Settings, run: Dispatched
    ) -> None:
        browser = web_client(app)
        token = build_wa_token(settings, partner_id=run.partner.id, run_id=run.id)
        response = browser.get(
            "/partners/wa-auth", params={"wa_token": token}, headers={"accept": "text/html"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/portal/runs/{run.id}"
        page = browser.get(f"/portal/runs/{run.id}")
        assert page.status_code == 200
        assert "Accept this run" in page.text

    def test_broken_link_shows_the_sign_in_page(self, app: FastAPI) -> None:
        browser = web_client(app)
        response = browser.get(
            "/partners/wa-auth", params={"wa_token": "not-a-token"}, headers={"accept": "text/html"}
        )
        assert response.status_code == 303
        page = browser.get(response.headers["location"])
        assert page.status_code == 200
        assert "expired or is not valid" in page.text
        assert 'name="password"' in page.text


class TestRunsList:
    def test_needs_action_first_with_days_waiting(
        self, app: FastAPI, run: Dispatched, clock: Any
    ) -> None:
        clock.advance(timedelta(days=3))
        page = portal_client(app, run.partner).get("/portal")
        assert page.status_code == 200
        needs, _, _rest = page.text.partition("All runs")
        assert "Needs your action" in needs
        assert run.id in needs
        assert "waiting 3 days" in needs

    def test_sample_tab_is_separate(self, browser: TestClient, run: Dispatched) -> None:
        page = browser.get("/portal?type=sample")
        assert page.status_code == 200
        assert run.id not in page.text
        assert "No runs here yet." in page.text

    def test_status_filter(self, browser: TestClient, run: Dispatched) -> None:
        assert run.id not in browser.get("/portal?status=completed").text
        assert run.id in browser.get("/portal?status=sent_to_partner").text

    def test_bad_filter_is_a_page_not_json(self, browser: TestClient) -> None:
        response = browser.get("/portal?status=bogus")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")


class TestRunPage:
    def test_shows_only_the_buttons_the_lifecycle_allows(
        self, browser: TestClient, run: Dispatched
    ) -> None:
        page = browser.get(f"/portal/runs/{run.id}").text
        assert "Accept this run" in page
        assert "Decline" in page
        assert "Start work" not in page
        assert "Complete run" not in page

    def test_other_partner_gets_404(
        self, app: FastAPI, admin: TestClient, client: TestClient, run: Dispatched
    ) -> None:
        other = catalog.create_partner(admin, client)
        stranger = portal_client(app, other)
        response = stranger.get(f"/portal/runs/{run.id}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert run.partner.id not in response.text
        refused = stranger.post(
            f"/portal/runs/{run.id}/accept",
            data={"csrf_token": csrf_of(stranger.get("/portal").text)},
        )
        assert refused.status_code == 404

    def test_admin_session_gets_403_page(self, web_admin: TestClient, run: Dispatched) -> None:
        response = web_admin.get(f"/portal/runs/{run.id}")
        assert response.status_code == 403


class TestActions:
    def test_walk_accept_start_progress_finish_complete(
        self, browser: TestClient, admin: TestClient, run: Dispatched
    ) -> None:
        response = portal_post(browser, run.id, "accept")
        assert response.status_code == 303
        page = browser.get(response.headers["location"].split("#")[0]).text
        assert "Run accepted" in page
        assert "Start work" in page
        assert portal_post(browser, run.id, "start").status_code == 303
        assert (
            portal_post(browser, run.id, "progress", {"produced_quantity": "4"}).status_code == 303
        )
        assert portal_post(browser, run.id, "finish", {"notes": "all sewn"}).status_code == 303
        done = portal_post(browser, run.id, "complete", {"produced_quantity": "10"})
        assert done.status_code == 303
        body = admin.get(run.admin_url()).json()["production_run"]
        assert body["status"] == "completed"
        assert body["produced_quantity"] == 10
        channels = {e["kind"]: e["channel"] for e in events(admin, run.id)}
        for kind in ("accepted", "started", "progress_updated", "finished", "completed"):
            assert channels.get(kind) == "web", (kind, channels)

    def test_refusal_is_shown_inline_with_the_input_kept(
        self, browser: TestClient, run: Dispatched
    ) -> None:
        for step in ("accept", "start", "finish"):
            assert portal_post(browser, run.id, step).status_code == 303
        response = portal_post(
            browser, run.id, "complete", {"produced_quantity": "6", "notes": "short batch"}
        )
        assert response.status_code in (409, 422)
        assert "Not done" in response.text
        assert "short batch" in response.text
        assert 'value="6"' in response.text

    def test_shortfall_with_explanation_completes(
        self, browser: TestClient, admin: TestClient, run: Dispatched
    ) -> None:
        for step in ("accept", "start", "finish"):
            portal_post(browser, run.id, step)
        response = portal_post(
            browser,
            run.id,
            "complete",
            {"produced_quantity": "8", "shortfall_explanation": "fabric ran out"},
        )
        assert response.status_code == 303
        assert admin.get(run.admin_url()).json()["production_run"]["status"] == "completed"

    def test_not_a_number_is_refused_inline(self, browser: TestClient, run: Dispatched) -> None:
        portal_post(browser, run.id, "accept")
        portal_post(browser, run.id, "start")
        response = portal_post(browser, run.id, "progress", {"produced_quantity": "lots"})
        assert response.status_code == 422
        assert "whole number" in response.text

    def test_accept_twice_is_refused_inline(self, browser: TestClient, run: Dispatched) -> None:
        assert portal_post(browser, run.id, "accept").status_code == 303
        token = csrf_of(browser.get(f"/portal/runs/{run.id}").text)
        again = browser.post(f"/portal/runs/{run.id}/accept", data={"csrf_token": token})
        assert again.status_code == 409
        assert "already accepted" in again.text

    def test_decline_needs_a_reason_then_hands_back(
        self, browser: TestClient, admin: TestClient, run: Dispatched
    ) -> None:
        missing = portal_post(browser, run.id, "decline", {"notes": "busy"})
        assert missing.status_code == 422
        assert "busy" in missing.text
        response = portal_post(browser, run.id, "decline", {"reason": "capacity"})
        assert response.status_code == 303
        body = admin.get(run.admin_url()).json()["production_run"]
        assert body["status"] == "awaiting_reassignment"

    def test_task_comment_and_subtasks(
        self, browser: TestClient, admin: TestClient, run: Dispatched
    ) -> None:
        tasks = admin.get(run.admin_url()).json()["production_run"].get("tasks") or browser.get(
            f"/portal/runs/{run.id}"
        )
        page = browser.get(f"/portal/runs/{run.id}").text
        import re

        task_id = re.search(r'id="task-(task_[0-9A-Za-z]+)"', page)
        assert task_id, tasks
        tid = task_id.group(1)
        response = portal_post(browser, run.id, f"tasks/{tid}/comments", {"body": "Cutting today"})
        assert response.status_code == 303
        assert "Cutting today" in browser.get(f"/portal/runs/{run.id}").text
        blank = portal_post(browser, run.id, f"tasks/{tid}/comments", {"body": "  "})
        assert blank.status_code == 422
        assert portal_post(browser, run.id, f"tasks/{tid}/finish").status_code == 303
        assert "Task completed" in browser.get(f"/portal/runs/{run.id}").text

    def test_consumption_form_and_complete_with_consumption(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        item = inventory.create_item(admin)
        design = catalog.create_design(admin)
        catalog.set_bom(admin, design["id"], {item["id"]: 2})
        d = dispatched(admin, client, design=design, quantity=5)
        browser = portal_client(app, d.partner)
        portal_post(browser, d.id, "accept")
        portal_post(browser, d.id, "start")
        logged = portal_post(
            browser, d.id, "consumption", {"inventory_item_id": item["id"], "quantity": "3.5"}
        )
        assert logged.status_code == 303
        bad = portal_post(
            browser, d.id, "consumption", {"inventory_item_id": item["id"], "quantity": "-1"}
        )
        assert bad.status_code == 422
        portal_post(browser, d.id, "finish")
        done = portal_post(
            browser,
            d.id,
            "complete",
            {"produced_quantity": "5", "item_id": [item["id"]], "item_quantity": ["6"]},
        )
        assert done.status_code == 303, done.text
        logs = admin.get(f"/admin/production-runs/{d.id}/consumption-logs").json()
        assert logs["count"] == 2
        assert all(log["is_committed"] for log in logs["consumption_logs"])


class TestLanguage:
    def test_switch_stores_the_partner_preference(
        self, browser: TestClient, admin: TestClient, run: Dispatched
    ) -> None:
        page = browser.get(f"/portal/runs/{run.id}")
        response = browser.post(
            "/portal/language",
            data={"lang": "hi", "next": f"/portal/runs/{run.id}", "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 303
        hindi = browser.get(f"/portal/runs/{run.id}").text
        assert 'lang="hi"' in hindi
        assert "यह रन स्वीकार करें" in hindi
        partner = admin.get(f"/admin/partners/{run.partner.id}").json()["partner"]
        assert partner["preferred_language"] == "hi"

    def test_saved_preference_is_used(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        d = dispatched(
            admin, client, partner=catalog.create_partner(admin, client, preferred_language="hi")
        )
        page = portal_client(app, d.partner).get("/portal").text
        assert "आपकी कार्रवाई ज़रूरी" in page

    def test_unknown_language_is_ignored(self, browser: TestClient, run: Dispatched) -> None:
        page = browser.get("/portal")
        response = browser.post(
            "/portal/language", data={"lang": "xx", "csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303
        assert 'lang="en"' in browser.get("/portal").text
