"""The WhatsApp webhook: subscription check, signatures, status callbacks that never move
backwards, inbound language, and quick replies that act (or refuse, with the reason)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from atelier.notifications import service
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.settings import Settings
from tests.conftest import assert_problem
from tests.notifications.fakes import FakeGraph
from tests.notifications.support import (
    AU_SECRETS,
    IN_NUMBER,
    IN_SECRETS,
    create_platforms,
    deliver,
    messages,
    partner_with_number,
    post_webhook,
    sent_run,
    stored_messages,
    webhook_body,
)

IN_PHONE_ID = "1100000001"
_ids = iter(range(1, 10_000))


def inbound(number: str, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": number.lstrip("+"),
        "id": f"wamid.IN{next(_ids):05d}",
        "timestamp": "1793600000",
    }
    message.update(fields)
    return message


def button(number: str, payload: str, text: str = "Accept", **fields: Any) -> dict[str, Any]:
    return inbound(number, type="button", button={"payload": payload, "text": text}, **fields)


def status(provider_id: str, value: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": provider_id,
        "status": value,
        "timestamp": "1793600100",
        "recipient_id": IN_NUMBER.lstrip("+"),
        **fields,
    }


class TestSubscription:
    def test_known_verify_token_echoes_the_challenge(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        create_platforms(admin, graph)
        for secrets in (IN_SECRETS, AU_SECRETS):
            response = client.get(
                "/webhooks/whatsapp",
                params={
                    "hub.mode": "subscribe",
                    "hub.verify_token": secrets["verify_token"],
                    "hub.challenge": "1158201444",
                },
            )
            assert response.status_code == 200
            assert response.text == "1158201444"

    def test_unknown_token_or_mode_is_403(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        create_platforms(admin, graph)
        bad = {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
        assert_problem(client.get("/webhooks/whatsapp", params=bad), 403, "invalid_verify_token")
        wrong_mode = {
            **bad,
            "hub.mode": "unsubscribe",
            "hub.verify_token": IN_SECRETS["verify_token"],
        }
        assert_problem(client.get("/webhooks/whatsapp", params=wrong_mode), 403)
        assert_problem(client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe"}), 422)


class TestSignature:
    def test_missing_or_wrong_signature_is_401(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        create_platforms(admin, graph)
        body = webhook_body(IN_PHONE_ID, statuses=[])
        assert_problem(client.post("/webhooks/whatsapp", json=body), 401, "invalid_signature")
        assert_problem(post_webhook(client, body, "not-the-secret"), 401, "invalid_signature")
        response = client.post(
            "/webhooks/whatsapp",
            content=b"{}",
            headers={"X-Hub-Signature-256": "md5=abc", "Content-Type": "application/json"},
        )
        assert_problem(response, 401, "invalid_signature")

    def test_signed_garbage_is_422_not_500(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        import hashlib
        import hmac

        create_platforms(admin, graph)
        for raw in (b"not json", b"[1, 2]"):
            digest = hmac.new(IN_SECRETS["app_secret"].encode(), raw, hashlib.sha256).hexdigest()
            response = client.post(
                "/webhooks/whatsapp",
                content=raw,
                headers={"X-Hub-Signature-256": f"sha256={digest}"},
            )
            assert_problem(response, 422, "invalid_json")
        odd = {"entry": [None, {"changes": [{"value": {"statuses": [None, {"id": 5}]}}]}]}
        response = post_webhook(client, odd, IN_SECRETS["app_secret"])
        assert response.status_code == 200, response.text

    def test_another_platforms_secret_cannot_speak_for_this_number(
        self, admin: TestClient, client: TestClient, graph: FakeGraph, db: Database
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        body = webhook_body(IN_PHONE_ID, messages=[button(IN_NUMBER, f"accept:{run.id}")])
        response = post_webhook(client, body, AU_SECRETS["app_secret"])
        assert response.status_code == 200
        assert response.json()["messages_recorded"] == 0
        assert admin.get(run.admin_url()).json()["production_run"]["status"] == "sent_to_partner"


class TestStatuses:
    def _sent_message(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> dict[str, Any]:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        deliver(db, settings)
        [message] = messages(admin, production_run_id=run.id)
        assert message["status"] == "sent"
        return message

    def test_statuses_move_forward_only(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        message = self._sent_message(admin, client, drain, db, settings, graph)
        wamid = message["provider_message_id"]
        secret = IN_SECRETS["app_secret"]

        def push(*values: str) -> dict[str, Any]:
            body = webhook_body(IN_PHONE_ID, statuses=[status(wamid, v) for v in values])
            response = post_webhook(client, body, secret)
            assert response.status_code == 200, response.text
            stored: dict[str, Any] = admin.get(f"/admin/messages/{message['id']}").json()["message"]
            return stored

        assert push("delivered")["status"] == "delivered"
        read = push("read")
        assert read["status"] == "read" and read["delivered_at"] is not None
        assert push("delivered", "sent")["status"] == "read"
        failed = webhook_body(
            IN_PHONE_ID, statuses=[status(wamid, "failed", errors=[{"code": 131026}])]
        )
        post_webhook(client, failed, secret)
        after = admin.get(f"/admin/messages/{message['id']}").json()["message"]
        assert after["status"] == "read" and after["error_code"] is None

    def test_failed_callback_records_the_provider_code(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        message = self._sent_message(admin, client, drain, db, settings, graph)
        errors = [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "error_data": {"details": "Message Undeliverable."},
            }
        ]
        body = webhook_body(
            IN_PHONE_ID, statuses=[status(message["provider_message_id"], "failed", errors=errors)]
        )
        assert post_webhook(client, body, IN_SECRETS["app_secret"]).json()["statuses_applied"] == 1
        stored = admin.get(f"/admin/messages/{message['id']}").json()["message"]
        assert stored["status"] == "failed"
        assert stored["error_code"] == "131026"
        assert stored["error"] == "Message Undeliverable."

    def test_unknown_message_ids_are_ignored(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        create_platforms(admin, graph)
        body = webhook_body(IN_PHONE_ID, statuses=[status("wamid.UNKNOWN", "read")])
        response = post_webhook(client, body, IN_SECRETS["app_secret"])
        assert response.status_code == 200
        assert response.json()["statuses_ignored"] == 1


class TestInboundLanguage:
    def test_last_inbound_language_drives_the_next_message(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER)
        body = webhook_body(
            IN_PHONE_ID, messages=[inbound(IN_NUMBER, type="text", text={"body": "Hello team"})]
        )
        assert post_webhook(client, body, IN_SECRETS["app_secret"]).status_code == 200
        run = sent_run(admin, client, partner)
        drain()
        [message] = messages(admin, production_run_id=run.id)
        assert message["language"] == "en"  # not hi from +91: the partner wrote in English

        hindi = webhook_body(
            IN_PHONE_ID, messages=[inbound(IN_NUMBER, type="text", text={"body": "नमस्ते जी"})]
        )
        post_webhook(client, hindi, IN_SECRETS["app_secret"])
        with db.session() as session:
            result = service.send_for_event(
                session,
                "production_run.cancelled",
                {"production_run_id": run.id, "partner_id": partner.id},
            )
        assert result is not None and result.message.language == "hi"


class TestQuickReplies:
    def test_accept_from_the_partners_number_accepts_through_whatsapp(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER, preferred_language="en")
        run = sent_run(admin, client, partner)
        drain()
        deliver(db, settings)
        [assignment] = messages(admin, production_run_id=run.id)
        reply = button(
            IN_NUMBER, f"accept:{run.id}", context={"id": assignment["provider_message_id"]}
        )
        body = webhook_body(IN_PHONE_ID, messages=[reply])
        response = post_webhook(client, body, IN_SECRETS["app_secret"])
        assert response.status_code == 200, response.text
        assert response.json()["actions"] == ["accept:accepted"]

        detail = admin.get(run.admin_url()).json()["production_run"]
        assert detail["status"] == "in_progress" and detail["accepted_at"] is not None
        events = admin.get(run.admin_url("/events")).json()["events"]
        accepted = next(e for e in events if e["kind"] == "accepted")
        assert (accepted["channel"], accepted["actor_type"], accepted["actor_id"]) == (
            "whatsapp",
            "partner",
            partner.id,
        )

        # The confirmation goes back as free-form text, inside the window the reply opened.
        [answer] = [m for m in messages(admin, partner_id=partner.id) if m["kind"] == "text"]
        assert answer["status"] == "queued" and answer["recipient"] == IN_NUMBER
        assert "accepted" in answer["body"]
        deliver(db, settings)
        text = [r for r in graph.sent() if r.body["type"] == "text"]
        assert len(text) == 1 and "accepted" in text[0].body["text"]["body"]

        # The same webhook again (Meta redelivers): nothing happens twice.
        again = post_webhook(client, body, IN_SECRETS["app_secret"])
        assert again.json()["duplicates"] == 1 and again.json()["actions"] == []

    def test_the_same_reply_from_another_number_changes_nothing(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER)
        run = sent_run(admin, client, partner)
        stranger = "+919000000001"
        body = webhook_body(IN_PHONE_ID, messages=[button(stranger, f"accept:{run.id}")])
        response = post_webhook(client, body, IN_SECRETS["app_secret"])
        assert response.json()["actions"] == ["accept:not_your_number"]
        assert admin.get(run.admin_url()).json()["production_run"]["status"] == "sent_to_partner"
        [answer] = messages(admin, channel="whatsapp", status="queued")
        assert answer["recipient"] == stranger and answer["partner_id"] is None
        assert "नहीं" in answer["body"]  # +91 → Hindi

        # An unverified number of the partner itself may not act either.
        unverified = partner_with_number(admin, client, "+919111111111", verified=False)
        other = sent_run(admin, client, unverified)
        body = webhook_body(IN_PHONE_ID, messages=[button("+919111111111", f"accept:{other.id}")])
        assert post_webhook(client, body, IN_SECRETS["app_secret"]).json()["actions"] == [
            "accept:not_your_number"
        ]

    def test_reply_for_a_run_not_in_that_state_answers_the_reason(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER, preferred_language="en")
        run = sent_run(admin, client, partner)
        body = webhook_body(IN_PHONE_ID, messages=[button(IN_NUMBER, f"start:{run.id}")])
        response = post_webhook(client, body, IN_SECRETS["app_secret"])
        [action] = response.json()["actions"]
        assert action.startswith("start:") and action != "start:started"
        assert admin.get(run.admin_url()).json()["production_run"]["started_at"] is None
        [answer] = [m for m in messages(admin, partner_id=partner.id) if m["kind"] == "text"]
        assert answer["body"].startswith(f"Nothing was changed on production run {run.id}")

        other_partner = partner_with_number(admin, client, "+919222222222")
        foreign = sent_run(admin, client, other_partner)
        body = webhook_body(IN_PHONE_ID, messages=[button(IN_NUMBER, f"accept:{foreign.id}")])
        [action] = post_webhook(client, body, IN_SECRETS["app_secret"]).json()["actions"]
        assert action == "accept:production_run_not_found"
        assert (
            admin.get(foreign.admin_url()).json()["production_run"]["status"] == "sent_to_partner"
        )

    def test_decline_and_start_replies(
        self, admin: TestClient, client: TestClient, graph: FakeGraph
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER)
        declined = sent_run(admin, client, partner)
        body = webhook_body(IN_PHONE_ID, messages=[button(IN_NUMBER, f"decline:{declined.id}")])
        assert post_webhook(client, body, IN_SECRETS["app_secret"]).json()["actions"] == [
            "decline:declined"
        ]
        assert (
            admin.get(declined.admin_url()).json()["production_run"]["status"]
            == "awaiting_reassignment"
        )

        started = sent_run(admin, client, partner)
        assert client.post(started.url("/accept"), headers=partner.headers).status_code == 200
        interactive = inbound(
            IN_NUMBER,
            type="interactive",
            interactive={
                "type": "button_reply",
                "button_reply": {"id": f"start:{started.id}", "title": "Start"},
            },
        )
        body = webhook_body(IN_PHONE_ID, messages=[interactive])
        assert post_webhook(client, body, IN_SECRETS["app_secret"]).json()["actions"] == [
            "start:started"
        ]
        assert admin.get(started.admin_url()).json()["production_run"]["started_at"] is not None

    def test_a_number_replied_to_an_idle_reminder_records_progress(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
        clock: FrozenClock,
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER)
        run = sent_run(admin, client, partner, quantity=250)
        partner_with_number(admin, client, "+919333333333")  # a partner with no idle reminder
        for verb in ("accept", "start"):
            assert client.post(run.url(f"/{verb}"), headers=partner.headers).status_code == 200
        drain()
        clock.advance(timedelta(days=4))
        with db.session() as session:
            service.send_for_event(
                session,
                "production_run.reminder_idle",
                {"production_run_id": run.id, "partner_id": partner.id},
            )
        deliver(db, settings)
        [reminder] = stored_messages(db, template_name="atelier_run_reminder_idle_v1")
        assert reminder["status"] == "sent" and reminder["variables"]["quantity"] == "250"

        reply = inbound(
            IN_NUMBER,
            type="text",
            text={"body": " 120 "},
            context={"id": reminder["provider_message_id"]},
        )
        body = webhook_body(IN_PHONE_ID, messages=[reply])
        response = post_webhook(client, body, IN_SECRETS["app_secret"])
        assert response.json()["actions"] == ["progress:progress_recorded"]
        with db.session(write=False) as session:
            from atelier.production.models import ProductionRun

            stored = session.get(ProductionRun, run.id)
            assert stored is not None and stored.produced_quantity == 120

        # Without quoting, a bare number still answers the latest idle reminder.
        plain = webhook_body(
            IN_PHONE_ID, messages=[inbound(IN_NUMBER, type="text", text={"body": "180"})]
        )
        assert post_webhook(client, plain, IN_SECRETS["app_secret"]).json()["actions"] == [
            "progress:progress_recorded"
        ]
        # A number with no idle reminder to answer is just a message.
        lone = webhook_body(
            IN_PHONE_ID, messages=[inbound("+919333333333", type="text", text={"body": "5"})]
        )
        assert post_webhook(client, lone, IN_SECRETS["app_secret"]).json()["actions"] == []
