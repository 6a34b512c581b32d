"""The one send operation: recipient, language, template, variables, dedup and the message log,
driven through real events (outbox) with the log provider (no WhatsApp platform configured)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from atelier.flows.seeds import DISPATCHER_NAME
from atelier.notifications import service
from atelier.notifications.catalog import EVENT_TEMPLATES, TEMPLATES
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.errors import Invalid
from atelier.platform.settings import Settings
from tests.conftest import assert_problem
from tests.factories import catalog
from tests.notifications.support import (
    AU_NUMBER,
    IN_NUMBER,
    deliver,
    messages,
    partner_with_number,
    sent_run,
    stored_messages,
)


class TestRunSentToPartner:
    def test_partner_gets_the_assignment_in_hindi_on_an_indian_number(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        settings: Settings,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        partner = partner_with_number(admin, client, IN_NUMBER, name="Rajesh Prints")
        run = sent_run(admin, client, partner, quantity=25)
        drain()
        [message] = messages(admin, production_run_id=run.id)
        assert message["status"] == "queued"
        assert message["channel"] == "log"  # no WhatsApp platform serves +91 yet
        assert message["recipient"] == IN_NUMBER
        assert message["partner_id"] == partner.id
        assert message["language"] == "hi"
        # No design image and no brand logo: the variant without the image header.
        assert message["template_name"] == "atelier_run_assigned_text_v1"
        assert message["variables"] == {
            "partner_name": "Rajesh Prints",
            "design_name": "Block Print Kurta",
            "run_id": run.id,
            "quantity": "25",
            "produced_quantity": "0",
            "reason": "not given",
        }
        assert message["context_type"] == "production_run"
        assert message["context_id"] == run.id
        assert "Rajesh Prints" in message["body"] and "नमस्ते" in message["body"]

        caplog.set_level(logging.DEBUG)
        assert deliver(db, settings) == 1
        [message] = messages(admin, production_run_id=run.id)
        assert message["status"] == "sent"
        assert message["provider_message_id"].startswith("logmsg_")
        assert message["attempts"] == 1
        assert message["sent_at"] is not None
        logged = [r for r in caplog.records if r.name == "atelier.notifications.log_provider"]
        assert len(logged) == 1 and "Rajesh Prints" in logged[0].getMessage()
        assert "wa_token" not in caplog.text  # the deep link is never logged

    def test_saved_preference_wins_over_the_phone_prefix(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        partner = partner_with_number(admin, client, IN_NUMBER, preferred_language="en")
        run = sent_run(admin, client, partner)
        drain()
        [message] = messages(admin, production_run_id=run.id)
        assert message["language"] == "en"
        assert message["body"].startswith("Hi ")

    def test_other_countries_get_english(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        partner = partner_with_number(admin, client, AU_NUMBER)
        run = sent_run(admin, client, partner)
        drain()
        assert messages(admin, production_run_id=run.id)[0]["language"] == "en"

    def test_unverified_number_falls_back_to_a_user_phone_then_email(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        partner = partner_with_number(admin, client, IN_NUMBER, verified=False)
        run = sent_run(admin, client, partner)
        drain()
        [message] = messages(admin, production_run_id=run.id)
        assert message["recipient"] == partner.email  # no user phone: the user's email
        assert message["channel"] == "log"  # no SMTP configured

        with_phone = catalog.create_partner(
            admin, client, user={"phone": AU_NUMBER}, email="workshop@example.test"
        )
        other = sent_run(admin, client, with_phone)
        drain()
        [message] = messages(admin, production_run_id=other.id)
        assert message["recipient"] == AU_NUMBER

    def test_partner_email_before_user_email(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        partner = catalog.create_partner(admin, client, email="desk@loom.test")
        run = sent_run(admin, client, partner)
        drain()
        assert messages(admin, production_run_id=run.id)[0]["recipient"] == "desk@loom.test"

    def test_redelivered_event_makes_one_queued_and_one_deduplicated_message(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int], db: Database
    ) -> None:
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        with db.session() as session:
            result = service.send_for_event(
                session,
                "production_run.sent_to_partner",
                {"production_run_id": run.id, "partner_id": partner.id},
            )
            assert result is not None and result.status == "deduplicated"
        rows = messages(admin, production_run_id=run.id)
        assert sorted(m["status"] for m in rows) == ["deduplicated", "queued"]
        duplicate = next(m for m in rows if m["status"] == "deduplicated")
        queued = next(m for m in rows if m["status"] == "queued")
        assert duplicate["error"] == f"duplicate of {queued['id']}"

    def test_after_the_window_the_same_message_sends_again(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        clock: FrozenClock,
    ) -> None:
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        clock.advance(timedelta(minutes=61))
        with db.session() as session:
            result = service.send_partner_message(
                session,
                partner_id=partner.id,
                template_name="atelier_run_assigned_text_v1",
                production_run_id=run.id,
            )
        assert result.status == "queued"
        assert [m["status"] for m in messages(admin, production_run_id=run.id)] == [
            "queued",
            "queued",
        ]

    def test_a_run_reassigned_within_the_window_reaches_the_new_partner(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        from tests.production.lifecycle_helpers import template

        first = partner_with_number(admin, client, IN_NUMBER)
        second = partner_with_number(admin, client, AU_NUMBER)
        run = sent_run(admin, client, first)
        drain()
        moved = admin.post(run.admin_url("/reassign"), json={"partner_id": second.id})
        assert moved.status_code == 200, moved.text
        sent = admin.post(
            run.admin_url("/send-to-production"), json={"template_names": [template(admin)]}
        )
        assert sent.status_code == 200, sent.text
        drain()
        rows = messages(admin, production_run_id=run.id)
        assert sorted((m["recipient"], m["status"]) for m in rows) == [
            (AU_NUMBER, "queued"),
            (IN_NUMBER, "queued"),
        ]

    def test_admins_get_a_feed_entry(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        entries = admin.get("/admin/feed", params={"production_run_id": run.id}).json()
        assert [e["kind"] for e in entries["feed_entries"]] == ["production_run.sent_to_partner"]


class TestOtherEvents:
    def test_cancel_and_complete_reach_the_partner(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        partner = partner_with_number(admin, client, AU_NUMBER)
        run = sent_run(admin, client, partner)
        response = admin.post(run.admin_url("/cancel"), json={"reason": "Order withdrawn"})
        assert response.status_code == 200, response.text
        drain()
        rows = messages(admin, production_run_id=run.id)
        cancelled = next(m for m in rows if m["template_name"] == "atelier_run_cancelled_v1")
        assert cancelled["variables"]["reason"] == "Order withdrawn"
        assert "Order withdrawn" in cancelled["body"]

        other = sent_run(admin, client, partner, quantity=4)
        for verb in ("accept", "start", "finish"):
            assert client.post(other.url(f"/{verb}"), headers=partner.headers).status_code == 200
        response = client.post(
            other.url("/complete"), headers=partner.headers, json={"produced_quantity": 4}
        )
        assert response.status_code == 200, response.text
        drain()
        done = messages(admin, production_run_id=other.id, template_name="atelier_run_completed_v1")
        assert len(done) == 1 and done[0]["variables"]["produced_quantity"] == "4"

    def test_cancelling_a_run_never_sent_tells_nobody(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int]
    ) -> None:
        from tests.factories import runs

        partner = partner_with_number(admin, client)
        design = catalog.create_design(admin)
        run = runs.create_run(admin, design_id=design["id"], partner_id=partner.id, quantity=3)
        assert admin.post(f"/admin/production-runs/{run['id']}/cancel", json={}).status_code == 200
        drain()
        assert messages(admin, production_run_id=run["id"]) == []

    def test_event_without_template_writes_no_message(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)
        drain()
        caplog.set_level(logging.INFO, logger="atelier.notifications")
        assert client.post(run.url("/accept"), headers=partner.headers).status_code == 200
        drain()
        assert "production_run.accepted" not in EVENT_TEMPLATES
        assert [m["template_name"] for m in messages(admin, production_run_id=run.id)] == [
            "atelier_run_assigned_text_v1"
        ]
        # The partner dispatcher flow ran for the event and stopped at its template check.
        flow = admin.get("/admin/flows", params={"name": DISPATCHER_NAME}).json()["flows"][0]
        executions = admin.get(
            f"/admin/flows/{flow['id']}/executions",
            params={"triggered_by": "event:production_run.accepted"},
        ).json()["executions"]
        assert [e["status"] for e in executions] == ["skipped"]
        steps = {s["key"]: s for s in executions[0]["steps"]}
        assert steps["resolve_template"]["output"]["reason"] == "no_template_for_event"
        assert steps["has_template"]["output"]["reason"] == "no_template_for_event"
        assert steps["send_whatsapp"]["status"] == "skipped"
        del caplog

    def test_partner_without_any_contact_is_skipped_no_recipient(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int], db: Database
    ) -> None:
        partner = partner_with_number(admin, client, None)
        run = sent_run(admin, client, partner)
        with db.session() as session:
            from atelier.partners.models import PartnerUser

            for user in session.query(PartnerUser).filter_by(partner_id=partner.id):
                user.is_active = False
        drain()
        [message] = messages(admin, production_run_id=run.id)
        assert message["status"] == "skipped_no_recipient"
        assert message["recipient"] is None


class TestReminders:
    def test_one_reminder_per_run_per_business_day(
        self,
        admin: TestClient,
        client: TestClient,
        drain: Callable[[], int],
        db: Database,
        clock: FrozenClock,
    ) -> None:
        partner = partner_with_number(admin, client, AU_NUMBER)
        run = sent_run(admin, client, partner)
        drain()
        clock.advance(timedelta(days=2, hours=1))

        def remind() -> str:
            with db.session() as session:
                result = service.send_for_event(
                    session,
                    "production_run.reminder_assignment_pending",
                    {"production_run_id": run.id, "partner_id": partner.id},
                )
                assert result is not None
                return result.status

        assert remind() == "queued"
        clock.advance(timedelta(hours=3))  # past the 60-minute window, same business day
        assert remind() == "deduplicated"
        clock.advance(timedelta(days=1))
        assert remind() == "queued"
        rows = stored_messages(db, template_name="atelier_run_reminder_pending_v1")
        assert len(rows) == 3
        sent = [m for m in rows if m["status"] == "queued"]
        days = sorted(m["context_id"].rsplit(":", 1)[1] for m in sent)
        assert days == ["2026-11-04", "2026-11-05"]
        assert all(m["context_id"].startswith(f"{run.id}:reminder:") for m in rows)
        first = min(sent, key=lambda m: m["created_at"])
        assert first["variables"]["days"] == "3"  # 2 days 1 hour since dispatch, rounded up


class TestConcurrentSends:
    def test_two_concurrent_sends_queue_one_message(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        partner = partner_with_number(admin, client)
        run = sent_run(admin, client, partner)  # its event is not drained: no message yet
        barrier = threading.Barrier(4)
        results: list[str] = []
        errors: list[BaseException] = []

        def send() -> None:
            try:
                barrier.wait()
                with db.session() as session:
                    result = service.send_partner_message(
                        session,
                        partner_id=partner.id,
                        template_name="atelier_run_cancelled_v1",
                        production_run_id=run.id,
                        settings=settings,
                    )
                    results.append(result.status)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert sorted(results) == ["deduplicated", "deduplicated", "deduplicated", "queued"]
        assert deliver(db, settings) == 1


class TestSendGuards:
    def test_unknown_template_and_missing_arguments(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        partner = partner_with_number(admin, client)
        with db.session() as session:
            with pytest.raises(Invalid) as unknown:
                service.send_partner_message(session, partner_id=partner.id, template_name="nope")
            assert unknown.value.code == "unknown_template"
            with pytest.raises(Invalid) as neither:
                service.send_partner_message(session, partner_id=partner.id)
            assert neither.value.code == "invalid_message"
            with pytest.raises(Invalid) as missing:
                service.send_partner_message(
                    session, partner_id=partner.id, template_name="atelier_run_cancelled_v1"
                )
            assert missing.value.code == "missing_variables"

    def test_free_form_text_outside_the_window_fails_without_sending(
        self, admin: TestClient, client: TestClient, db: Database, settings: Settings
    ) -> None:
        from tests.notifications.support import deliver as run_delivery

        partner = partner_with_number(admin, client)
        with db.session() as session:
            result = service.send_partner_message(session, partner_id=partner.id, text="hello")
        # No platform serves the number, so it goes to the log provider (no window there).
        assert result.status == "queued"
        assert run_delivery(db, settings) == 1

    def test_every_template_renders_in_both_languages(self) -> None:
        for spec in TEMPLATES.values():
            for language in ("en", "hi"):
                values = list(spec.examples[language])
                body = spec.render(language, values)
                assert "{{" not in body, (spec.name, language)
                assert len(values) == len(spec.variables)


class TestMessagesApi:
    def test_filters_detail_and_access(
        self, admin: TestClient, client: TestClient, drain: Callable[[], int], app: object
    ) -> None:
        partner = partner_with_number(admin, client, AU_NUMBER)
        first = sent_run(admin, client, partner)
        second = sent_run(admin, client, partner)
        drain()
        all_rows = messages(admin, partner_id=partner.id)
        assert [m["production_run_id"] for m in all_rows] == [second.id, first.id]  # newest first
        assert len(messages(admin, context_id=first.id)) == 1
        assert len(messages(admin, status="queued", channel="log")) == 2
        assert messages(admin, status="failed") == []
        assert messages(admin, template_name="atelier_run_cancelled_v1") == []

        message_id = all_rows[0]["id"]
        detail = admin.get(f"/admin/messages/{message_id}")
        assert detail.status_code == 200
        assert detail.json()["message"]["id"] == message_id
        assert_problem(admin.get("/admin/messages/msg_nope"), 404, "message_not_found")
        assert_problem(admin.get("/admin/messages", params={"status": "bogus"}), 422)
        assert_problem(admin.get("/admin/messages", params={"limit": 0}), 422)
        assert_problem(client.get("/admin/messages"), 401)
        assert_problem(client.get("/admin/messages", headers=partner.headers), 403)
        assert_problem(client.get(f"/admin/messages/{message_id}", headers=partner.headers), 403)
