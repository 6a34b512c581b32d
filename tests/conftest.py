"""Shared fixtures: a fresh real database per test (SQLite file, or PostgreSQL when
``ATELIER_TEST_DATABASE_URL`` is set), the real app, a frozen clock, authenticated clients."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

import atelier.models  # noqa: F401  (registers every table)
from atelier.app import create_app
from atelier.platform import clock as clock_module
from atelier.platform import outbox
from atelier.platform.clock import FrozenClock, SystemClock
from atelier.platform.db import Base, Database
from atelier.platform.settings import Settings
from tests import log_guard
from tests.live import LiveServer

pytest_plugins = ["pytester"]

PG_URL = os.environ.get("ATELIER_TEST_DATABASE_URL")
# A Monday, 10:00 in Asia/Kolkata.
T0 = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
ADMIN_EMAIL = "ops@atelier.test"
ADMIN_PASSWORD = "correct horse battery staple"


def pytest_report_header() -> str:
    return f"atelier database: {'postgresql' if PG_URL else 'sqlite'}"


@pytest.fixture(scope="session", autouse=True)
def _production_logging() -> None:
    """INFO and the real formatters for the whole session (see ``tests/log_guard.py``)."""
    log_guard.install()


@pytest.fixture(autouse=True)
def _log_calls_must_not_fail(_production_logging: None) -> Iterator[None]:
    """Fail the test when a log call it caused raised, even if the code swallowed the error."""
    log_guard.ensure_installed()
    seen = len(log_guard.FAILURES)
    yield
    failures = log_guard.FAILURES[seen:]
    del log_guard.FAILURES[seen:]
    log_guard.ensure_installed()
    if failures:
        pytest.fail("a log call failed:\n" + "\n".join(failures[:20]), pytrace=False)


@pytest.fixture(scope="session")
def _schema(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Build the schema once; return the URL (PostgreSQL) or template file (SQLite)."""
    if PG_URL:
        db = Database(PG_URL)
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        db.dispose()
        return PG_URL
    template = tmp_path_factory.mktemp("schema") / "template.db"
    db = Database(f"sqlite:///{template}")
    Base.metadata.create_all(db.engine)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return str(template)


def _truncate_all(db: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(_schema: str, tmp_path: Path) -> str:
    if PG_URL:
        return PG_URL
    target = tmp_path / "atelier.db"
    shutil.copyfile(_schema, target)
    return f"sqlite:///{target}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=20)
    if PG_URL:
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session on the test database, rolled back and closed after the test."""
    session = db.new_session()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture(autouse=True)
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(T0)
    clock_module.use_clock(frozen)
    yield frozen
    clock_module.use_clock(SystemClock())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="test-secret-key-0123456789abcdef-0123456789",
        webhook_secret="test-webhook-secret",
        bootstrap_admin_email=ADMIN_EMAIL,
        bootstrap_admin_password=ADMIN_PASSWORD,
        embedded_worker=False,
        storage_dir=tmp_path / "media",
        public_base_url="http://testserver",
    )


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[FastAPI]:
    outbox.clear_wakeups()
    application = create_app(settings, database=db, start_background=False)
    yield application
    outbox.clear_wakeups()


@pytest.fixture
def uvicorn_url(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn server on a free port (in a thread of this process)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=True)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(3000):  # up to a minute on a loaded machine
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Anonymous client; entering it runs the lifespan (bootstrap admin)."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def live(settings: Settings, database_url: str, client: TestClient) -> Iterator[LiveServer]:
    """The real app behind a real uvicorn server in a thread (one event loop, one worker-thread
    pool, as ``atelier serve``), over its own small pool (5 connections + 10 overflow), so a
    burst of 100 callers exceeds both the pool and the worker threads."""
    database = Database(database_url, pool_size=5)
    application = create_app(settings, database=database, start_background=False)
    try:
        with LiveServer(application) as server:
            yield server
    finally:
        database.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_token(client: TestClient) -> str:
    response = client.post(
        "/auth/admin/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
def admin(app: FastAPI, client: TestClient, admin_token: str) -> TestClient:
    """A client that sends the bootstrap admin's bearer token."""
    return TestClient(app, headers=bearer(admin_token), raise_server_exceptions=False)


@pytest.fixture
def drain(db: Database) -> Callable[[], int]:
    """Deliver every due outbox event now (what the worker does in the background)."""
    from atelier.platform.dispatcher import OutboxDispatcher

    dispatcher = OutboxDispatcher(db, worker_id="test")

    def _drain() -> int:
        return dispatcher.drain(raise_errors=True)

    return _drain


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is problem+json with ``status`` (and ``code`` when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` are skipped on SQLite."""
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set ATELIER_TEST_DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres_only"):
            item.add_marker(skip)
