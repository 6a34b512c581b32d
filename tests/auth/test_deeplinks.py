from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from atelier.audit.models import RunEvent
from atelier.auth.deeplinks import build_wa_token, deep_link_url, raw_run_id
from atelier.partners.models import Partner, PartnerUser
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.security import issue_token
from atelier.platform.settings import Settings
from tests.conftest import assert_problem, bearer
from tests.factories import catalog
from tests.factories.tasks import dispatched_run
from tests.media.support import World, world

JSON = {"Accept": "application/json"}


def _token(settings: Settings, w: World, run_id: str | None = None) -> str:
    return build_wa_token(settings, partner_id=w.partner.id, run_id=run_id or w.run_id)


def _redeem(client: TestClient, token: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.get(
        "/partners/wa-auth", params={"wa_token": token}, headers=headers, follow_redirects=False
    )


class TestBuilding:
    def test_url_carries_a_run_scoped_token(self, settings: Settings) -> None:
        url = deep_link_url(settings, "partner_1", "prod_run_1:reminder:2026-11-02")
        parsed = urlparse(url)
        assert f"{parsed.scheme}://{parsed.netloc}" == "http://testserver"
        assert parsed.path == "/partners/wa-auth"
        token = parse_qs(parsed.query)["wa_token"][0]
        assert token.count(".") == 2

    @pytest.mark.parametrize(
        ("value", "raw"),
        [
            ("prod_run_1", "prod_run_1"),
            ("prod_run_1:reminder:2026-04-25", "prod_run_1"),
            ("prod_run_1:reminder:", "prod_run_1"),
        ],
    )
    def test_reminder_suffix_is_stripped(self, value: str, raw: str) -> None:
        assert raw_run_id(value) == raw


class TestRedeem:
    def test_json_session_for_the_run(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        response = _redeem(client, _token(settings, w), JSON)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["partner_id"] == w.partner.id
        assert body["production_run_id"] == w.run_id
        assert body["redirect_to"] == f"/portal/runs/{w.run_id}"
        assert response.headers["cache-control"] == "no-store"
        run = client.get(f"/partners/production-runs/{w.run_id}", headers=bearer(body["token"]))
        assert run.status_code == 200, run.text

    def test_browser_gets_a_redirect_with_a_session_cookie(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        response = _redeem(client, _token(settings, w), {"Accept": "text/html,*/*"})
        assert response.status_code == 303
        assert response.headers["location"] == f"/portal/runs/{w.run_id}"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("atelier_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie
        assert response.headers["referrer-policy"] == "no-referrer"

    def test_cookie_is_secure_behind_https(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        settings.public_base_url = "https://atelier.example"
        response = _redeem(client, _token(settings, w))
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]

    def test_actions_through_the_link_are_audited_as_whatsapp(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        design = catalog.create_design(admin)
        partner = catalog.create_partner(admin, client)
        run = dispatched_run(admin, partner=partner, design_id=design["id"])
        token = build_wa_token(settings, partner_id=partner.id, run_id=run["id"])
        session_token = _redeem(client, token, JSON).json()["token"]
        accepted = client.post(
            f"/partners/production-runs/{run['id']}/accept", headers=bearer(session_token)
        )
        assert accepted.status_code == 200, accepted.text
        with db.session(write=False) as s:
            channels = set(
                s.scalars(
                    select(RunEvent.channel).where(
                        RunEvent.run_id == run["id"], RunEvent.actor_type == "partner"
                    )
                )
            )
        assert channels == {"whatsapp"}

    def test_reminder_suffix_in_the_token_is_ignored(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        # A token minted by something that forgot to strip the suffix still opens the run.
        token = issue_token(
            settings.secret_key.get_secret_value(),
            subject=w.partner.id,
            role="partner",
            partner_id=w.partner.id,
            ttl=timedelta(hours=1),
            token_type="wa_link",
            extra={"rid": f"{w.run_id}:reminder:2026-11-02"},
        )
        response = _redeem(client, token, JSON)
        assert response.status_code == 200, response.text
        assert response.json()["production_run_id"] == w.run_id
        built = _token(settings, w, f"{w.run_id}:reminder:2026-11-02")
        assert _redeem(client, built, JSON).json()["production_run_id"] == w.run_id

    def test_link_works_repeatedly_within_its_life(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        token = _token(settings, w)
        assert _redeem(client, token, JSON).status_code == 200
        assert _redeem(client, token, JSON).status_code == 200

    def test_token_is_never_logged(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        settings: Settings,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        w = world(admin, client, db)
        token = _token(settings, w)
        with caplog.at_level(logging.DEBUG):
            body = _redeem(client, token, JSON).json()
        # (The test's own HTTP client logs the URL it requests; the server must not.)
        server = [r for r in caplog.records if not r.name.startswith("httpx")]
        text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in server)
        assert token not in text and body["token"] not in text

    def test_access_log_lines_are_redacted(self, app: FastAPI) -> None:
        # ``create_app`` attaches the filter to uvicorn's loggers.
        record = logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("1.2.3.4", "GET", "/partners/wa-auth?wa_token=abc.def.ghi&x=1", "1.1", 303),
            None,
        )
        for f in logging.getLogger("uvicorn.access").filters:
            f.filter(record)  # type: ignore[union-attr]
        assert record.getMessage() == (
            '1.2.3.4 - "GET /partners/wa-auth?wa_token=[redacted]&x=1 HTTP/1.1" 303'
        )


class TestRedeemGuards:
    def test_missing_token_is_422(self, client: TestClient) -> None:
        assert_problem(client.get("/partners/wa-auth"), 422, "validation_error")
        assert_problem(client.get("/partners/wa-auth", params={"wa_token": ""}), 422)

    def test_garbage_is_401(self, client: TestClient) -> None:
        assert_problem(_redeem(client, "not-a-token"), 401, "invalid_token")

    def test_tampered_is_401(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        token = _token(settings, w)
        head, payload, sig = token.split(".")
        flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
        assert_problem(_redeem(client, f"{head}.{payload}.{flipped}"), 401, "invalid_token")
        other = Settings(
            env="test",
            secret_key="another-secret-key-0123456789abcdef-012345",
            webhook_secret="x",
        )
        forged = build_wa_token(other, partner_id=w.partner.id, run_id=w.run_id)
        assert_problem(_redeem(client, forged), 401, "invalid_token")

    def test_expired_after_24_hours(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        w = world(admin, client, db)
        token = _token(settings, w)
        clock.advance(timedelta(hours=23, minutes=59))
        assert _redeem(client, token, JSON).status_code == 200
        clock.advance(timedelta(minutes=2))
        assert_problem(_redeem(client, token, JSON), 401, "token_expired")

    def test_link_token_is_not_a_bearer_token(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        response = client.get("/partners/production-runs", headers=bearer(_token(settings, w)))
        assert_problem(response, 401, "invalid_token")

    def test_bearer_token_is_not_a_link_token(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        w = world(admin, client, db)
        assert w.partner.token is not None
        assert_problem(_redeem(client, w.partner.token), 401, "invalid_token")

    def test_inactive_partner_is_404(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        with db.session() as s:
            s.execute(update(Partner).where(Partner.id == w.partner.id).values(status="inactive"))
        assert_problem(_redeem(client, _token(settings, w), JSON), 404, "partner_not_found")

    def test_unknown_partner_is_404(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        token = build_wa_token(settings, partner_id="partner_nope", run_id=w.run_id)
        assert_problem(_redeem(client, token, JSON), 404, "partner_not_found")

    def test_someone_elses_run_is_404(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        other = world(admin, client, db)
        token = build_wa_token(settings, partner_id=w.partner.id, run_id=other.run_id)
        assert_problem(_redeem(client, token, JSON), 404, "production_run_not_found")
        unknown = build_wa_token(settings, partner_id=w.partner.id, run_id="prod_run_nope")
        assert_problem(_redeem(client, unknown, JSON), 404, "production_run_not_found")

    def test_partner_without_active_user_is_404(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        w = world(admin, client, db)
        with db.session() as s:
            s.execute(
                update(PartnerUser)
                .where(PartnerUser.partner_id == w.partner.id)
                .values(is_active=False)
            )
        assert_problem(_redeem(client, _token(settings, w), JSON), 404, "partner_user_not_found")
