"""The embedded worker: dispatcher woken by commits, scheduler ticking, clean stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from atelier.platform import outbox
from atelier.platform.db import Database
from atelier.platform.outbox import Event, SubscriberRegistry, emit
from atelier.platform.scheduler import JobRegistry
from atelier.platform.settings import Settings
from atelier.platform.worker import EmbeddedWorker

WAIT = 20.0  # generous upper bound; never an assertion on speed


@pytest.fixture
def slow_poll(settings: Settings) -> Settings:
    # A poll interval far longer than the wait below: only a wake-up can deliver in time.
    return settings.model_copy(update={"worker_poll_interval": 60.0})


@pytest.fixture
def clean_wakeups() -> Iterator[None]:
    outbox.clear_wakeups()
    yield
    outbox.clear_wakeups()


@pytest.mark.usefixtures("clean_wakeups")
class TestEmbeddedWorker:
    def test_commit_wakes_the_dispatcher(self, db: Database, slow_poll: Settings) -> None:
        registry = SubscriberRegistry()
        delivered = threading.Event()

        def handler(session: Session, event: Event) -> None:
            delivered.set()

        registry.register("order.placed", name="s")(handler)
        worker = EmbeddedWorker(db, slow_poll, registry=registry, jobs=JobRegistry())
        worker.start()
        try:
            # Let the first (empty) dispatcher round pass so it is sleeping on the poll.
            threading.Event().wait(0.3)
            with db.session() as session:
                emit(session, "order.placed", {"order_id": "order_1"})
            assert delivered.wait(WAIT)
        finally:
            worker.stop()
        assert not worker.running

    def test_scheduler_thread_runs_due_jobs(self, db: Database, settings: Settings) -> None:
        jobs = JobRegistry()
        ran = threading.Event()

        def job(session: Session, slot: datetime) -> None:
            ran.set()

        jobs.register("every_minute", "* * * * *")(job)
        worker = EmbeddedWorker(db, settings, registry=SubscriberRegistry(), jobs=jobs)
        worker.start()
        try:
            assert ran.wait(WAIT)
        finally:
            worker.stop()
        assert not worker.running

    def test_stop_is_prompt_and_idempotent(self, db: Database, settings: Settings) -> None:
        worker = EmbeddedWorker(db, settings, registry=SubscriberRegistry(), jobs=JobRegistry())
        worker.start()
        worker.stop()
        worker.stop()
        assert not worker.running


@pytest.mark.usefixtures("clean_wakeups")
class TestAppLifespan:
    def test_app_with_embedded_worker_delivers_events_committed_by_requests(
        self, settings: Settings, db: Database
    ) -> None:
        from fastapi.testclient import TestClient

        from atelier.app import create_app

        delivered = threading.Event()

        def handler(session: Session, event: Event) -> None:
            delivered.set()

        outbox.registry.register("platform.test_ping", name="tests.lifespan_ping")(handler)
        try:
            app = create_app(settings, database=db, start_background=True)
            with TestClient(app):
                with db.session() as session:
                    emit(session, "platform.test_ping", {})
                assert delivered.wait(WAIT)
        finally:
            outbox.registry.unregister("tests.lifespan_ping")
