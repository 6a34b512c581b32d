"""The admin message log page: filters, partner names, the provider error, detail."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update

from atelier.notifications.models import Message
from atelier.platform.db import Database
from tests.notifications.support import partner_with_number, sent_run


def test_log_filters_and_shows_the_error(
    admin: TestClient,
    client: TestClient,
    web_admin: TestClient,
    drain: Callable[[], int],
    db: Database,
) -> None:
    kiran = partner_with_number(admin, client, name="Kiran <b>Prints</b>")
    meera = partner_with_number(admin, client, "+919800000002", name="Meera Works")
    run = sent_run(admin, client, kiran)
    sent_run(admin, client, meera)
    drain()
    with db.session() as s:
        s.execute(
            update(Message)
            .where(Message.production_run_id == run.id)
            .values(status="failed", error="template not approved", error_code="132001")
        )
    page = web_admin.get("/app/messages")
    assert page.status_code == 200
    assert "<title>Messages · Atelier</title>" in page.text
    assert "Kiran &lt;b&gt;Prints&lt;/b&gt;" in page.text and "Meera Works" in page.text
    filtered = web_admin.get(f"/app/messages?status=failed&partner_id={kiran.id}&channel=")
    assert "template not approved" in filtered.text and "Meera Works</td>" not in filtered.text
    by_run = web_admin.get(f"/app/messages?production_run_id={run.id}")
    assert "1 message" in by_run.text
    message_id = admin.get(f"/admin/messages?production_run_id={run.id}").json()["messages"][0][
        "id"
    ]
    detail = web_admin.get(f"/app/messages/{message_id}")
    assert detail.status_code == 200 and "132001" in detail.text
    assert web_admin.get("/app/messages/msg_nope").status_code == 404
