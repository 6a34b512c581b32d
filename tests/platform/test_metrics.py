"""GET /metrics: Prometheus text, request counts/latency by route template, outbox and scheduler
gauges from the database, pool in use, and who may scrape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.orm import Session

from atelier.app import create_app
from atelier.platform import outbox
from atelier.platform.clock import FrozenClock
from atelier.platform.db import Database
from atelier.platform.dispatcher import OutboxDispatcher
from atelier.platform.housekeeping import PRUNE_JOB
from atelier.platform.metrics import UNMATCHED
from atelier.platform.models import ScheduledSlot
from atelier.platform.outbox import Event, SubscriberRegistry, emit
from atelier.platform.settings import Settings
from tests.conftest import assert_problem, bearer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
TOKEN = "scrape-token-0123456789"


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scraper(app: FastAPI, client: TestClient) -> Iterator[TestClient]:
    """A client connecting from loopback (the lifespan already ran through ``client``)."""
    with TestClient(app, client=("127.0.0.1", 40000), raise_server_exceptions=False) as local:
        yield local


def scrape(scraper: TestClient) -> Samples:
    response = scraper.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


class TestHttpMetrics:
    def test_requests_are_counted_by_route_template_and_status(
        self, admin: TestClient, client: TestClient, scraper: TestClient
    ) -> None:
        before = scrape(scraper)
        for _ in range(3):
            assert client.get("/health").status_code == 200
        for run_id in ("prod_run_a", "prod_run_b", "prod_run_c", "prod_run_d"):
            assert admin.get(f"/admin/production-runs/{run_id}").status_code == 404
        assert client.get("/no/such/path/123").status_code == 404
        assert client.get("/no/such/path/456").status_code == 404
        after = scrape(scraper)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        requests = "atelier_http_requests_total"
        assert delta(requests, method="GET", route="/health", status="200") == 3
        template = "/admin/production-runs/{run_id}"
        assert delta(requests, method="GET", route=template, status="404") == 4
        assert delta(requests, method="GET", route=UNMATCHED, status="404") == 2
        # No series carries a raw id or an unknown path.
        assert not [key for key in after if any("prod_run_" in v for _, v in key[1])]
        assert not [key for key in after if any("/no/such" in v for _, v in key[1])]

        histogram = "atelier_http_request_duration_seconds"
        assert delta(f"{histogram}_count", method="GET", route="/health", status="200") == 3
        assert delta(f"{histogram}_sum", method="GET", route="/health", status="200") > 0
        assert (
            delta(f"{histogram}_bucket", method="GET", route="/health", status="200", le="+Inf")
            == 3
        )

    def test_a_refused_body_counts_under_its_route(
        self, admin: TestClient, scraper: TestClient, settings: Settings
    ) -> None:
        before = scrape(scraper)
        big = b"x" * (settings.request_max_bytes + 1)
        response = admin.post(
            "/admin/partners", content=big, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        after = scrape(scraper)
        key = {"method": "POST", "route": "/admin/partners", "status": "413"}
        assert (
            value(after, "atelier_http_requests_total", **key)
            - value(before, "atelier_http_requests_total", **key)
            == 1
        )

    def test_labels_for_unrouted_requests_come_from_the_route_tree(
        self, app: FastAPI, client: TestClient, scraper: TestClient, admin: TestClient
    ) -> None:
        """The templates an unrouted request is labelled with are the OpenAPI document's paths,
        read from the route tree: the first 404 does not build the whole document."""
        from atelier.platform.metrics import _documented_templates

        documented = set(app.openapi()["paths"])
        assert {template for _, template in _documented_templates(app)} == documented

        def refuse() -> dict[str, object]:
            raise AssertionError("labelling a request must not build the OpenAPI document")

        app.openapi = refuse  # type: ignore[method-assign]
        try:
            assert client.get("/favicon.ico").status_code == 404
            assert admin.get("/no/such/path").status_code == 404
        finally:
            del app.openapi
        samples = scrape(scraper)
        key = {"method": "GET", "route": "<unmatched>", "status": "404"}
        assert value(samples, "atelier_http_requests_total", **key) >= 2

    def test_unknown_methods_share_one_label(self, client: TestClient, scraper: TestClient) -> None:
        client.request("BREW", "/health")
        samples = scrape(scraper)
        assert not [key for key in samples if ("method", "BREW") in key[1]]
        assert (
            value(
                samples,
                "atelier_http_requests_total",
                method="other",
                route="/health",
                status="405",
            )
            >= 1
        )


class TestDatabaseGauges:
    def test_outbox_counts_and_oldest_pending_age(
        self, db: Database, clock: FrozenClock, scraper: TestClient
    ) -> None:
        samples = scrape(scraper)
        for state in ("pending", "failing", "dead"):
            assert value(samples, "atelier_outbox_events", state=state) == 0
        assert value(samples, "atelier_outbox_oldest_pending_age_seconds") == 0

        registry = SubscriberRegistry()

        def broken(session: Session, event: Event) -> None:
            raise RuntimeError("down")

        registry.register("test.broken", name="broken")(broken)
        with db.session() as session:
            emit(session, "test.broken", {})
        OutboxDispatcher(db, worker_id="m", registry=registry, max_attempts=1).drain()  # dead
        with db.session() as session:
            emit(session, "test.broken", {})
            emit(session, "nobody.listens", {})  # delivered: not counted
        OutboxDispatcher(db, worker_id="m", registry=registry, max_attempts=5).drain()  # failing
        with db.session() as session:
            emit(session, "test.pending", {})  # pending, as old as the failing one
        clock.advance(timedelta(minutes=3))
        with db.session() as session:
            emit(session, "test.pending", {})  # younger

        samples = scrape(scraper)
        assert value(samples, "atelier_outbox_events", state="pending") == 2
        assert value(samples, "atelier_outbox_events", state="failing") == 1
        assert value(samples, "atelier_outbox_events", state="dead") == 1
        # The oldest still-waiting event is three minutes old; the dead one does not count.
        assert value(samples, "atelier_outbox_oldest_pending_age_seconds") == 180
        assert value(samples, "atelier_database_up") == 1

    def test_scheduler_last_success_per_job(
        self, db: Database, clock: FrozenClock, scraper: TestClient
    ) -> None:
        assert ("atelier_scheduler_last_success_timestamp_seconds", (("job", PRUNE_JOB),)) not in (
            scrape(scraper)
        )
        ok_at = clock.now() + timedelta(seconds=42)
        with db.session() as session:
            session.add_all(
                [
                    ScheduledSlot(
                        job=PRUNE_JOB,
                        slot_at=clock.now() - timedelta(days=1),
                        claimed_by="w",
                        finished_at=clock.now() - timedelta(days=1),
                    ),
                    ScheduledSlot(
                        job=PRUNE_JOB, slot_at=clock.now(), claimed_by="w", finished_at=ok_at
                    ),
                    # A later slot that failed does not count as a success.
                    ScheduledSlot(
                        job=PRUNE_JOB,
                        slot_at=clock.now() + timedelta(days=1),
                        claimed_by="w",
                        finished_at=clock.now() + timedelta(days=1),
                        error="RuntimeError: disk full",
                    ),
                ]
            )
        samples = scrape(scraper)
        assert (
            value(samples, "atelier_scheduler_last_success_timestamp_seconds", job=PRUNE_JOB)
            == ok_at.timestamp()
        )

    def test_pool_in_use_counts_checked_out_connections(
        self, db: Database, scraper: TestClient
    ) -> None:
        idle = value(scrape(scraper), "atelier_db_pool_connections_in_use")
        held = [db.engine.connect() for _ in range(3)]
        try:
            samples = scrape(scraper)
        finally:
            for conn in held:
                conn.close()
        assert value(samples, "atelier_db_pool_connections_in_use") == idle + 3
        assert value(samples, "atelier_db_pool_size") == 20  # the test database's pool

    def test_dispatcher_counts_subscriber_runs_in_process(
        self, db: Database, scraper: TestClient
    ) -> None:
        before = scrape(scraper)
        registry = SubscriberRegistry()
        registry.register("test.counted", name="test.counted_sub")(lambda s, e: None)
        with db.session() as session:
            emit(session, "test.counted", {})
        OutboxDispatcher(db, worker_id="m", registry=registry).drain()
        after = scrape(scraper)
        key = {"subscriber": "test.counted_sub", "outcome": "delivered"}
        name = "atelier_outbox_subscriber_runs_total"
        assert value(after, name, **key) - value(before, name, **key) == 1
        finished = "atelier_outbox_events_finished_total"
        assert (
            value(after, finished, outcome="delivered")
            - value(before, finished, outcome="delivered")
            == 1
        )

    def test_an_unreachable_database_still_serves_process_metrics(self, settings: Settings) -> None:
        broken = Database("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=1)
        app = create_app(settings, database=broken, start_background=False)
        outbox.clear_wakeups()
        try:
            # No lifespan (it would need the database): only the scrape route is exercised.
            local = TestClient(app, client=("127.0.0.1", 40001), raise_server_exceptions=False)
            response = local.get("/metrics")
        finally:
            broken.dispose()
        assert response.status_code == 200, response.text
        samples = parse(response.text)
        assert value(samples, "atelier_database_up") == 0
        assert ("atelier_outbox_events", (("state", "pending"),)) not in samples
        assert any(name == "atelier_http_requests_total" for name, _ in samples)


class TestAccess:
    def test_non_loopback_clients_are_refused_without_a_token(self, client: TestClient) -> None:
        assert_problem(client.get("/metrics"), 403, "metrics_loopback_only")

    @pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1"])
    def test_loopback_clients_may_scrape_without_a_token(
        self, app: FastAPI, client: TestClient, host: str
    ) -> None:
        local = TestClient(app, client=(host, 40000), raise_server_exceptions=False)
        assert local.get("/metrics").status_code == 200

    def test_with_a_token_every_client_needs_it(self, settings: Settings, db: Database) -> None:
        guarded = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
        app = create_app(guarded, database=db, start_background=False)
        with TestClient(app, raise_server_exceptions=False) as remote:
            assert_problem(remote.get("/metrics"), 401, "metrics_token_required")
            assert_problem(
                remote.get("/metrics", headers=bearer("wrong")), 401, "metrics_token_required"
            )
            assert_problem(remote.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}), 401)
            assert remote.get("/metrics", headers=bearer(TOKEN)).status_code == 200
            local = TestClient(app, client=("127.0.0.1", 1), raise_server_exceptions=False)
            assert_problem(local.get("/metrics"), 401, "metrics_token_required")
        outbox.clear_wakeups()

    def test_metrics_is_not_in_the_openapi_document(self, client: TestClient) -> None:
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]


class TestOpenTelemetry:
    """FastAPI's native OpenTelemetry is off unless ``ATELIER_OPENTELEMETRY`` turns it on."""

    def test_off_by_default_even_with_a_configured_provider(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from opentelemetry import trace

        # As if an operator had configured a global tracer provider: FastAPI would trace.
        monkeypatch.setattr(trace, "get_tracer_provider", lambda: object())
        assert app._native_telemetry.enabled() is False

    def test_the_setting_turns_it_on(
        self, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from opentelemetry import trace

        monkeypatch.setattr(trace, "get_tracer_provider", lambda: object())
        app = create_app(
            settings.model_copy(update={"opentelemetry": True}),
            database=db,
            start_background=False,
        )
        assert app._native_telemetry.enabled() is True


def test_http_stats_are_exact_under_threads_and_bucket_like_prometheus() -> None:
    """Eight threads answering 2,000 requests each: every count, sum and bucket is exact, an
    observation on a bound lands in that bound's bucket, and the in-progress gauge returns to
    where it was."""
    import threading

    from prometheus_client import REGISTRY

    from atelier.platform.metrics import HTTP_STATS

    key = ("GET", "/test/http-stats/{id}", "200")
    labels = dict(zip(("method", "route", "status"), key, strict=True))
    in_progress = REGISTRY.get_sample_value("atelier_http_requests_in_progress")

    def answer() -> None:
        for index in range(2000):
            HTTP_STATS.started()
            HTTP_STATS.finished(key, 0.005 if index % 2 else 0.2)

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def sample(name: str, **extra: str) -> float | None:
        return REGISTRY.get_sample_value(name, {**labels, **extra})

    assert sample("atelier_http_requests_total") == 16000
    histogram = "atelier_http_request_duration_seconds"
    assert sample(f"{histogram}_count") == 16000
    assert sample(f"{histogram}_sum") == pytest.approx(8000 * 0.005 + 8000 * 0.2)
    assert sample(f"{histogram}_bucket", le="0.005") == 8000
    assert sample(f"{histogram}_bucket", le="0.1") == 8000
    assert sample(f"{histogram}_bucket", le="0.25") == 16000
    assert sample(f"{histogram}_bucket", le="+Inf") == 16000
    assert REGISTRY.get_sample_value("atelier_http_requests_in_progress") == in_progress
