"""Admin outbox API: list by state, detail with per-subscriber state, retry (idempotent, never
re-running a subscriber that succeeded, safe under concurrent calls), feed entry, access."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session

import atelier.notifications.feed_subscribers  # noqa: F401  (the dead-event feed entry)
from atelier.platform import outbox
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.dispatcher import FEED_KIND_DEAD, OutboxDispatcher
from atelier.platform.models import OutboxEvent
from atelier.platform.outbox import Event, emit
from tests.conftest import assert_problem
from tests.factories.catalog import create_partner

EVENT = "test.outbox_admin.happened"
MAX_ATTEMPTS = 2
AFTER_BACKOFF = timedelta(hours=1, seconds=1)


class Subscribers:
    """Two subscribers on the global registry: ``steady`` always works, ``fragile`` fails
    while ``broken`` is set. Calls are counted per subscriber and event."""

    def __init__(self) -> None:
        self.broken = True
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def handler(self, name: str) -> Callable[[Session, Event], None]:
        def run(session: Session, event: Event) -> None:
            with self._lock:
                self.calls.append((name, event.id))
            if name == "fragile" and self.broken:
                raise RuntimeError("partner API returned 500")

        return run

    def count(self, name: str, event_id: str) -> int:
        return self.calls.count((name, event_id))


@pytest.fixture
def subs() -> Iterator[Subscribers]:
    recorder = Subscribers()
    outbox.registry.register(EVENT, name="test.steady")(recorder.handler("steady"))
    outbox.registry.register(EVENT, name="test.fragile")(recorder.handler("fragile"))
    yield recorder
    outbox.registry.unregister("test.steady")
    outbox.registry.unregister("test.fragile")


@pytest.fixture
def dispatch(db: Database, clock: FrozenClock) -> Callable[[], int]:
    dispatcher = OutboxDispatcher(
        db,
        worker_id="test-admin",
        registry=outbox.registry,
        max_attempts=MAX_ATTEMPTS,
        jitter=lambda: 1.0,
    )

    def run() -> int:
        processed = dispatcher.drain()
        clock.advance(AFTER_BACKOFF)
        return processed

    return run


def emit_event(db: Database, name: str = EVENT, **payload: Any) -> str:
    with db.session() as session:
        row = emit(session, name, payload)
        session.flush()
        return row.id


def dead_event(db: Database, dispatch: Callable[[], int]) -> str:
    event_id = emit_event(db, order_id="order_1")
    for _ in range(MAX_ATTEMPTS):
        dispatch()
    with db.session(write=False) as session:
        row = session.get(OutboxEvent, event_id)
        assert row is not None and row.state == "dead"
    return event_id


def get_event(admin: TestClient, event_id: str) -> dict[str, Any]:
    response = admin.get(f"/admin/outbox/events/{event_id}")
    assert response.status_code == 200, response.text
    event: dict[str, Any] = response.json()["event"]
    return event


def retry(admin: TestClient, event_id: str) -> dict[str, Any]:
    response = admin.post(f"/admin/outbox/events/{event_id}/retry")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_subscriber(event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["subscriber"]: s for s in event["subscribers"]}


def dead_feed(admin: TestClient) -> list[dict[str, Any]]:
    response = admin.get("/admin/feed", params={"kind": FEED_KIND_DEAD})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["feed_entries"]
    return entries


@pytest.mark.usefixtures("subs")
class TestListByState:
    def test_each_state_filter_lists_exactly_its_events(
        self, admin: TestClient, db: Database, dispatch: Callable[[], int], subs: Subscribers
    ) -> None:
        dead = dead_event(db, dispatch)
        subs.broken = False
        delivered = emit_event(db)
        dispatch()
        subs.broken = True
        failing = emit_event(db)
        dispatch()  # one failed round: failing, not dead
        pending = emit_event(db)

        for state, expected in (
            ("dead", dead),
            ("failing", failing),
            ("pending", pending),
            ("delivered", delivered),
        ):
            response = admin.get("/admin/outbox/events", params={"state": state})
            assert response.status_code == 200, response.text
            body = response.json()
            assert [e["id"] for e in body["events"]] == [expected], state
            assert body["events"][0]["state"] == state
            assert (body["count"], body["limit"], body["offset"]) == (1, 50, 0)

        everything = admin.get("/admin/outbox/events").json()
        # Newest first.
        assert [e["id"] for e in everything["events"]] == [pending, failing, delivered, dead]
        assert everything["count"] == 4
        dead_row = next(e for e in everything["events"] if e["id"] == dead)
        assert dead_row["dead_at"] is not None
        assert "partner API returned 500" in dead_row["last_error"]
        assert "payload" not in dead_row  # the list stays light; the detail has it

    def test_pagination_and_name_filter(
        self, admin: TestClient, db: Database, clock: FrozenClock
    ) -> None:
        ids = []
        for _ in range(5):
            ids.append(emit_event(db))
            clock.advance(timedelta(seconds=1))
        emit_event(db, "other.thing")
        page = admin.get(
            "/admin/outbox/events", params={"name": EVENT, "limit": 2, "offset": 1}
        ).json()
        assert [e["id"] for e in page["events"]] == [ids[3], ids[2]]
        assert (page["count"], page["limit"], page["offset"]) == (5, 2, 1)

    @pytest.mark.parametrize(
        "params",
        [{"state": "zombie"}, {"limit": 0}, {"limit": 501}, {"offset": -1}, {"name": "a\x00b"}],
    )
    def test_bad_query_is_422(self, admin: TestClient, params: dict[str, Any]) -> None:
        assert_problem(admin.get("/admin/outbox/events", params=params), 422, "validation_error")


@pytest.mark.usefixtures("subs")
class TestDetail:
    def test_detail_shows_payload_and_each_subscribers_state(
        self, admin: TestClient, db: Database, dispatch: Callable[[], int]
    ) -> None:
        event_id = dead_event(db, dispatch)
        event = get_event(admin, event_id)
        assert event["state"] == "dead"
        assert event["payload"] == {"order_id": "order_1"}
        assert event["attempts"] == MAX_ATTEMPTS
        subs = by_subscriber(event)
        assert subs["test.steady"]["state"] == "delivered"
        assert subs["test.steady"]["delivered_at"] is not None
        assert subs["test.fragile"]["state"] == "dead"
        assert subs["test.fragile"]["attempts"] == MAX_ATTEMPTS
        assert "partner API returned 500" in subs["test.fragile"]["last_error"]

    def test_a_fresh_event_lists_its_subscribers_as_pending(
        self, admin: TestClient, db: Database
    ) -> None:
        event = get_event(admin, emit_event(db))
        assert event["state"] == "pending"
        states = {s["subscriber"]: s["state"] for s in event["subscribers"]}
        # Every registered subscriber whose pattern matches (flows listen to "*").
        assert {"test.fragile", "test.steady"} <= set(states)
        assert set(states.values()) == {"pending"}

    def test_unknown_event_is_404(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/outbox/events/evt_nope"), 404, "outbox_event_not_found")
        assert_problem(
            admin.post("/admin/outbox/events/evt_nope/retry"), 404, "outbox_event_not_found"
        )

    def test_malformed_id_is_422(self, admin: TestClient) -> None:
        assert_problem(admin.get("/admin/outbox/events/a%00b"), 422, "validation_error")
        assert_problem(admin.get(f"/admin/outbox/events/{'e' * 65}"), 422, "validation_error")


@pytest.mark.usefixtures("subs")
class TestRetry:
    def test_retry_revives_a_dead_event_and_delivers_it_once(
        self,
        admin: TestClient,
        db: Database,
        dispatch: Callable[[], int],
        subs: Subscribers,
    ) -> None:
        event_id = dead_event(db, dispatch)
        assert len(dead_feed(admin)) == 1
        subs.broken = False  # the partner API is fixed

        body = retry(admin, event_id)
        assert body["rearmed"] == ["test.fragile"]
        event = body["event"]
        assert (event["state"], event["attempts"], event["manual_retries"]) == ("pending", 0, 1)
        assert event["dead_at"] is None
        assert by_subscriber(event)["test.fragile"]["state"] == "pending"
        assert by_subscriber(event)["test.steady"]["state"] == "delivered"

        assert dispatch() == 1
        assert subs.count("fragile", event_id) == MAX_ATTEMPTS + 1
        assert subs.count("steady", event_id) == 1  # never re-run
        assert get_event(admin, event_id)["state"] == "delivered"
        assert dispatch() == 0

        # Retrying again is harmless: nothing to re-arm, nothing re-run.
        again = retry(admin, event_id)
        assert again["rearmed"] == []
        assert again["event"]["state"] == "delivered"
        assert dispatch() == 0
        assert subs.count("fragile", event_id) == MAX_ATTEMPTS + 1
        assert len(dead_feed(admin)) == 1

    def test_an_event_that_dies_again_after_a_retry_gets_a_second_feed_entry(
        self, admin: TestClient, db: Database, dispatch: Callable[[], int]
    ) -> None:
        event_id = dead_event(db, dispatch)
        retry(admin, event_id)
        for _ in range(MAX_ATTEMPTS):
            dispatch()
        event = get_event(admin, event_id)
        assert (event["state"], event["manual_retries"]) == ("dead", 1)
        entries = dead_feed(admin)
        assert len(entries) == 2
        assert {e["data"]["event_id"] for e in entries} == {event_id}

    def test_retry_of_a_failing_event_makes_it_due_now(
        self,
        admin: TestClient,
        db: Database,
        clock: FrozenClock,
        subs: Subscribers,
    ) -> None:
        event_id = emit_event(db)
        worker = OutboxDispatcher(db, worker_id="w", registry=outbox.registry, jitter=lambda: 1.0)
        worker.drain()
        assert get_event(admin, event_id)["state"] == "failing"
        assert worker.drain() == 0  # backing off
        subs.broken = False
        body = retry(admin, event_id)
        assert body["rearmed"] == ["test.fragile"]
        assert body["event"]["manual_retries"] == 0  # it was not dead
        assert worker.drain() == 1  # no need to wait for the backoff
        assert get_event(admin, event_id)["state"] == "delivered"
        assert subs.count("steady", event_id) == 1

    def test_retry_of_a_pending_event_changes_nothing(
        self, admin: TestClient, db: Database, clock: FrozenClock
    ) -> None:
        with db.session() as session:
            row = emit(session, EVENT, {}, delay=timedelta(minutes=10))
            session.flush()
            event_id, due = row.id, row.available_at
        body = retry(admin, event_id)
        assert body["rearmed"] == []
        assert body["event"]["state"] == "pending"
        assert body["event"]["available_at"].startswith(due.isoformat()[:19])

    def test_concurrent_retries_revive_once_and_deliver_once(
        self,
        app: FastAPI,
        admin_token: str,
        admin: TestClient,
        db: Database,
        dispatch: Callable[[], int],
        subs: Subscribers,
    ) -> None:
        event_id = dead_event(db, dispatch)
        subs.broken = False
        callers = [
            TestClient(app, headers={"Authorization": f"Bearer {admin_token}"}) for _ in range(12)
        ]
        barrier = threading.Barrier(len(callers))
        results: list[Any] = [None] * len(callers)

        def call(i: int) -> None:
            barrier.wait()
            try:
                response = callers[i].post(f"/admin/outbox/events/{event_id}/retry")
                results[i] = (response.status_code, response.json().get("rearmed"))
            except Exception as exc:  # surfaced by the assertion below
                results[i] = exc

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(callers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

        assert sorted(results, key=str) == sorted(
            [(200, ["test.fragile"])] + [(200, [])] * (len(callers) - 1), key=str
        ), results
        assert get_event(admin, event_id)["manual_retries"] == 1
        assert dispatch() == 1
        assert subs.count("fragile", event_id) == MAX_ATTEMPTS + 1
        assert subs.count("steady", event_id) == 1
        assert get_event(admin, event_id)["state"] == "delivered"


@pytest.mark.usefixtures("subs")
class TestAccess:
    ROUTES = (
        ("GET", "/admin/outbox/events"),
        ("GET", "/admin/outbox/events/{id}"),
        ("POST", "/admin/outbox/events/{id}/retry"),
    )

    @pytest.mark.parametrize(("method", "path"), ROUTES)
    def test_partner_gets_403_and_anonymous_401(
        self,
        method: str,
        path: str,
        admin: TestClient,
        client: TestClient,
        db: Database,
        dispatch: Callable[[], int],
    ) -> None:
        event_id = dead_event(db, dispatch)
        url = path.format(id=event_id)
        partner = create_partner(admin, client)
        assert_problem(client.request(method, url, headers=partner.headers), 403, "admin_only")
        assert_problem(client.request(method, url), 401, "not_authenticated")
        assert_problem(client.request(method, url, headers={"Authorization": "Bearer forged"}), 401)
        # Neither call changed anything.
        assert get_event(admin, event_id)["state"] == "dead"
        assert admin.request(method, url).status_code == 200


def _outbox_operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_dict(app.openapi())
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if op.path.startswith("/admin/outbox")]


class TestFuzz:
    def test_every_outbox_operation_is_documented(self, app: FastAPI) -> None:
        assert sorted((op.method.upper(), op.path) for op in _outbox_operations(app)) == [
            ("GET", "/admin/outbox/events"),
            ("GET", "/admin/outbox/events/{event_id}"),
            ("POST", "/admin/outbox/events/{event_id}/retry"),
        ]

    @pytest.mark.parametrize("index", range(3))
    def test_generated_requests_never_fail_with_5xx(
        self, app: FastAPI, admin: TestClient, db: Database, index: int
    ) -> None:
        emit_event(db)
        operation = _outbox_operations(app)[index]
        failures: list[tuple[str, str, Any, int]] = []

        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = admin.request(case.method, case.formatted_path, params=case.query)
            if response.status_code >= 500:
                failures.append(
                    (case.method, case.formatted_path, case.query, response.status_code)
                )

        run()
        assert failures == []
