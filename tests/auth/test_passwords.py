"""Password changes revoke earlier tokens; ``pending`` partners sign in and read (issue 8)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.auth.deeplinks import build_wa_token
from atelier.partners.models import PartnerUser
from atelier.platform.db import Database
from atelier.platform.models import AdminUser
from atelier.platform.security import issue_token
from atelier.platform.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, assert_problem, bearer
from tests.factories import catalog
from tests.factories.catalog import DEFAULT_PARTNER_PASSWORD, PartnerHandle
from tests.media.support import world
from tests.production.lifecycle_helpers import dispatched
from tests.web.portal_support import portal_client, portal_post
from tests.web.support import signed_in_admin

NEW_PASSWORD = "a much better passphrase"


def _admin_login(client: TestClient, password: str) -> Any:
    return client.post("/auth/admin/token", json={"email": ADMIN_EMAIL, "password": password})


def _partner_login(client: TestClient, partner: PartnerHandle, password: str) -> Any:
    return client.post("/auth/partner/token", json={"email": partner.email, "password": password})


def _change(client: TestClient, who: str, token: str, current: str, new: str) -> Any:
    return client.post(
        f"/auth/{who}/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )


class TestAdminPasswordChange:
    def test_change_revokes_earlier_tokens_and_returns_a_new_one(
        self, client: TestClient, admin_token: str
    ) -> None:
        other_device = _admin_login(client, ADMIN_PASSWORD).json()["token"]
        response = _change(client, "admin", admin_token, ADMIN_PASSWORD, NEW_PASSWORD)
        assert response.status_code == 200, response.text
        fresh = response.json()["token"]
        assert response.json()["token_type"] == "bearer"
        for stale in (admin_token, other_device):
            assert_problem(client.get("/admin/orders", headers=bearer(stale)), 401, "token_revoked")
        assert client.get("/admin/orders", headers=bearer(fresh)).status_code == 200
        assert_problem(_admin_login(client, ADMIN_PASSWORD), 401, "invalid_credentials")
        again = _admin_login(client, NEW_PASSWORD)
        assert again.status_code == 200
        assert client.get("/admin/orders", headers=bearer(again.json()["token"])).status_code == 200

    def test_change_ends_web_sessions_too(
        self, app: FastAPI, client: TestClient, admin_token: str
    ) -> None:
        browser = signed_in_admin(app)
        assert browser.get("/app").status_code == 200
        assert (
            _change(client, "admin", admin_token, ADMIN_PASSWORD, NEW_PASSWORD).status_code == 200
        )
        response = browser.get("/app")
        assert response.status_code in (302, 303)
        assert response.headers["location"].startswith("/app/sign-in")

    def test_wrong_current_password_is_422_and_changes_nothing(
        self, client: TestClient, admin_token: str
    ) -> None:
        response = _change(client, "admin", admin_token, "not the password", NEW_PASSWORD)
        body = assert_problem(response, 422, "wrong_password")
        assert body["errors"][0]["field"] == "body.current_password"
        assert client.get("/admin/orders", headers=bearer(admin_token)).status_code == 200
        assert _admin_login(client, ADMIN_PASSWORD).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [
            {"current_password": ADMIN_PASSWORD, "new_password": "short"},
            {"current_password": ADMIN_PASSWORD, "new_password": "x" * 257},
            {"current_password": ADMIN_PASSWORD},
            {"new_password": NEW_PASSWORD},
            {"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD, "x": 1},
        ],
    )
    def test_invalid_body_is_422(
        self, client: TestClient, admin_token: str, body: dict[str, Any]
    ) -> None:
        response = client.post("/auth/admin/password", json=body, headers=bearer(admin_token))
        assert_problem(response, 422, "validation_error")
        assert client.get("/admin/orders", headers=bearer(admin_token)).status_code == 200

    def test_anonymous_and_partner_tokens_are_refused(
        self, admin: TestClient, client: TestClient
    ) -> None:
        body = {"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD}
        assert_problem(client.post("/auth/admin/password", json=body), 401, "not_authenticated")
        partner = catalog.create_partner(admin, client)
        response = client.post("/auth/admin/password", json=body, headers=partner.headers)
        assert_problem(response, 403, "admin_only")

    def test_tokens_from_before_the_upgrade_work_until_the_first_change(
        self, client: TestClient, settings: Settings, db: Database
    ) -> None:
        # Tokens issued before token versions existed carry no ``ver`` claim (version 0).
        with db.session(write=False) as s:
            admin_id = s.scalars(select(AdminUser.id)).one()
        legacy = issue_token(
            settings.secret_key.get_secret_value(),
            subject=admin_id,
            role="admin",
            ttl=timedelta(hours=1),
        )
        assert client.get("/admin/orders", headers=bearer(legacy)).status_code == 200
        assert _change(client, "admin", legacy, ADMIN_PASSWORD, NEW_PASSWORD).status_code == 200
        assert_problem(client.get("/admin/orders", headers=bearer(legacy)), 401, "token_revoked")

    def test_concurrent_changes_with_one_token_have_one_winner(
        self, app: FastAPI, client: TestClient, admin_token: str, db: Database
    ) -> None:
        callers = 8
        barrier = threading.Barrier(callers)
        results: list[tuple[int, str]] = []
        lock = threading.Lock()

        def change(n: int) -> None:
            with TestClient(app, raise_server_exceptions=False) as own:
                barrier.wait()
                response = _change(own, "admin", admin_token, ADMIN_PASSWORD, f"{NEW_PASSWORD}{n}")
                with lock:
                    results.append((response.status_code, response.json().get("code", "")))

        threads = [threading.Thread(target=change, args=(n,)) for n in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [r for r in results if r[0] == 200]
        assert len(winners) == 1, results
        losers = {r for r in results if r[0] != 200}
        assert losers <= {(401, "token_revoked"), (422, "wrong_password")}, results
        with db.session(write=False) as s:
            assert s.scalars(select(AdminUser.token_version)).one() == 1
        assert_problem(_admin_login(client, ADMIN_PASSWORD), 401, "invalid_credentials")


class TestPartnerPasswordChange:
    def test_change_revokes_password_and_whatsapp_sessions(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        assert w.partner.token is not None
        link = build_wa_token(settings, partner_id=w.partner.id, run_id=w.run_id)
        whatsapp = client.get(
            "/partners/wa-auth", params={"wa_token": link}, headers={"accept": "application/json"}
        ).json()["token"]
        run_url = f"/partners/production-runs/{w.run_id}"
        response = _change(
            client, "partner", w.partner.token, DEFAULT_PARTNER_PASSWORD, NEW_PASSWORD
        )
        assert response.status_code == 200, response.text
        assert response.json()["partner_id"] == w.partner.id
        for stale in (w.partner.token, whatsapp):
            assert_problem(client.get(run_url, headers=bearer(stale)), 401, "token_revoked")
        assert client.get(run_url, headers=bearer(response.json()["token"])).status_code == 200
        assert_problem(_partner_login(client, w.partner, DEFAULT_PARTNER_PASSWORD), 401)
        assert _partner_login(client, w.partner, NEW_PASSWORD).status_code == 200
        # The deep link itself is not a password credential: it still signs the partner in.
        again = client.get(
            "/partners/wa-auth", params={"wa_token": link}, headers={"accept": "application/json"}
        )
        assert client.get(run_url, headers=bearer(again.json()["token"])).status_code == 200

    def test_wrong_current_password_and_admin_token(
        self, admin: TestClient, client: TestClient, admin_token: str
    ) -> None:
        partner = catalog.create_partner(admin, client)
        assert partner.token is not None
        response = _change(client, "partner", partner.token, "wrong-password", NEW_PASSWORD)
        assert_problem(response, 422, "wrong_password")
        as_admin = _change(client, "partner", admin_token, ADMIN_PASSWORD, NEW_PASSWORD)
        assert_problem(as_admin, 403, "partner_only")
        assert client.get("/partners/production-runs", headers=partner.headers).status_code == 200

    def test_another_user_of_the_partner_keeps_its_session(
        self, admin: TestClient, client: TestClient
    ) -> None:
        partner = catalog.create_partner(admin, client)
        assert partner.token is not None
        second = {
            "email": f"second@{partner.handle}.test",
            "first_name": "Second",
            "last_name": "User",
            "password": "second-password-1",
        }
        assert admin.post(f"/admin/partners/{partner.id}/users", json=second).status_code == 201
        login = {"email": second["email"], "password": second["password"]}
        second_token = client.post("/auth/partner/token", json=login).json()["token"]
        changed = _change(client, "partner", partner.token, DEFAULT_PARTNER_PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 200
        response = client.get("/partners/production-runs", headers=bearer(second_token))
        assert response.status_code == 200

    @pytest.mark.parametrize("password", [NEW_PASSWORD, None])
    def test_admin_setting_or_removing_the_password_revokes(
        self, admin: TestClient, client: TestClient, db: Database, password: str | None
    ) -> None:
        partner = catalog.create_partner(admin, client)
        url = f"/admin/partners/{partner.id}/users/{partner.user_id}"
        response = admin.post(url, json={"password": password})
        assert response.status_code == 200, response.text
        stale = client.get("/partners/production-runs", headers=partner.headers)
        assert_problem(stale, 401, "token_revoked")
        with db.session(write=False) as s:
            assert s.get(PartnerUser, partner.user_id).token_version == 1  # type: ignore[union-attr]

    def test_other_user_changes_do_not_revoke(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client)
        url = f"/admin/partners/{partner.id}/users/{partner.user_id}"
        assert admin.post(url, json={"first_name": "Renamed", "phone": "+919812345678"}).is_success
        assert client.get("/partners/production-runs", headers=partner.headers).status_code == 200


class TestPendingPartner:
    """``pending``: the brand has not approved the workshop yet. It signs in and reads; it
    changes its own password; every other write is ``403 partner_pending`` (the full route
    matrix is in ``tests/production/test_partner_authz_matrix.py``)."""

    def test_signs_in_reads_and_manages_its_password(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db, partner=None)
        assert admin.post(f"/admin/partners/{w.partner.id}", json={"status": "pending"}).is_success
        login = _partner_login(client, w.partner, DEFAULT_PARTNER_PASSWORD)
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        run_url = f"/partners/production-runs/{w.run_id}"
        assert client.get(run_url, headers=bearer(token)).status_code == 200
        accept = client.post(f"{run_url}/accept", headers=bearer(token))
        assert_problem(accept, 403, "partner_pending")
        link = build_wa_token(settings, partner_id=w.partner.id, run_id=w.run_id)
        redeemed = client.get(
            "/partners/wa-auth", params={"wa_token": link}, headers={"accept": "application/json"}
        )
        assert redeemed.status_code == 200
        whatsapp = bearer(redeemed.json()["token"])
        assert client.get(run_url, headers=whatsapp).status_code == 200
        assert_problem(client.post(f"{run_url}/accept", headers=whatsapp), 403, "partner_pending")
        changed = _change(client, "partner", token, DEFAULT_PARTNER_PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 200, changed.text
        assert admin.post(f"/admin/partners/{w.partner.id}", json={"status": "active"}).is_success
        fresh = bearer(changed.json()["token"])
        assert client.post(f"{run_url}/accept", headers=fresh).status_code == 200

    def test_inactive_still_cannot_sign_in(self, admin: TestClient, client: TestClient) -> None:
        partner = catalog.create_partner(admin, client, status="inactive")
        response = _partner_login(client, partner, DEFAULT_PARTNER_PASSWORD)
        assert_problem(response, 403, "partner_inactive")


class TestPortal:
    """The same rules in the partner portal (web session cookie)."""

    def test_pending_partner_reads_pages_but_cannot_act(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client, quantity=10)
        browser = portal_client(app, run.partner)
        assert admin.post(
            f"/admin/partners/{run.partner.id}", json={"status": "pending"}
        ).is_success
        page = browser.get(f"/portal/runs/{run.id}")
        assert page.status_code == 200
        refused = portal_post(browser, run.id, "accept")
        assert refused.status_code == 403
        assert "pending approval" in refused.text
        assert (
            admin.get(f"/admin/production-runs/{run.id}").json()["production_run"]["status"]
            == "sent_to_partner"
        )
        assert admin.post(f"/admin/partners/{run.partner.id}", json={"status": "active"}).is_success
        assert portal_post(browser, run.id, "accept").status_code == 303

    def test_password_change_signs_the_portal_out(
        self, app: FastAPI, admin: TestClient, client: TestClient
    ) -> None:
        run = dispatched(admin, client, quantity=10)
        browser = portal_client(app, run.partner)
        assert browser.get("/portal").status_code == 200
        assert run.partner.token is not None
        changed = _change(
            client, "partner", run.partner.token, DEFAULT_PARTNER_PASSWORD, NEW_PASSWORD
        )
        assert changed.status_code == 200
        response = browser.get("/portal")
        assert response.status_code in (302, 303)
        assert response.headers["location"].startswith("/portal/sign-in")
