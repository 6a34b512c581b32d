"""Email through a local SMTP server, and no secret in any log line (INFO and DEBUG)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.logging import JsonFormatter, TextFormatter
from atelier.platform.settings import Settings
from tests.factories import catalog
from tests.notifications.fakes import FakeGraph, FakeSmtp
from tests.notifications.support import (
    AU_SECRETS,
    IN_NUMBER,
    IN_SECRETS,
    create_platforms,
    deliver,
    partner_with_number,
    post_webhook,
    sent_run,
    stored_messages,
    webhook_body,
)


@pytest.fixture
def mail_settings(settings: Settings, smtp: FakeSmtp) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_from": "Atelier <ops@atelier.test>",
            "smtp_timeout": 5.0,
        }
    )


class TestEmail:
    def test_partner_without_whatsapp_gets_an_email(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        mail_settings: Settings,
        smtp: FakeSmtp,
    ) -> None:
        from atelier.platform.settings import use_settings

        use_settings(mail_settings)
        partner = catalog.create_partner(admin, client, email="desk@loom.test", name="Loom House")
        run = sent_run(admin, client, partner, quantity=12)
        drain()
        [message] = stored_messages(db, production_run_id=run.id)
        assert (message["channel"], message["recipient"]) == ("email", "desk@loom.test")
        assert deliver(db, mail_settings) == 1
        [email] = smtp.messages
        assert email["To"] == "desk@loom.test"
        assert email["From"] == "Atelier <ops@atelier.test>"
        assert email["Subject"] == f"New production run {run.id}: Block Print Kurta"
        text = email.get_content()
        assert "Loom House" in text and "12 piece(s)" in text
        assert "/partners/wa-auth?wa_token=" in text
        [message] = stored_messages(db, production_run_id=run.id)
        assert message["status"] == "sent" and message["provider_message_id"]

    def test_a_refused_recipient_fails_and_a_down_server_retries(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        mail_settings: Settings,
        smtp: FakeSmtp,
        clock: FrozenClock,
    ) -> None:
        from atelier.platform.settings import use_settings

        use_settings(mail_settings)
        partner = catalog.create_partner(admin, client, email="gone@loom.test")
        run = sent_run(admin, client, partner)
        drain()
        smtp.refuse_with = (550, "5.1.1 mailbox unavailable")
        deliver(db, mail_settings)
        [message] = stored_messages(db, production_run_id=run.id)
        assert (message["status"], message["error_code"]) == ("failed", "smtp_550")
        assert "mailbox unavailable" in message["error"]

        other = catalog.create_partner(admin, client, email="later@loom.test")
        second = sent_run(admin, client, other)
        drain()
        down = mail_settings.model_copy(update={"smtp_port": 9})
        deliver(db, down)
        [queued] = stored_messages(db, production_run_id=second.id)
        assert (queued["status"], queued["error_code"]) == ("queued", "smtp_unreachable")
        smtp.refuse_with = None
        clock.advance(timedelta(seconds=3))
        deliver(db, mail_settings)
        assert stored_messages(db, production_run_id=second.id)[0]["status"] == "sent"
        assert len(smtp.messages) == 1


def _formatted(records: list[logging.LogRecord]) -> str:
    text, json_ = TextFormatter("%(message)s"), JsonFormatter()
    return "\n".join(text.format(r) + "\n" + json_.format(r) for r in records)


def test_no_secret_reaches_any_log_line(
    admin: TestClient,
    client: TestClient,
    drain: Callable[[], int],
    db: Database,
    settings: Settings,
    graph: FakeGraph,
    mail_settings: Settings,
    smtp: FakeSmtp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Platform secrets, the SMTP password, deep-link tokens and signatures never appear in a
    log line — formatted as text or JSON, with every structured field — at INFO or DEBUG."""
    caplog.set_level(logging.DEBUG)
    smtp_password = "smtp-password-never-logged-42"
    with_password = mail_settings.model_copy(
        update={"smtp_username": "atelier", "smtp_password": SecretStr(smtp_password)}
    )
    platforms = create_platforms(admin, graph)
    partner = partner_with_number(admin, client, IN_NUMBER)
    run = sent_run(admin, client, partner)
    drain()
    deliver(db, settings)
    [request] = graph.sent()
    token = request.body["template"]["components"][-1]["parameters"][0]["text"]
    # A failing send, a webhook with a quick reply and a status, a template listing, an update.
    graph.message_responses.append((400, {"error": {"message": "bad", "code": 100}}))
    body = webhook_body(
        "1100000001",
        statuses=[{"id": "wamid.FAKE0001", "status": "read", "timestamp": "1"}],
        messages=[
            {
                "from": IN_NUMBER.lstrip("+"),
                "id": "wamid.INLOG1",
                "timestamp": "1",
                "type": "button",
                "button": {"payload": f"accept:{run.id}", "text": "Accept"},
            }
        ],
    )
    response = post_webhook(client, body, IN_SECRETS["app_secret"])
    assert response.status_code == 200, response.text
    signature = response.request.headers["X-Hub-Signature-256"]
    deliver(db, settings)
    admin.get("/admin/whatsapp/templates", params={"platform_id": platforms["IN"]["id"]})
    admin.patch(
        f"/admin/whatsapp/platforms/{platforms['AU']['id']}",
        json={"access_token": "rotated-au-token-secret-77"},
    )
    client.get(
        "/partners/wa-auth", params={"wa_token": token}, headers={"Accept": "application/json"}
    )
    from atelier.platform.settings import use_settings

    use_settings(with_password)
    email_partner = catalog.create_partner(admin, client, email="desk@loom.test")
    mailed = sent_run(admin, client, email_partner)
    drain()
    deliver(db, with_password)  # the fake SMTP server offers no AUTH: the login is refused
    [attempt] = stored_messages(db, production_run_id=mailed.id)
    assert attempt["channel"] == "email" and attempt["error_code"] == "smtp_error"

    # The test's own HTTP client logs the URLs it calls (the deep link included): not the app.
    app_records = [
        r
        for r in caplog.records
        if not (r.name == "httpx" and "http://testserver" in r.getMessage())
    ]
    logged = _formatted(app_records)
    assert "partner message" in logged and "whatsapp" in logged  # we did capture the work
    secrets = [
        *IN_SECRETS.values(),
        *AU_SECRETS.values(),
        "rotated-au-token-secret-77",
        smtp_password,
        token,
        signature.removeprefix("sha256="),
    ]
    for secret in secrets:
        assert secret not in logged, secret
