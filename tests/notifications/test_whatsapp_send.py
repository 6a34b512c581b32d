"""Sending through the WhatsApp Cloud API (a local fake Graph API over real HTTP): templates,
variables, buttons and deep links, images, retries that never double-send, provider refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from atelier.notifications import service
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.settings import Settings
from tests.factories import catalog
from tests.notifications.fakes import FakeGraph, graph_error
from tests.notifications.support import (
    AU_NUMBER,
    IN_NUMBER,
    IN_SECRETS,
    create_platforms,
    deliver,
    messages,
    partner_with_number,
    sent_run,
    stored_messages,
)


def _components(body: dict[str, object]) -> dict[str, object]:
    template = body["template"]
    assert isinstance(template, dict)
    out: dict[str, object] = {}
    for component in template["components"]:
        key = component["type"] if component["type"] != "button" else f"button:{component['index']}"
        out[key] = component
    return out


class TestTemplateSend:
    def test_run_sent_reaches_the_indian_partner_in_hindi(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        platforms = create_platforms(admin, graph)
        partner = partner_with_number(admin, client, IN_NUMBER, name="Rajesh Prints")
        run = sent_run(admin, client, partner, quantity=250)
        drain()
        assert deliver(db, settings) == 1

        [request] = graph.sent()
        assert request.path == "/v21.0/1100000001/messages"
        assert request.headers["authorization"] == f"Bearer {IN_SECRETS['access_token']}"
        assert request.body["to"] == IN_NUMBER.lstrip("+")
        assert request.body["type"] == "template"
        template = request.body["template"]
        assert template["name"] == "atelier_run_assigned_text_v1"
        assert template["language"] == {"code": "hi"}
        parts = _components(request.body)
        assert [p["text"] for p in parts["body"]["parameters"]] == [
            "Rajesh Prints",
            "Block Print Kurta",
            run.id,
            "250",
        ]
        assert parts["button:0"]["sub_type"] == "quick_reply"
        assert parts["button:0"]["parameters"] == [
            {"type": "payload", "payload": f"accept:{run.id}"}
        ]
        assert parts["button:1"]["parameters"] == [
            {"type": "payload", "payload": f"decline:{run.id}"}
        ]
        url_button = parts["button:2"]
        assert url_button["sub_type"] == "url"
        token = url_button["parameters"][0]["text"]
        redeemed = client.get(
            "/partners/wa-auth", params={"wa_token": token}, headers={"Accept": "application/json"}
        )
        assert redeemed.status_code == 200, redeemed.text
        assert redeemed.json()["production_run_id"] == run.id

        [message] = messages(admin, production_run_id=run.id)
        assert message["status"] == "sent"
        assert message["channel"] == "whatsapp"
        assert message["platform_id"] == platforms["IN"]["id"]
        assert message["provider_message_id"] == "wamid.FAKE0001"

    def test_english_only_platform_sends_english_whatever_the_preference(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, AU_NUMBER, preferred_language="hi")
        sent_run(admin, client, partner)
        drain()
        deliver(db, settings)
        [request] = graph.sent()
        assert request.path == "/v21.0/1100000002/messages"
        assert request.body["template"]["language"] == {"code": "en"}

    def test_design_thumbnail_becomes_the_header_image(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        graph.images["kurta.jpg"] = 200_000
        partner = partner_with_number(admin, client)
        design = catalog.create_design(admin, thumbnail_url=graph.image_url("kurta.jpg"))
        from tests.production.lifecycle_helpers import dispatched

        dispatched(admin, client, partner=partner, design=design)
        drain()
        deliver(db, settings)
        [request] = graph.sent()
        assert request.body["template"]["name"] == "atelier_run_assigned_v1"
        header = _components(request.body)["header"]
        assert header["parameters"] == [
            {"type": "image", "image": {"link": graph.image_url("kurta.jpg")}}
        ]

    def test_oversized_image_is_skipped_not_sent_to_fail(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        graph.images["huge.jpg"] = settings.whatsapp_image_max_bytes + 1
        partner = partner_with_number(admin, client)
        design = catalog.create_design(admin, thumbnail_url=graph.image_url("huge.jpg"))
        from tests.production.lifecycle_helpers import dispatched

        run = dispatched(admin, client, partner=partner, design=design)
        drain()
        deliver(db, settings)
        [request] = graph.sent()
        assert request.body["template"]["name"] == "atelier_run_assigned_text_v1"
        assert "header" not in _components(request.body)
        [message] = messages(admin, production_run_id=run.id)
        assert message["template_name"] == "atelier_run_assigned_text_v1"
        assert message["image_url"] is None

    def test_brand_logo_is_the_last_fallback(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        graph.images["logo.png"] = 10_000
        logo = graph.image_url("logo.png")
        with_logo = settings.model_copy(update={"brand_logo_url": logo})
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        with db.session() as session:
            result = service.send_partner_message(
                session,
                partner_id=partner.id,
                template_name="atelier_run_assigned_v1",
                production_run_id=run.id,
                context_id=f"{run.id}:manual",
                settings=with_logo,
            )
        assert result.message.image_url == logo


class TestRetries:
    def test_a_500_then_200_sends_once(
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
        graph.message_responses.append((500, graph_error(1, "An unknown error occurred")))
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        assert deliver(db, settings) == 1
        [message] = stored_messages(db, production_run_id=run.id)
        assert message["status"] == "queued"
        assert message["attempts"] == 1
        assert message["error_code"] == "1"
        assert "unknown error" in message["error"]

        assert deliver(db, settings) == 0  # not due yet: backoff
        clock.advance(timedelta(seconds=3))
        # A redelivered event meanwhile is deduplicated, not a second send.
        with db.session() as session:
            service.send_for_event(
                session,
                "production_run.sent_to_partner",
                {"production_run_id": run.id, "partner_id": partner.id},
            )
        assert deliver(db, settings) == 1
        assert len(graph.message_posts()) == 2
        assert len(graph.sent()) == 1
        rows = stored_messages(db, production_run_id=run.id)
        assert sorted(m["status"] for m in rows) == ["deduplicated", "sent"]
        sent = next(m for m in rows if m["status"] == "sent")
        assert sent["attempts"] == 2 and sent["error"] is None
        assert deliver(db, settings) == 0

    def test_a_timeout_is_retried(
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
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        graph.delay_seconds = 1.0
        fast = settings.model_copy(update={"whatsapp_timeout": 0.2})
        deliver(db, fast)
        [message] = stored_messages(db, production_run_id=run.id)
        assert (message["status"], message["error_code"]) == ("queued", "timeout")
        graph.delay_seconds = 0
        clock.advance(timedelta(seconds=3))
        deliver(db, settings)
        assert stored_messages(db, production_run_id=run.id)[0]["status"] == "sent"

    def test_retries_stop_after_max_attempts(
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
        limited = settings.model_copy(update={"message_max_attempts": 3})
        graph.message_responses.extend([(503, {"error": {"message": "busy", "code": 2}})] * 3)
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        for _ in range(3):
            deliver(db, limited)
            clock.advance(timedelta(seconds=30))
        [message] = stored_messages(db, production_run_id=run.id)
        assert message["status"] == "failed"
        assert message["attempts"] == 3
        assert message["error_code"] == "2"
        assert graph.sent() == []

    def test_a_400_fails_the_message_with_the_provider_text(
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
        graph.message_responses.append(
            (
                400,
                graph_error(
                    132001,
                    "(#132001) Template name does not exist in the translation",
                    "template name (atelier_run_assigned_text_v1) does not exist in hi",
                ),
            )
        )
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        deliver(db, settings)
        clock.advance(timedelta(minutes=5))
        assert deliver(db, settings) == 0  # never retried
        [message] = messages(admin, production_run_id=run.id, status="failed")
        assert message["error_code"] == "132001"
        assert "does not exist in the translation" in message["error"]
        assert "does not exist in hi" in message["error"]
        assert message["failed_at"] is not None
        assert len(graph.message_posts()) == 1

    def test_a_deleted_platform_fails_queued_messages(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        platforms = create_platforms(admin, graph)
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        assert admin.delete(f"/admin/whatsapp/platforms/{platforms['IN']['id']}").status_code == 204
        deliver(db, settings)
        [message] = messages(admin, production_run_id=run.id)
        assert (message["status"], message["error_code"]) == ("failed", "platform_unavailable")


class TestConcurrentDelivery:
    def test_two_delivery_workers_send_each_message_once(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        import threading

        from atelier.notifications.delivery import MessageDelivery

        create_platforms(admin, graph)
        partner = partner_with_number(admin, client)
        for _ in range(4):
            sent_run(admin, client, partner)
        drain()
        graph.delay_seconds = 0.05
        workers = [MessageDelivery(db, settings, worker_id=f"w{i}") for i in range(3)]
        barrier = threading.Barrier(len(workers))

        def work(worker: MessageDelivery) -> None:
            barrier.wait()
            worker.drain()

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in workers:
            worker.close()
        assert len(graph.message_posts()) == 4
        assert {m["status"] for m in stored_messages(db, partner_id=partner.id)} == {"sent"}


@pytest.mark.parametrize("status", [429, 502])
def test_throttling_and_gateway_errors_are_retryable(
    status: int,
    admin: TestClient,
    client: TestClient,
    drain: Callable[[], int],
    db: Database,
    settings: Settings,
    graph: FakeGraph,
) -> None:
    create_platforms(admin, graph)
    graph.message_responses.append((status, graph_error(4, "Too many calls")))
    partner = partner_with_number(admin, client)
    run = sent_run(admin, client, partner)
    drain()
    deliver(db, settings)
    [message] = stored_messages(db, production_run_id=run.id)
    assert message["status"] == "queued" and message["next_attempt_at"] is not None


class TestFreeFormAndDigest:
    def test_free_form_only_inside_the_24h_window(
        self,
        admin: TestClient,
        client: TestClient,
        db: Database,
        settings: Settings,
        graph: FakeGraph,
        clock: FrozenClock,
    ) -> None:
        from tests.notifications.support import IN_SECRETS, post_webhook, webhook_body

        create_platforms(admin, graph)
        partner = partner_with_number(admin, client)
        with db.session() as session:
            outside = service.send_partner_message(session, partner_id=partner.id, text="Hello")
        assert (outside.status, outside.reason) == ("failed", "outside_customer_service_window")

        wrote = {
            "from": IN_NUMBER.lstrip("+"),
            "id": "wamid.INWINDOW",
            "timestamp": "1",
            "type": "text",
            "text": {"body": "namaste"},
        }
        post_webhook(client, webhook_body("1100000001", messages=[wrote]), IN_SECRETS["app_secret"])
        graph.images["design.jpg"] = 1000
        with db.session() as session:
            inside = service.send_partner_message(
                session,
                partner_id=partner.id,
                text="The new colourway",
                image_url=graph.image_url("design.jpg"),
            )
        assert inside.status == "queued"
        deliver(db, settings)
        [request] = graph.sent()
        assert request.body["type"] == "image"
        assert request.body["image"] == {
            "link": graph.image_url("design.jpg"),
            "caption": "The new colourway",
        }
        clock.advance(timedelta(hours=25))
        with db.session() as session:
            late = service.send_partner_message(session, partner_id=partner.id, text="Again")
        assert late.status == "failed"
        assert len(graph.sent()) == 1

    def test_digest_lists_the_partners_runs_once_a_day(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        graph: FakeGraph,
    ) -> None:
        create_platforms(admin, graph)
        partner = partner_with_number(admin, client, AU_NUMBER, name="Weave Co")
        first = sent_run(admin, client, partner, design_name="Ikat Scarf")
        second = sent_run(admin, client, partner, design_name="Linen Shirt")
        drain()
        payload = {
            "partner_id": partner.id,
            "runs": [
                {"production_run_id": first.id, "reminder_kind": "assignment_pending", "days": 2},
                {"production_run_id": second.id, "reminder_kind": "assignment_pending", "days": 5},
            ],
        }
        with db.session() as session:
            result = service.send_for_event(session, "production_run.reminder_digest", payload)
            again = service.send_for_event(session, "production_run.reminder_digest", payload)
        assert result is not None and again is not None
        assert (result.status, again.status) == ("queued", "deduplicated")
        message = result.message
        assert message.template_name == "atelier_partner_digest_v1"
        assert message.context_type == "partner"
        assert message.context_id == f"{partner.id}:digest:2026-11-02"
        assert message.variables["run_count"] == "2"
        assert message.variables["run_list"] == (
            f"Ikat Scarf ({first.id}, 2 day(s)); Linen Shirt ({second.id}, 5 day(s))"
        )
        deliver(db, settings)
        digest = [
            r for r in graph.sent() if r.body["template"]["name"] == "atelier_partner_digest_v1"
        ]
        assert len(digest) == 1
